"""Graders for chapter 06 (multi-task learning). Run them with: pytest chapters/06

Each test builds the same small network twice, once from your `kindling.multitask`
(over the answer key's chapters 01 to 05) and once from the answer key's, with the
same weights and inputs, and compares outputs, losses, every gradient (the learnable
loss weights' included) and the weights after a training epoch, with float32
tolerances.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import kindling.autograd as my_autograd
import kindling.data as my_data
import kindling.multitask as my_mt
import kindling.nn as my_nn
import kindling.optim as my_optim
import solutions.autograd as ref_autograd
import solutions.data as ref_data
import solutions.multitask as ref_mt
import solutions.nn as ref_nn
import solutions.optim as ref_optim
from grading.check import (
    assert_same_array,
    describe,
    expect_error,
    expect_message_naming,
    fail,
)

TASKS = ("digit", "angle")


class Side:
    """One implementation's modules: yours (MINE) or the answer key's (REF)."""

    def __init__(self, autograd: Any, nn: Any, mt: Any, data: Any, optim: Any) -> None:
        self.autograd, self.nn, self.mt, self.data, self.optim = autograd, nn, mt, data, optim

    def net(self, features: int = 6, hidden: int = 5) -> Any:
        """A trunk Linear + ReLU and two heads: digit scores (3 classes) and an angle."""
        nn = self.nn
        trunk = nn.Sequential(nn.Linear(features, hidden), nn.ReLU())
        heads = {"digit": nn.Linear(hidden, 3), "angle": nn.Linear(hidden, 1)}
        return self.mt.MultiTaskNet(trunk, heads)

    def losses(self) -> dict[str, Any]:
        nn = self.nn
        mse = nn.MSELoss()
        return {"digit": nn.CrossEntropyLoss(), "angle": lambda out, target: mse(out[:, 0], target)}


MINE = Side(my_autograd, my_nn, my_mt, my_data, my_optim)
REF = Side(ref_autograd, ref_nn, ref_mt, ref_data, ref_optim)


def random_array(shape, seed, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def same_weights(mine: Any, ref: Any) -> None:
    """Give your module the answer key's weights (state_dict keys must agree)."""
    state = {name: value.copy() for name, value in ref.state_dict().items()}
    mine.load_state_dict(state)


def batch(seed: int, n: int = 4) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    targets = {"digit": rng.integers(0, 3, n), "angle": rng.uniform(-45, 45, n).astype(np.float32)}
    return x, targets


def tensors(side: Side, x: np.ndarray, targets: dict[str, np.ndarray]) -> tuple[Any, dict]:
    return side.autograd.tensor(x), {k: side.autograd.tensor(v) for k, v in targets.items()}


def built_nets(seed: int) -> tuple[Any, Any]:
    ref_autograd.manual_seed(seed)
    ref = REF.net()
    mine = MINE.net()
    same_weights(mine, ref)
    return mine, ref


def compare_parameters(mine: Any, ref: Any, what: str, inputs: str, field: str = "grad") -> None:
    mine_params = dict(mine.named_parameters())
    for name, parameter in ref.named_parameters():
        if name not in mine_params:
            fail(f"{what}: your model has no parameter {name!r} (it has {sorted(mine_params)})")
        expected, got = getattr(parameter, field), getattr(mine_params[name], field)
        if expected is None:
            continue
        if got is None:
            why = "; no gradient reached it: is the graph cut (a Tensor rebuilt from .data)?"
            fail(f"{what}: {name}.{field} is None, expected an array ({inputs}){why}")
        assert_same_array(np.asarray(got), np.asarray(expected), f"{what}: {name}.{field}", inputs)


# ---------------------------------------------------------------------------
# Exercise 6.1: a shared trunk with named heads
# ---------------------------------------------------------------------------


@pytest.mark.exercise("6.1")
def test_heads_are_registered_by_name():
    mine, ref = built_nets(0)
    expected = list(ref.state_dict())
    got = list(mine.state_dict())
    if got != expected:
        fail(f"state_dict keys are {got}, expected {expected} (keep the heads in a ModuleDict)")


