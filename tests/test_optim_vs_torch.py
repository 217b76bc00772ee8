"""The chapter 03 answer key agrees with real PyTorch: optimizers, schedulers, clipping.

`solutions/optim.py` claims the update rules of `torch.optim`. These tests hold it to that:
the same starting weights go to a kindling optimizer and to a torch optimizer, each library
gets the gradient of one fixed nonlinear loss at its own current weights (computed here in
NumPy, so both see the same function), and after every one of 50 steps the weights must
agree: to float32 tolerance in float32, and to 1e-10 relative in float64, where the only
differences left are the order of floating-point operations.

What is covered:

1. SGD, Adam and AdamW over a grid of options (momentum, dampening, nesterov,
   weight_decay, betas, eps, amsgrad), with parameter groups, and with a parameter that
   misses its gradient on some steps;
2. every scheduler driving an SGD optimizer, `get_last_lr()` compared at every step,
   plus resuming StepLR and MultiStepLR from `last_epoch`;
3. `state_dict()`: the same format and values as torch's; saving after 10 steps and
   loading into a fresh optimizer continues exactly; a torch state dict, converted to
   NumPy, loads into kindling and continues like torch;
4. `clip_grad_norm_` and `clip_grad_value_` against `torch.nn.utils`'s;
5. the options torch rejects are rejected with the same ValueError message.

A difference here is a bug in the answer key (or a documented departure from torch).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

import solutions.autograd as kd
import solutions.optim as ko

torch = pytest.importorskip(
    "torch", reason="PyTorch is the oracle for these cross-checks: pip install -e '.[torch]'"
)

TOLERANCES = {
    np.float32: {"rtol": 1e-5, "atol": 1e-6},
    np.float64: {"rtol": 1e-10, "atol": 1e-12},
}
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
SHAPES = [(4, 3), (5,), (2, 3)]
STEPS = 50


# ---------------------------------------------------------------------------
# One problem, two libraries
# ---------------------------------------------------------------------------


class Problem:
    """A robust regression per parameter, nonconvex and nonlinear in x:

        f(x) = sum(log(1 + r^2)) + 0.05 |x|^2,   r = A vec(x) - b
        grad = A^T (2 r / (1 + r^2)) + 0.1 x

    computed in float64 and cast to the parameters' dtype. Parameter 2 gets no gradient
    on every fourth step, like a layer that a batch did not use.
    """

    def __init__(self, seed: int, dtype: Any) -> None:
        rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.start = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
        self.matrices = [
            rng.standard_normal((x.size + 2, x.size)) / np.sqrt(x.size) for x in self.start
        ]
        self.targets = [rng.standard_normal(x.size + 2) * 2 for x in self.start]

    def gradient(self, index: int, x: np.ndarray) -> np.ndarray:
        a, b = self.matrices[index], self.targets[index]
        flat = x.astype(np.float64).ravel()
        r = a @ flat - b
        g = a.T @ (2 * r / (1 + r * r)) + 0.1 * flat
        return g.reshape(x.shape).astype(self.dtype)

    def has_gradient(self, index: int, step: int) -> bool:
        return not (index == 2 and step % 4 == 2)

    def kindling_params(self) -> list:
        return [kd.Tensor(x.copy(), requires_grad=True) for x in self.start]

    def torch_params(self) -> list:
        return [torch.tensor(x.copy(), requires_grad=True) for x in self.start]

    def set_gradients(self, kd_params: list, torch_params: list, step: int) -> None:
        for i, (k, t) in enumerate(zip(kd_params, torch_params, strict=True)):
            if self.has_gradient(i, step):
                k.grad = self.gradient(i, k.data)
                t.grad = torch.from_numpy(self.gradient(i, t.detach().numpy()))
            else:
                k.grad, t.grad = None, None


def param_spec(params: list, groups: list | None):
    """All parameters, or groups [(indices, options), ...] over them."""
    if groups is None:
        return list(params)
    return [{"params": [params[i] for i in indices], **options} for indices, options in groups]


def assert_close(what: str, got: np.ndarray, expected, tolerance: dict) -> None:
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype}, torch {expected.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, torch {expected.shape}"
    close = np.isclose(got, expected, **tolerance)
    if not close.all():
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        pytest.fail(
            f"{what} differs first at index {index}: kindling {got[index].item()!r}, torch "
            f"{expected[index].item()!r} ({np.count_nonzero(~close)} of {close.size} elements "
            f"differ beyond {tolerance})",
            pytrace=False,
        )


def assert_same_weights(what: str, kd_params: list, torch_params: list, dtype: Any) -> None:
    for i, (k, t) in enumerate(zip(kd_params, torch_params, strict=True)):
        assert_close(f"{what}: parameter {i}", k.data, t, TOLERANCES[dtype])


def run_side_by_side(name: str, options: dict, groups: list | None, dtype: Any, seed: int = 0):
    problem = Problem(seed, dtype)
    kd_params, torch_params = problem.kindling_params(), problem.torch_params()
    kd_opt = getattr(ko, name)(param_spec(kd_params, groups), **options)
    torch_opt = getattr(torch.optim, name)(param_spec(torch_params, groups), **options)
    arrays = [p.data for p in kd_params]
    for step in range(1, STEPS + 1):
        problem.set_gradients(kd_params, torch_params, step)
        kd_opt.step()
        torch_opt.step()
        assert_same_weights(f"{name}({options}) step {step}", kd_params, torch_params, dtype)
    assert all(p.data is a for p, a in zip(kd_params, arrays, strict=True)), "not in place"
    return kd_opt, torch_opt, kd_params, torch_params


# ---------------------------------------------------------------------------
# 1. Optimizers
# ---------------------------------------------------------------------------

TWO_GROUPS = [((0,), {"lr": 0.02}), ((1, 2), {})]
OPTIMIZER_CASES = [
    ("SGD", {}, None),
    ("SGD", {"lr": 0.1}, None),
    ("SGD", {"lr": 0.05, "dampening": 0.5}, None),  # dampening without momentum: no effect
    ("SGD", {"lr": 0.05, "momentum": 0.9}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}, None),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.5},
     [((0,), {"lr": 0.02, "momentum": 0.9, "nesterov": True}), ((1, 2), {"weight_decay": 0.1})]),
    ("Adam", {}, None),
    ("Adam", {"lr": 0.05}, None),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}, None),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}, None),
    ("Adam", {"lr": 0.05, "amsgrad": True}, None),
    ("Adam", {"lr": 0.05, "betas": (0.5, 0.9), "eps": 0.1, "weight_decay": 0.05, "amsgrad": True},
     None),
    ("Adam", {"lr": 0.05},
     [((0,), {"lr": 0.01, "amsgrad": True}), ((1, 2), {"betas": (0.7, 0.95)})]),
    ("AdamW", {}, None),
    ("AdamW", {"lr": 0.05}, None),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3}, None),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}, None),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.0}, None),
    ("AdamW", {"lr": 0.05}, [((0,), {"weight_decay": 0.0}), ((1, 2), {"weight_decay": 0.3})]),
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "options", "groups"), OPTIMIZER_CASES)
def test_optimizer_matches_torch(name, options, groups, dtype):
    kd_opt, torch_opt, kd_params, torch_params = run_side_by_side(name, options, groups, dtype)
    for i, (k, t) in enumerate(zip(kd_params, torch_params, strict=True)):
        kd_state, torch_state = kd_opt.state[k], torch_opt.state[t]
        assert sorted(kd_state) == sorted(torch_state), f"parameter {i}'s state names differ"
        for key, value in torch_state.items():
            if key == "step":
                assert kd_state[key] == value.item()
            else:
                assert_close(f"state {key} of {i}", kd_state[key], value, TOLERANCES[dtype])


def test_zero_grad_matches_torch():
    problem = Problem(1, np.float32)
    kd_params, torch_params = problem.kindling_params(), problem.torch_params()
    kd_opt, torch_opt = ko.SGD(kd_params, lr=0.1), torch.optim.SGD(torch_params, lr=0.1)
    problem.set_gradients(kd_params, torch_params, step=2)  # parameter 2 has no gradient
    kd_grad = kd_params[0].grad
    kd_opt.zero_grad(set_to_none=False)
    torch_opt.zero_grad(set_to_none=False)
    for k, t in zip(kd_params, torch_params, strict=True):
        assert (k.grad is None) == (t.grad is None)
        if k.grad is not None:
            assert_close("zero_grad(set_to_none=False)", k.grad, t.grad, TOLERANCES[np.float32])
    assert kd_params[0].grad is kd_grad
    kd_opt.zero_grad()
    torch_opt.zero_grad()
    assert all(p.grad is None for p in kd_params + torch_params)


# ---------------------------------------------------------------------------
# 2. Schedulers
# ---------------------------------------------------------------------------

SCHEDULER_CASES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [30, 5, 12, 12], "gamma": 0.4}),
    ("ExponentialLR", {"gamma": 0.95}),
    ("CosineAnnealingLR", {"T_max": 20, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 10}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 30}),
]


def assert_same_rates(what: str, kd_rates: list, torch_rates: list) -> None:
    assert len(kd_rates) == len(torch_rates), what
    # torch updates rates recursively (multiplying the current rate), kindling from the
    # closed formula: equal up to rounding.
    assert np.allclose(kd_rates, torch_rates, rtol=1e-10, atol=1e-15), (
        f"{what}: kindling {kd_rates}, torch {torch_rates}"
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "options"), SCHEDULER_CASES)
def test_scheduler_matches_torch(name, options, dtype):
    problem = Problem(2, dtype)
    kd_params, torch_params = problem.kindling_params(), problem.torch_params()
    groups = [((0, 1), {}), ((2,), {"lr": 0.01})]
    kd_opt = ko.SGD(param_spec(kd_params, groups), lr=0.1, momentum=0.9)
    torch_opt = torch.optim.SGD(param_spec(torch_params, groups), lr=0.1, momentum=0.9)
    kd_sched = getattr(ko, name)(kd_opt, **options)
    torch_sched = getattr(torch.optim.lr_scheduler, name)(torch_opt, **options)
    what = f"{name}({options})"
    assert_same_rates(f"{what} at epoch 0", kd_sched.get_last_lr(), torch_sched.get_last_lr())
    assert [g["initial_lr"] for g in kd_opt.param_groups] == [0.1, 0.01]
    for step in range(1, STEPS + 1):
        problem.set_gradients(kd_params, torch_params, step)
        kd_opt.step()
        torch_opt.step()
        kd_sched.step()
        torch_sched.step()
        assert kd_sched.last_epoch == torch_sched.last_epoch == step
        assert_same_rates(f"{what} step {step}", kd_sched.get_last_lr(), torch_sched.get_last_lr())
        assert_same_rates(
            f"{what} step {step}: group lrs",
            [g["lr"] for g in kd_opt.param_groups],
            [g["lr"] for g in torch_opt.param_groups],
        )
        assert_same_weights(f"{what} step {step}", kd_params, torch_params, dtype)


@pytest.mark.parametrize(("name", "options"), SCHEDULER_CASES[:2])
def test_resuming_a_scheduler_from_last_epoch_matches_torch(name, options):
    """torch's StepLR and MultiStepLR continue from the group's current rate; kindling's
    from the formula. From a consistent checkpoint (the rate of epoch 6), they agree."""
    rates = {}
    for library, module in (("kindling", ko), ("torch", torch.optim)):
        problem = Problem(3, np.float64)
        params = problem.kindling_params() if library == "kindling" else problem.torch_params()
        scheduler_module = ko if library == "kindling" else torch.optim.lr_scheduler
        fresh_opt = module.SGD(params, lr=0.1)
        fresh = getattr(scheduler_module, name)(fresh_opt, **options)
        for _ in range(6):
            fresh_opt.step()  # no gradients: nothing moves, but the order is torch's
            fresh.step()
        lr_at_6 = fresh.get_last_lr()[0]
        resumed_opt = module.SGD([{"params": params, "initial_lr": 0.1}], lr=lr_at_6)
        resumed = getattr(scheduler_module, name)(resumed_opt, last_epoch=6, **options)
        rates[library] = [resumed.get_last_lr()[0]]
        for _ in range(20):
            resumed_opt.step()
            resumed.step()
            rates[library].append(resumed.get_last_lr()[0])
    assert_same_rates(f"{name}({options}) resumed at epoch 6", rates["kindling"], rates["torch"])


def test_scheduler_state_dict_round_trip():
    kd_opt = ko.SGD(Problem(4, np.float64).kindling_params(), lr=0.1)
    sched = ko.CosineAnnealingLR(kd_opt, T_max=10)
    for _ in range(4):
        sched.step()
    saved_opt, saved_sched = kd_opt.state_dict(), sched.state_dict()
    new_opt = ko.SGD(Problem(4, np.float64).kindling_params(), lr=0.1)
    new_sched = ko.CosineAnnealingLR(new_opt, T_max=10)
    new_opt.load_state_dict(saved_opt)
    new_sched.load_state_dict(saved_sched)
    for _ in range(8):
        sched.step()
        new_sched.step()
        assert new_sched.get_last_lr() == sched.get_last_lr()
        assert new_opt.param_groups[0]["lr"] == kd_opt.param_groups[0]["lr"]


# ---------------------------------------------------------------------------
# 3. state_dict: torch's format, and resuming
# ---------------------------------------------------------------------------

STATE_CASES = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01}),
    ("AdamW", {"lr": 0.05, "betas": (0.8, 0.9)}),
]
STATE_GROUPS = [((0, 2), {"lr": 0.02}), ((1,), {})]


def to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.ndim == 0 else value.detach().numpy().copy()
    return value


@pytest.mark.parametrize(("name", "options"), STATE_CASES)
def test_state_dict_matches_torchs(name, options):
    problem = Problem(5, np.float64)
    kd_params, torch_params = problem.kindling_params(), problem.torch_params()
    kd_opt = getattr(ko, name)(param_spec(kd_params, STATE_GROUPS), **options)
    torch_opt = getattr(torch.optim, name)(param_spec(torch_params, STATE_GROUPS), **options)
    for step in range(1, 11):
        problem.set_gradients(kd_params, torch_params, step)
        kd_opt.step()
        torch_opt.step()
    ours, theirs = kd_opt.state_dict(), torch_opt.state_dict()
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index, state in theirs["state"].items():
        assert sorted(ours["state"][index]) == sorted(state)
        for key, value in state.items():
            expected = to_numpy(value)
            if isinstance(expected, np.ndarray):
                assert_close(f"state {index} {key}", ours["state"][index][key], expected,
                             TOLERANCES[np.float64])  # fmt: skip
            else:
                assert ours["state"][index][key] == expected
    for our_group, their_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        for key, value in our_group.items():
            assert their_group[key] == value, f"param_groups option {key}"


@pytest.mark.parametrize(("name", "options"), STATE_CASES)
def test_saving_and_loading_resumes_exactly(name, options):
    """Save after 10 steps, load into a fresh optimizer, continue: the same weights as an
    uninterrupted run, and as torch."""
    problem = Problem(6, np.float32)
    kd_params, torch_params = problem.kindling_params(), problem.torch_params()
    kd_opt = getattr(ko, name)(param_spec(kd_params, STATE_GROUPS), **options)
    torch_opt = getattr(torch.optim, name)(param_spec(torch_params, STATE_GROUPS), **options)
    resumed_params = problem.kindling_params()
    resumed_opt = None
    for step in range(1, STEPS + 1):
        problem.set_gradients(kd_params, torch_params, step)
        kd_opt.step()
        torch_opt.step()
        if resumed_opt is not None:
            for p, q in zip(resumed_params, kd_params, strict=True):
                p.grad = None if q.grad is None else q.grad.copy()
            resumed_opt.step()
            for p, q in zip(resumed_params, kd_params, strict=True):
                np.testing.assert_array_equal(p.data, q.data)  # bit for bit
        if step == 10:
            saved = copy.deepcopy(kd_opt.state_dict())
            for p, q in zip(resumed_params, kd_params, strict=True):
                p.data[...] = q.data
            resumed_opt = getattr(ko, name)(param_spec(resumed_params, STATE_GROUPS), lr=9.0)
            resumed_opt.load_state_dict(saved)
    assert_same_weights(f"{name} resumed", resumed_params, torch_params, np.float32)


@pytest.mark.parametrize(("name", "options"), STATE_CASES)
def test_a_torch_state_dict_loads_into_kindling(name, options):
    """A torch checkpoint, converted to NumPy (and stripped of torch-only options), resumes
    in kindling exactly as torch resumes it."""
    problem = Problem(7, np.float64)
    kd_params, torch_params = problem.kindling_params(), problem.torch_params()
    torch_opt = getattr(torch.optim, name)(param_spec(torch_params, STATE_GROUPS), **options)
    for step in range(1, 11):
        problem.set_gradients(kd_params, torch_params, step)
        torch_opt.step()
    for k, t in zip(kd_params, torch_params, strict=True):
        k.data[...] = t.detach().numpy()
    kd_opt = getattr(ko, name)(param_spec(kd_params, STATE_GROUPS))
    theirs = torch_opt.state_dict()
    own_options = set(kd_opt.defaults)
    converted = {
        "state": {i: {k: to_numpy(v) for k, v in s.items()} for i, s in theirs["state"].items()},
        "param_groups": [
            {k: v for k, v in g.items() if k in own_options or k == "params"}
            for g in theirs["param_groups"]
        ],
    }
    kd_opt.load_state_dict(converted)
    for step in range(11, STEPS + 1):
        problem.set_gradients(kd_params, torch_params, step)
        kd_opt.step()
        torch_opt.step()
    assert_same_weights(f"{name} from a torch checkpoint", kd_params, torch_params, np.float64)


# ---------------------------------------------------------------------------
# 4. Gradient clipping
# ---------------------------------------------------------------------------


def grads_pair(seed: int, dtype: Any, scale: float):
    rng = np.random.default_rng(seed)
    kd_params, torch_params = [], []
    for i, shape in enumerate([(3, 4), (5,), (2, 2), (2, 3)]):
        grad = (rng.standard_normal(shape) * scale).astype(dtype)
        k = kd.Tensor(np.zeros(shape, dtype), requires_grad=True)
        t = torch.zeros(shape, dtype=torch.from_numpy(grad).dtype, requires_grad=True)
        if i != 2:
            k.grad, t.grad = grad.copy(), torch.from_numpy(grad.copy())
        kd_params.append(k)
        torch_params.append(t)
    return kd_params, torch_params


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.3, 5.0, 1e4])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    kd_params, torch_params = grads_pair(8, dtype, scale=1.0)
    ours = ko.clip_grad_norm_(kd_params, max_norm, norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(torch_params, max_norm, norm_type)
    assert isinstance(ours, float)
    assert math.isclose(ours, theirs.item(), rel_tol=TOLERANCES[dtype]["rtol"])
    for i, (k, t) in enumerate(zip(kd_params, torch_params, strict=True)):
        if t.grad is None:
            assert k.grad is None
        else:
            assert_close(f"clipped gradient {i}", k.grad, t.grad, TOLERANCES[dtype])


def test_clip_grad_norm_nonfinite_matches_torch():
    kd_params, torch_params = grads_pair(9, np.float32, scale=1.0)
    kd_params[0].grad[0, 0] = np.inf
    torch_params[0].grad[0, 0] = math.inf
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(torch_params, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        ko.clip_grad_norm_(kd_params, 1.0, error_if_nonfinite=True)
    assert ko.clip_grad_norm_([], 1.0) == torch.nn.utils.clip_grad_norm_([], 1.0).item() == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clip_value", [0.05, 0.5, 3.0])
def test_clip_grad_value_matches_torch(clip_value, dtype):
    kd_params, torch_params = grads_pair(10, dtype, scale=2.0)
    ko.clip_grad_value_(kd_params, clip_value)
    torch.nn.utils.clip_grad_value_(torch_params, clip_value)
    for i, (k, t) in enumerate(zip(kd_params, torch_params, strict=True)):
        if t.grad is not None:
            assert_close(f"clipped gradient {i}", k.grad, t.grad, TOLERANCES[dtype])


# ---------------------------------------------------------------------------
# 5. Bad options: the same errors as torch
# ---------------------------------------------------------------------------

BAD_OPTIONS = [
    ("SGD", {"lr": -1}),
    ("SGD", {"lr": -0.5, "momentum": 0.9}),
    ("SGD", {"momentum": -0.1}),
    ("SGD", {"weight_decay": -1e-4}),
    ("SGD", {"nesterov": True}),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("Adam", {"lr": -1e-3}),
    ("Adam", {"eps": -1e-8}),
    ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (-0.1, 0.999)}),
    ("Adam", {"betas": (0.9, 1.0)}),
    ("Adam", {"weight_decay": -0.1}),
    ("AdamW", {"lr": -1.0}),
    ("AdamW", {"betas": (0.9, 1.5)}),
    ("AdamW", {"weight_decay": -0.01}),
]


def error_of(call) -> tuple[type, str] | None:
    try:
        call()
    except Exception as error:
        return type(error), str(error)
    return None


@pytest.mark.parametrize(("name", "options"), BAD_OPTIONS)
def test_bad_options_raise_like_torch(name, options):
    theirs = error_of(lambda: getattr(torch.optim, name)([torch.zeros(2)], **options))
    ours = error_of(lambda: getattr(ko, name)([kd.zeros(2)], **options))
    assert theirs is not None and theirs[0] is ValueError
    assert ours == theirs


@pytest.mark.parametrize(
    "options",
    [{"start_factor": 0.0}, {"start_factor": 1.5}, {"end_factor": -0.1}, {"end_factor": 2.0}],
)
def test_bad_linear_lr_raises_like_torch(options):
    theirs = error_of(
        lambda: torch.optim.lr_scheduler.LinearLR(torch.optim.SGD([torch.zeros(2)]), **options)
    )
    ours = error_of(lambda: ko.LinearLR(ko.SGD([kd.zeros(2)]), **options))
    assert theirs is not None and theirs[0] is ValueError
    assert ours == theirs


def test_bad_parameter_lists_raise_like_torch():
    a, b = kd.zeros(2), kd.zeros(3)
    ta, tb = torch.zeros(2), torch.zeros(3)
    cases = [
        (lambda: ko.SGD([]), lambda: torch.optim.SGD([])),
        (lambda: ko.SGD({a, b}), lambda: torch.optim.SGD({ta, tb})),
        (
            lambda: ko.SGD([{"params": [a]}, {"params": [b, a]}]),
            lambda: torch.optim.SGD([{"params": [ta]}, {"params": [tb, ta]}]),
        ),
    ]
    for ours, theirs in cases:
        assert error_of(ours) == error_of(theirs)
    ours_error, theirs_error = error_of(lambda: ko.SGD(a)), error_of(lambda: torch.optim.SGD(ta))
    assert ours_error is not None and theirs_error is not None
    assert ours_error[0] is theirs_error[0] is TypeError
    non_leaf = (kd.ones(2, requires_grad=True) * 2, torch.ones(2, requires_grad=True) * 2)
    assert error_of(lambda: ko.SGD([non_leaf[0]])) == error_of(
        lambda: torch.optim.SGD([non_leaf[1]])
    )