@pytest.mark.exercise("6.1")
@pytest.mark.parametrize("seed", [1, 2])
def test_forward_and_gradients_match(seed):
    mine, ref = built_nets(seed)
    x, _ = batch(seed)
    inputs = describe({"x": x}, seed)
    ref_out = ref(ref_autograd.tensor(x))
    my_out = mine(my_autograd.tensor(x))
    if not isinstance(my_out, dict) or list(my_out) != list(ref_out):
        shown = list(my_out) if isinstance(my_out, dict) else type(my_out).__name__
        fail(f"forward returned {shown}, expected a dict with keys {list(ref_out)}")
    for task in ref_out:
        assert_same_array(my_out[task].data, ref_out[task].data, f"outputs[{task!r}]", inputs)
    # Both heads' gradients meet in the shared trunk.
    (ref_out["digit"].sum() + 3 * ref_out["angle"].sum()).backward()
    (my_out["digit"].sum() + 3 * my_out["angle"].sum()).backward()
    compare_parameters(mine, ref, "after backward", inputs)


@pytest.mark.exercise("6.1")
def test_trunk_runs_once_per_forward():
    calls = []

    class CountingTrunk(my_nn.Module):
        def forward(self, x):
            calls.append(1)
            return x

    net = my_mt.MultiTaskNet(CountingTrunk(), {"a": my_nn.Identity(), "b": my_nn.Identity()})
    net(my_autograd.tensor(np.ones((2, 3), np.float32)))
    if len(calls) != 1:
        fail(f"the trunk ran {len(calls)} times for one forward with two heads: run it once")


@pytest.mark.exercise("6.1")
def test_no_heads_is_an_error():
    what = "MultiTaskNet(trunk, heads={})"
    error = expect_error(ValueError, what, my_mt.MultiTaskNet, my_nn.Identity(), {})
    expect_message_naming(error, what, "head")


# ---------------------------------------------------------------------------
# Exercise 6.2: rotated digits
# ---------------------------------------------------------------------------


@pytest.mark.exercise("6.2")
@pytest.mark.parametrize(
    ("shape", "degrees"), [((5, 5), 90.0), ((7, 6), 30.0), ((9, 9), -17.5), ((28, 28), 44.9)]
)
def test_rotate_matches(shape, degrees):
    image = np.abs(random_array(shape, shape[0]))
    inputs = describe({"image": image}, options={"degrees": degrees})
    given = image.copy()
    got = my_mt.rotate(given, degrees)
    assert_same_array(got, ref_mt.rotate(image.copy(), degrees), "rotate(image, degrees)", inputs)
    if not np.array_equal(given, image):
        fail(f"rotate(image, degrees) modified its input image in place ({inputs})")


@pytest.mark.exercise("6.2")
def test_rotate_by_a_right_angle_is_rot90():
    image = np.arange(20, dtype=np.float32).reshape(4, 5)[:, :4].copy()
    got = my_mt.rotate(image, 90.0)
    assert_same_array(got, np.rot90(image).copy(), "rotate(image, 90)", "a 4x4 ramp")


def digits_dataset(side: Side, count: int = 5) -> Any:
    rng = np.random.default_rng(3)
    images = np.abs(rng.standard_normal((count, 1, 8, 8))).astype(np.float32)
    labels = rng.integers(0, 10, count)
    return side.data.TensorDataset(side.autograd.tensor(images), side.autograd.tensor(labels))


@pytest.mark.exercise("6.2")
def test_rotated_digits_samples_match():
    mine = my_mt.RotatedDigits(digits_dataset(MINE), max_degrees=30.0, seed=7)
    ref = ref_mt.RotatedDigits(digits_dataset(REF), max_degrees=30.0, seed=7)
    for index in (3, 0, 4, 3):  # any order, and the same sample twice
        image, targets = mine[index]
        expected_image, expected = ref[index]
        what = f"RotatedDigits(max_degrees=30, seed=7)[{index}]"
        if not isinstance(image, my_autograd.Tensor):
            fail(f"{what}: the image is a {type(image).__name__}, expected a Tensor")
        assert_same_array(image.data, expected_image.data, f"{what}'s image", "8x8 images")
        if not isinstance(targets, dict) or set(targets) != {"digit", "angle"}:
            fail(f"{what}: targets {targets!r}, expected a dict with 'digit' and 'angle'")
        if type(targets["digit"]) is not int or targets["digit"] != expected["digit"]:
            fail(f"{what}: digit {targets['digit']!r}, expected the int {expected['digit']}")
        angle = np.asarray(targets["angle"])
        assert_same_array(angle, np.asarray(expected["angle"]), f"{what}: angle", "seed 7")


@pytest.mark.exercise("6.2")
def test_rotated_digits_rejects_flat_images():
    flat = my_data.TensorDataset(
        my_autograd.tensor(np.zeros((2, 8, 8), np.float32)), my_autograd.tensor(np.zeros(2))
    )
    what = "RotatedDigits(base)[0] with images of shape (8, 8), not (1, 8, 8)"
    error = expect_error(ValueError, what, my_mt.RotatedDigits(flat).__getitem__, 0)
    expect_message_naming(error, what, "(8, 8)")


@pytest.mark.exercise("6.2")
def test_rotated_digits_reads_tensors_and_plain_labels():
    """A base may yield Tensors (image and label) or an array and a Python int."""
    rng = np.random.default_rng(4)
    images = np.abs(rng.standard_normal((2, 1, 6, 6))).astype(np.float32)
    for form in ("Tensors", "an array and an int"):

        def base(side: Side, form: str = form) -> list:
            if form == "Tensors":
                return [
                    (side.autograd.tensor(images[i]), side.autograd.tensor(i + 3)) for i in range(2)
                ]
            return [(images[i], i + 3) for i in range(2)]

        mine = my_mt.RotatedDigits(base(MINE), max_degrees=40.0, seed=2)
        ref = ref_mt.RotatedDigits(base(REF), max_degrees=40.0, seed=2)
        for index in range(2):
            what = f"RotatedDigits(base yielding {form})[{index}]"
            image, targets = mine[index]
            expected_image, expected = ref[index]
            assert_same_array(
                np.asarray(image.data), expected_image.data, f"{what}'s image", "6x6 images"
            )
            if targets.get("digit") != expected["digit"] or type(targets["digit"]) is not int:
                fail(
                    f"{what}: digit {targets.get('digit')!r}, expected the int {expected['digit']}"
                )


@pytest.mark.exercise("6.2")
def test_rotated_digits_rejects_several_channels():
    colour = my_data.TensorDataset(
        my_autograd.tensor(np.zeros((2, 3, 8, 8), np.float32)), my_autograd.tensor(np.zeros(2))
    )
    what = "RotatedDigits(base)[0] with images of shape (3, 8, 8), not (1, 8, 8)"
    error = expect_error(ValueError, what, my_mt.RotatedDigits(colour).__getitem__, 0)
    expect_message_naming(error, what, "(3, 8, 8)")


# ---------------------------------------------------------------------------
# Exercise 6.3: fixed weights
# ---------------------------------------------------------------------------


def loss_case(seed: int) -> tuple[dict, dict, dict, dict, str]:
    """(my outputs, my targets, ref outputs, ref targets, inputs) from fresh leaf tensors."""
    rng = np.random.default_rng(seed)
    digit, angle = random_array((4, 3), seed), rng.uniform(-45, 45, (4, 1)).astype(np.float32)
    _, targets = batch(seed)
    mine = {
        "digit": my_autograd.tensor(digit, requires_grad=True),
        "angle": my_autograd.tensor(angle, requires_grad=True),
    }
    ref = {
        "digit": ref_autograd.tensor(digit, requires_grad=True),
        "angle": ref_autograd.tensor(angle, requires_grad=True),
    }
    inputs = describe({"digit scores": digit, "angle": angle}, seed)
    return (
        mine,
        tensors(MINE, np.zeros(1), targets)[1],
        ref,
        tensors(REF, np.zeros(1), targets)[1],
        inputs,
    )


def compare_losses(mine: Any, ref: Any, seed: int, what: str) -> None:
    my_out, my_targets, ref_out, ref_targets, inputs = loss_case(seed)
    ref_total, ref_parts = ref(ref_out, ref_targets)
    result = mine(my_out, my_targets)
    if not isinstance(result, tuple) or len(result) != 2:
        fail(f"{what} returned {type(result).__name__}, expected (total, parts)")
    total, parts = result
    assert_same_array(np.asarray(total.data), np.asarray(ref_total.data), f"{what}: total", inputs)
    for task, loss in ref_parts.items():
        if task not in parts:
            fail(f"{what}: parts has no {task!r}")
        assert_same_array(
            np.asarray(parts[task].data), np.asarray(loss.data), f"{what}: parts[{task!r}]", inputs
        )
    ref_total.backward()
    total.backward()
    for task in ref_out:
        assert_same_array(
            my_out[task].grad, ref_out[task].grad, f"{what}: gradient of outputs[{task!r}]", inputs
        )
    if hasattr(ref, "log_vars"):
        assert_same_array(mine.log_vars.grad, ref.log_vars.grad, f"{what}: log_vars.grad", inputs)


@pytest.mark.exercise("6.3")
@pytest.mark.parametrize("weights", [None, {"digit": 1.0, "angle": 0.01}, {"angle": 0.5}])
def test_weighted_loss_matches(weights):
    mine = my_mt.WeightedLoss(MINE.losses(), weights)
    ref = ref_mt.WeightedLoss(REF.losses(), weights)
    compare_losses(mine, ref, 4, f"WeightedLoss(weights={weights})")


@pytest.mark.exercise("6.3")
def test_a_missing_target_is_named():
    my_out, my_targets, *_ = loss_case(5)
    del my_targets["angle"]
    what = "WeightedLoss(losses)(outputs, targets) with no 'angle' in the targets"
    error = expect_error(KeyError, what, my_mt.WeightedLoss(MINE.losses()), my_out, my_targets)
    expect_message_naming(error, what, "angle")


@pytest.mark.exercise("6.3")
def test_a_head_without_a_loss_is_named():
    my_out, my_targets, *_ = loss_case(6)
    losses = MINE.losses()
    del losses["digit"]
    what = "WeightedLoss(losses)(outputs, targets) with an output 'digit' but no loss for it"
    error = expect_error(KeyError, what, my_mt.WeightedLoss(losses), my_out, my_targets)
    expect_message_naming(error, what, "digit")


@pytest.mark.exercise("6.3")
def test_missing_task_errors_say_what_lacks_it():
    """check_tasks names the task and what lacks it: the targets, or the losses."""
    my_out, my_targets, *_ = loss_case(7)
    del my_targets["angle"]
    what = "WeightedLoss(losses)(outputs, targets) with no 'angle' in the targets"
    error = expect_error(KeyError, what, my_mt.WeightedLoss(MINE.losses()), my_out, my_targets)
    expect_message_naming(error, what, "angle", "target")
    my_out, my_targets, *_ = loss_case(7)
    losses = MINE.losses()
    del losses["digit"]
    what = "WeightedLoss(losses)(outputs, targets) with an output 'digit' but no loss for it"
    error = expect_error(KeyError, what, my_mt.WeightedLoss(losses), my_out, my_targets)
    expect_message_naming(error, what, "digit", "loss")


# ---------------------------------------------------------------------------
# Exercise 6.4: uncertainty weighting
# ---------------------------------------------------------------------------

KINDS = {"digit": "classification", "angle": "regression"}


@pytest.mark.exercise("6.4")
@pytest.mark.parametrize("log_vars", [(0.0, 0.0), (0.7, -1.3), (-2.0, 4.0)])
def test_uncertainty_loss_and_its_gradients_match(log_vars):
    mine = my_mt.UncertaintyWeightedLoss(MINE.losses(), KINDS)
    ref = ref_mt.UncertaintyWeightedLoss(REF.losses(), KINDS)
    mine.log_vars.data[...] = log_vars
    ref.log_vars.data[...] = log_vars
    compare_losses(mine, ref, 7, f"UncertaintyWeightedLoss with log_vars={list(log_vars)}")


@pytest.mark.exercise("6.4")
def test_log_vars_are_a_parameter_starting_at_zero():
    mine = my_mt.UncertaintyWeightedLoss(MINE.losses(), KINDS)
    ref = ref_mt.UncertaintyWeightedLoss(REF.losses(), KINDS)
    what = "UncertaintyWeightedLoss(losses, kinds) as built"
    listed = [name for name, _ in mine.named_parameters()]
    log_vars = getattr(mine, "log_vars", None)
    if not isinstance(log_vars, my_nn.Parameter) or not any(
        p is log_vars for p in mine.parameters()
    ):
        fail(
            f"{what}: log_vars must be a Parameter, so that criterion.parameters() lists it "
            f"for the optimizer (a plain Tensor is never trained); parameters() lists {listed}"
        )
    assert_same_array(log_vars.data, ref.log_vars.data, f"{what}: log_vars", "zeros at first")
    compare_losses(mine, ref, 10, f"{what} (log_vars as initialised)")


@pytest.mark.exercise("6.4")
def test_both_kinds_on_one_task():
    for kind in ("classification", "regression"):
        mine = my_mt.UncertaintyWeightedLoss({"angle": MINE.losses()["angle"]}, {"angle": kind})
        ref = ref_mt.UncertaintyWeightedLoss({"angle": REF.losses()["angle"]}, {"angle": kind})
        mine.log_vars.data[...] = 0.4
        ref.log_vars.data[...] = 0.4
        my_out, my_targets, ref_out, ref_targets, inputs = loss_case(8)
        del my_out["digit"], ref_out["digit"]
        total, _ = mine(my_out, my_targets)
        expected, _ = ref(ref_out, ref_targets)
        what = f"UncertaintyWeightedLoss, one {kind} task, log_var 0.4: total"
        assert_same_array(np.asarray(total.data), np.asarray(expected.data), what, inputs)


@pytest.mark.exercise("6.4")
def test_task_weights():
    mine = my_mt.UncertaintyWeightedLoss(MINE.losses(), KINDS)
    ref = ref_mt.UncertaintyWeightedLoss(REF.losses(), KINDS)
    mine.log_vars.data[...] = (0.5, -1.0)
    ref.log_vars.data[...] = (0.5, -1.0)
    got, expected = mine.task_weights(), ref.task_weights()
    if set(got) != set(expected) or any(
        not np.isclose(got[task], expected[task], rtol=1e-5) for task in expected
    ):
        fail(f"task_weights() = {got}, expected {expected} (log_vars = [0.5, -1.0])")


@pytest.mark.exercise("6.4")
def test_a_task_without_an_output_is_skipped_not_the_rest():
    """The first task in `kinds` ('digit') has no output: skip it, and add the others."""
    mine = my_mt.UncertaintyWeightedLoss(MINE.losses(), KINDS)
    ref = ref_mt.UncertaintyWeightedLoss(REF.losses(), KINDS)
    mine.log_vars.data[...] = (0.3, -0.6)
    ref.log_vars.data[...] = (0.3, -0.6)
    my_out, my_targets, ref_out, ref_targets, inputs = loss_case(10)
    del my_out["digit"], ref_out["digit"]
    total, _ = mine(my_out, my_targets)
    expected, _ = ref(ref_out, ref_targets)
    what = "UncertaintyWeightedLoss(kinds digit, angle) with outputs for 'angle' only: total"
    assert_same_array(np.asarray(total.data), np.asarray(expected.data), what, inputs)


# ---------------------------------------------------------------------------
# Exercise 6.5: dynamic weight average
# ---------------------------------------------------------------------------

EPOCH_LOSSES = [
    {"digit": 2.3, "angle": 700.0},
    {"digit": 1.1, "angle": 650.0},
    {"digit": 0.6, "angle": 300.0},
    {"digit": 0.55, "angle": 290.0},
]


@pytest.mark.exercise("6.5")
@pytest.mark.parametrize("temperature", [2.0, 0.5])
def test_weights_follow_the_loss_ratios(temperature):
    mine = my_mt.DynamicWeightAverage(TASKS, temperature)
    ref = ref_mt.DynamicWeightAverage(TASKS, temperature)
    for epoch, losses in enumerate([None, *EPOCH_LOSSES]):
        if losses is not None:
            mine.end_epoch(losses)
            ref.end_epoch(losses)
        got, expected = mine.weights(), ref.weights()
        if set(got) != set(expected) or any(
            not np.isclose(got[t], expected[t], rtol=1e-6) for t in expected
        ):
            fail(
                f"weights() after {epoch} recorded epoch(s) = {got}, expected {expected} "
                f"(temperature {temperature}, losses {EPOCH_LOSSES[:epoch]})"
            )


@pytest.mark.exercise("6.5")
def test_huge_rates_do_not_overflow():
    mine = my_mt.DynamicWeightAverage(TASKS, temperature=0.01)
    mine.end_epoch({"digit": 1.0, "angle": 1.0})
    mine.end_epoch({"digit": 50.0, "angle": 1.0})
    with np.errstate(over="raise", invalid="raise"):
        try:
            weights = mine.weights()
        except FloatingPointError as error:
            fail(f"weights() overflowed for a rate of 50 at temperature 0.01: {error}")
    if not np.isclose(sum(weights.values()), 2.0) or not np.isclose(weights["digit"], 2.0):
        fail(f"weights() = {weights}: expected about 2 for digit and 0 for angle")


@pytest.mark.exercise("6.5")
def test_end_epoch_records_the_values_not_the_dict():
    mine = my_mt.DynamicWeightAverage(TASKS)
    ref = ref_mt.DynamicWeightAverage(TASKS)
    losses = {"total": 6.0, "digit": 2.0, "angle": 4.0}  # as train_epoch returns them
    for dwa in (mine, ref):
        dwa.end_epoch(losses)
    losses.update(total=5.0, digit=1.0)  # the caller reuses its dict for the next epoch
    for dwa in (mine, ref):
        dwa.end_epoch(losses)
    got, expected = mine.weights(), ref.weights()
    if set(got) != set(expected) or any(
        not np.isclose(got[t], expected[t], rtol=1e-6) for t in expected
    ):
        fail(
            f"weights() = {got}, expected {expected} after end_epoch(losses), losses['digit'] "
            "changed from 2.0 to 1.0, end_epoch(losses): record the values, not the caller's dict"
        )


@pytest.mark.exercise("6.5")
def test_an_epoch_without_a_task_is_named():
    what = "DynamicWeightAverage(['digit', 'angle']).end_epoch({'digit': 1.0})"
    dwa = my_mt.DynamicWeightAverage(TASKS)
    error = expect_error(KeyError, what, dwa.end_epoch, {"digit": 1.0})
    expect_message_naming(error, what, "angle")


@pytest.mark.exercise("6.5")
def test_a_missing_loss_error_says_the_losses_lack_it():
    what = "DynamicWeightAverage(['digit', 'angle']).end_epoch({'digit': 1.0})"
    dwa = my_mt.DynamicWeightAverage(TASKS)
    error = expect_error(KeyError, what, dwa.end_epoch, {"digit": 1.0})
    expect_message_naming(error, what, "angle", "loss")


# ---------------------------------------------------------------------------
# Exercise 6.6: training and evaluation per task
# ---------------------------------------------------------------------------


def loader(side: Side, seed: int, batch_size: int = 4) -> Any:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((10, 6)).astype(np.float32)
    digits, angles = rng.integers(0, 3, 10), rng.uniform(-45, 45, 10).astype(np.float32)

    class Samples(side.data.Dataset):
        def __len__(self) -> int:
            return 10

        def __getitem__(self, i: int) -> Any:
            return x[i], {"digit": int(digits[i]), "angle": angles[i]}

    return side.data.DataLoader(Samples(), batch_size=batch_size)


@pytest.mark.exercise("6.6")
def test_one_epoch_matches():
    mine, ref = built_nets(9)
    results = []
    for side, net in ((REF, ref), (MINE, mine)):
        criterion = side.mt.WeightedLoss(side.losses(), {"digit": 1.0, "angle": 0.01})
        optimizer = side.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        results.append(side.mt.train_epoch(net, loader(side, 10), criterion, optimizer))
    expected, got = results
    inputs = "10 samples in batches of 4, 4 and 2; SGD lr 0.05 momentum 0.9; seed 9"
    if not isinstance(got, dict) or set(got) != set(expected):
        fail(f"train_epoch returned {got!r}, expected a dict with keys {sorted(expected)}")
    for key, value in expected.items():
        if not np.isclose(got[key], value, rtol=1e-4):
            fail(
                f"train_epoch's mean {key!r} loss is {got[key]:.6g}, expected {value:.6g} ({inputs})"
            )
    if not mine.training:
        fail("train_epoch left the model in evaluation mode: call model.train()")
    compare_parameters(mine, ref, "after one epoch", inputs, field="data")


@pytest.mark.exercise("6.6")
def test_evaluate_names_a_missing_task():
    mine, _ = built_nets(13)
    metrics = {"digit": ref_mt.accuracy, "colour": ref_mt.accuracy}
    what = "evaluate(model with heads 'digit' and 'angle', loader, metrics for 'digit', 'colour')"
    error = expect_error(KeyError, what, my_mt.evaluate, mine, loader(MINE, 14), metrics)
    expect_message_naming(error, what, "colour")
    batches = [(images, {"digit": targets["digit"]}) for images, targets in loader(MINE, 14)]
    metrics = {"digit": ref_mt.accuracy, "angle": ref_mt.mean_absolute_error}
    what = "evaluate(model, batches whose targets have no 'angle', metrics for 'digit', 'angle')"
    error = expect_error(KeyError, what, my_mt.evaluate, mine, batches, metrics)
    expect_message_naming(error, what, "angle")


@pytest.mark.exercise("6.6")
def test_evaluate_matches_and_records_no_graph():
    mine, ref = built_nets(11)
    seen = []  # (training, grad enabled) each time your model's trunk runs

    class Watched(my_nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            seen.append((self.training, my_autograd.is_grad_enabled()))
            return self.inner(x)

    mine.trunk = Watched(mine.trunk)
    kinds = []

    def checked(metric):
        def call(outputs, targets):
            kinds.append((type(outputs).__name__, type(targets).__name__))
            return metric(np.asarray(getattr(outputs, "data", outputs)), np.asarray(targets))

        return call

    metrics = {"digit": ref_mt.accuracy, "angle": ref_mt.mean_absolute_error}
    expected = ref_mt.evaluate(ref, loader(REF, 12, batch_size=3), metrics)
    mine.train()
    got = my_mt.evaluate(
        mine, loader(MINE, 12, batch_size=3), {k: checked(v) for k, v in metrics.items()}
    )
    if any(kind != ("ndarray", "ndarray") for kind in kinds):
        fail(f"evaluate must give the metrics NumPy arrays, it gave {kinds[0]}")
    for task, value in expected.items():
        if (
            not isinstance(got, dict)
            or task not in got
            or not np.isclose(got[task], value, rtol=1e-5)
        ):
            shown = got.get(task) if isinstance(got, dict) else got
            fail(f"evaluate's {task!r} metric is {shown}, expected {value:.6g} (10 samples)")
    if any(training for training, _ in seen):
        fail("evaluate ran the model in training mode: call model.eval()")
    if any(grad for _, grad in seen):
        fail("evaluate recorded a graph: run the model under no_grad()")


@pytest.mark.exercise("6.6")
def test_train_epoch_switches_to_training_mode():
    mine, _ = built_nets(15)
    mine.eval()
    criterion = my_mt.WeightedLoss(MINE.losses())
    optimizer = my_optim.SGD(mine.parameters(), lr=0.01)
    my_mt.train_epoch(mine, loader(MINE, 16), criterion, optimizer)
    if not mine.training:
        fail("train_epoch on a model left in evaluation mode kept it there: call model.train()")


@pytest.mark.exercise("6.6")
def test_evaluate_errors_say_what_lacks_the_task():
    """check_tasks names what lacks the task: the model's outputs, or the targets."""
    mine, _ = built_nets(13)
    metrics = {"digit": ref_mt.accuracy, "colour": ref_mt.accuracy}
    what = "evaluate(model with heads 'digit' and 'angle', loader, metrics for 'digit', 'colour')"
    error = expect_error(KeyError, what, my_mt.evaluate, mine, loader(MINE, 14), metrics)
    expect_message_naming(error, what, "colour", "output")
    batches = [(images, {"digit": targets["digit"]}) for images, targets in loader(MINE, 14)]
    metrics = {"digit": ref_mt.accuracy, "angle": ref_mt.mean_absolute_error}
    what = "evaluate(model, batches whose targets have no 'angle', metrics for 'digit', 'angle')"
    error = expect_error(KeyError, what, my_mt.evaluate, mine, batches, metrics)
    expect_message_naming(error, what, "angle", "target")


@pytest.mark.exercise("6.6")
def test_evaluate_returns_python_floats():
    mine, _ = built_nets(17)
    metrics = {"digit": lambda outputs, targets: np.float32(0.25)}
    got = my_mt.evaluate(mine, loader(MINE, 18), metrics)
    value = got.get("digit") if isinstance(got, dict) else got
    if type(value) is not float:
        fail(
            f"evaluate with a metric that returns np.float32(0.25) gave {value!r}: "
            "turn each metric's result into a Python float"
        )
