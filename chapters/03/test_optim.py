"""Graders for chapter 03 (optim). Run them with: pytest chapters/03

Each test builds the same seeded problem twice, once for your `kindling.optim`
and once for the answer key, runs both optimizers step by step on identical
gradients, and compares every parameter after every step. The gradients are
computed here in NumPy and written into `.grad` directly, so no exercise needs
your autograd. Exercise 3.5 is graded on a small optimizer defined in this
file on top of your `Optimizer`, so it does not need your SGD or Adam; the
schedulers of 3.6 drive the answer key's SGD. A failure names the optimizer
and its options, the parameter, the step, the index, and the seed.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import kindling.autograd as my_autograd
import kindling.optim as mine
import solutions.autograd as ref_autograd
import solutions.optim as ref
from grading.check import (
    assert_same_array,
    describe,
    expect_error,
    expect_message_naming,
    fail,
    plain,
)

# ---------------------------------------------------------------------------
# Helpers: a seeded problem, and two optimizers run side by side on it
# ---------------------------------------------------------------------------

SHAPES = [(3, 4), (4,), (2, 3)]
STEPS = 12


class Problem:
    """A seeded loss over three parameters: for each one, a least-squares term
    1/2 |A vec(x) - b|^2 plus a wiggle sum(-cos(3x)) / 6, whose gradient is

        g(x) = A^T (A vec(x) - b) + sin(3x) / 2

    computed in float64 and cast to the parameters' dtype. Parameter 2 gets no
    gradient (None) on every third step, as a parameter that a batch did not use.
    """

    def __init__(self, seed: int, dtype: Any = np.float32, shapes=SHAPES) -> None:
        rng = np.random.default_rng(seed)
        self.seed, self.dtype, self.shapes = seed, np.dtype(dtype), shapes
        self.start = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
        self.matrices = [
            rng.standard_normal((x.size, x.size)) / np.sqrt(x.size) for x in self.start
        ]
        self.targets = [rng.standard_normal(x.size) for x in self.start]

    def gradient(self, index: int, x: np.ndarray) -> np.ndarray:
        a, b = self.matrices[index], self.targets[index]
        flat = x.astype(np.float64).ravel()
        g = a.T @ (a @ flat - b) + np.sin(3 * flat) / 2
        return g.reshape(x.shape).astype(self.dtype)

    def has_gradient(self, index: int, step: int) -> bool:
        return not (index == 2 and step % 3 == 1)

    def params(self, autograd_module) -> list:
        return [autograd_module.Tensor(x.copy(), requires_grad=True) for x in self.start]

    def inputs(self) -> str:
        return describe({f"p{i}": x for i, x in enumerate(self.start)}, self.seed)


def call_text(name: str, options: dict[str, Any], groups: list | None = None) -> str:
    """`SGD(lr=0.1, momentum=0.9)`, with parameter groups written out when there are some."""
    parts = []
    if groups is not None:
        written = []
        for indices, group_options in groups:
            items = [f"params=[{', '.join(f'p{i}' for i in indices)}]"]
            items += [f"{k}={plain(v)}" for k, v in group_options.items()]
            written.append("{" + ", ".join(items) + "}")
        parts.append("[" + ", ".join(written) + "]")
    parts += [f"{k}={plain(v)}" for k, v in options.items()]
    return f"{name}({', '.join(parts)})"


def build(module, params: list, name: str, options: dict, groups: list | None):
    """`module.<name>` over `params` (a generator when there are no groups, as
    `model.parameters()` is), or over the parameter groups [(indices, options), ...]."""
    if groups is None:
        spec: Any = (p for p in params)
    else:
        spec = [{"params": [params[i] for i in indices], **extra} for indices, extra in groups]
    return getattr(module, name)(spec, **options)


def check_state(label: str, my_state: dict, ref_state: dict, owner: str, inputs: str) -> None:
    """Per-parameter state (`owner` names it): the same names, arrays and numbers as the
    answer key's."""
    if sorted(my_state) != sorted(ref_state):
        fail(
            f"{label}: {owner} has the entries {sorted(my_state)}, expected "
            f"{sorted(ref_state)} ({inputs})"
        )
    for key, expected in ref_state.items():
        got = my_state[key]
        if isinstance(expected, np.ndarray):
            assert_same_array(got, expected, f"{label}: {owner}[{key!r}]", inputs)
        elif got != expected:
            fail(
                f"{label}: {owner}[{key!r}] is {plain(got)}, expected {plain(expected)} ({inputs})"
            )


def run_trajectories(
    name: str,
    options: dict[str, Any],
    groups: list | None = None,
    seed: int = 0,
    dtype: Any = np.float32,
    steps: int = STEPS,
    gradient: Callable | None = None,
) -> None:
    """Run your optimizer and the answer key's side by side from the same start, on the
    same gradients, and compare every parameter after every step, then the state."""
    problem = Problem(seed, dtype)
    label = call_text(name, options, groups)
    inputs = problem.inputs()
    my_params, ref_params = problem.params(my_autograd), problem.params(ref_autograd)
    my_opt = build(mine, my_params, name, options, groups)
    ref_opt = build(ref, ref_params, name, options, groups)
    arrays = [p.data for p in my_params]
    handed_over: list[tuple[int, np.ndarray, np.ndarray]] = []
    grad_of = gradient or problem.gradient

    for step in range(1, steps + 1):
        for i, (my_p, ref_p) in enumerate(zip(my_params, ref_params, strict=True)):
            if problem.has_gradient(i, step):
                g = grad_of(i, ref_p.data)
                my_p.grad, ref_p.grad = g.copy(), g.copy()
                handed_over.append((i, my_p.grad, g))
            else:
                my_p.grad = ref_p.grad = None
        ref_opt.step()
        my_opt.step()
        for i, (my_p, ref_p) in enumerate(zip(my_params, ref_params, strict=True)):
            if my_p.data is not arrays[i]:
                fail(
                    f"{label}: step() replaced parameter {i}'s array instead of updating it in "
                    "place: write into it (param.data -= ...), so every reference to it sees "
                    f"the update ({inputs})"
                )
            assert_same_array(
                my_p.data, ref_p.data, f"{label}: parameter {i} after step {step}", inputs
            )
        for i, given, original in handed_over:
            if not np.array_equal(given, original):
                fail(
                    f"{label}: step {step} changed a gradient array of parameter {i} (a .grad "
                    "it was given): leave gradients as they are, build new arrays instead, and "
                    f"copy one before keeping it as state ({inputs})"
                )
    for i, (my_p, ref_p) in enumerate(zip(my_params, ref_params, strict=True)):
        where = f"after {steps} steps, parameter {i}'s state"
        check_state(label, my_opt.state[my_p], ref_opt.state[ref_p], where, inputs)


# ---------------------------------------------------------------------------
# Exercise 3.1: parameter groups and zero_grad
# ---------------------------------------------------------------------------


def options_of(group: dict) -> dict:
    return {k: v for k, v in group.items() if k != "params"}


def check_groups(label: str, my_opt, ref_opt, my_params: list, ref_params: list) -> None:
    """The same groups as the answer key's: the same Tensors, in order, and the same options."""
    if len(my_opt.param_groups) != len(ref_opt.param_groups):
        fail(
            f"{label}: {len(my_opt.param_groups)} parameter groups, expected "
            f"{len(ref_opt.param_groups)}"
        )
    position = {id(p): i for i, p in enumerate(my_params)}
    ref_position = {id(p): i for i, p in enumerate(ref_params)}
    for number, (mine_group, ref_group) in enumerate(
        zip(my_opt.param_groups, ref_opt.param_groups, strict=True)
    ):
        params = mine_group.get("params")
        if not isinstance(params, list) or any(id(p) not in position for p in params):
            fail(
                f"{label}: group {number}'s 'params' should be a list of the parameter Tensors "
                f"themselves, got {type(params).__name__}"
            )
        got = [position[id(p)] for p in params]
        expected = [ref_position[id(p)] for p in ref_group["params"]]
        if got != expected:
            fail(f"{label}: group {number} holds parameters {got}, expected {expected}")
        if options_of(mine_group) != options_of(ref_group):
            fail(
                f"{label}: group {number} has options {options_of(mine_group)}, expected "
                f"{options_of(ref_group)} (every option of the defaults, the group's own first)"
            )


def two_sets(problem: Problem):
    return problem.params(my_autograd), problem.params(ref_autograd)


@pytest.mark.exercise("3.1")
@pytest.mark.parametrize(
    ("name", "options"),
    [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"betas": (0.8, 0.99), "amsgrad": True})],
)
def test_one_group_from_a_generator(name, options):
    my_params, ref_params = two_sets(Problem(1))
    my_opt = getattr(mine, name)((p for p in my_params), **options)
    ref_opt = getattr(ref, name)((p for p in ref_params), **options)
    check_groups(call_text(name, options), my_opt, ref_opt, my_params, ref_params)


@pytest.mark.exercise("3.1")
def test_groups_with_their_own_options():
    my_params, ref_params = two_sets(Problem(2))
    specs = []
    for params in (my_params, ref_params):
        specs.append(
            [
                {"params": [params[0], params[2]], "lr": 0.01, "nesterov": True},
                {"params": params[1]},  # one Tensor, not a list
            ]
        )
    before = copy.copy(specs[0][1])
    options = {"lr": 0.1, "momentum": 0.9}
    my_opt, ref_opt = mine.SGD(specs[0], **options), ref.SGD(specs[1], **options)
    label = "SGD([{params=[p0, p2], lr=0.01, nesterov=True}, {params=p1}], lr=0.1, momentum=0.9)"
    check_groups(label, my_opt, ref_opt, my_params, ref_params)
    if specs[0][1] != before or specs[0][1]["params"] is not my_params[1]:
        fail(f"{label} changed the dict it was given: work on a copy of each group's dict")


@pytest.mark.exercise("3.1")
def test_add_param_group():
    my_params, ref_params = two_sets(Problem(3))
    my_opt = mine.Adam(my_params[:2], lr=0.01)
    ref_opt = ref.Adam(ref_params[:2], lr=0.01)
    my_opt.add_param_group({"params": [my_params[2]], "betas": (0.5, 0.6)})
    ref_opt.add_param_group({"params": [ref_params[2]], "betas": (0.5, 0.6)})
    label = "Adam([p0, p1], lr=0.01) then add_param_group({params=[p2], betas=(0.5, 0.6)})"
    check_groups(label, my_opt, ref_opt, my_params, ref_params)


@pytest.mark.exercise("3.1")
def test_a_parameter_in_two_groups_is_an_error():
    p0, p1, p2 = Problem(4).params(my_autograd)
    opt = mine.SGD([p0, p1], lr=0.1)
    expect_error(
        ValueError,
        "SGD([p0, p1]).add_param_group({params=[p2, p1]}): p1 is already in group 0",
        opt.add_param_group,
        {"params": [p2, p1]},
    )
    if len(opt.param_groups) != 1:
        fail("add_param_group added a group that shares a parameter with another: raise first")
    expect_error(
        ValueError,
        "SGD([{params=[p0]}, {params=[p1, p0]}], lr=0.1): p0 is in both groups",
        mine.SGD,
        [{"params": [p0]}, {"params": [p1, p0]}],
        lr=0.1,
    )
    expect_error(TypeError, "add_param_group([p2]): a list, not a dict", opt.add_param_group, [p2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mine.SGD([p2, p2], lr=0.1)
    if not caught:
        fail("SGD([p2, p2]) should warn about a duplicate parameter in one group")


@pytest.mark.exercise("3.1")
def test_zero_grad():
    params = Problem(5).params(my_autograd)
    opt = mine.SGD([{"params": params[:2]}, {"params": params[2:]}], lr=0.1)
    for p in params:
        p.grad = np.ones_like(p.data)
    opt.zero_grad()
    if any(p.grad is not None for p in params):
        fail("zero_grad() should set every .grad to None (set_to_none=True is the default)")

    arrays = [np.full_like(p.data, 3.0) for p in params]
    params[0].grad, params[2].grad = arrays[0], arrays[2]
    opt.zero_grad(set_to_none=False)
    for i in (0, 2):
        if params[i].grad is not arrays[i]:
            fail(
                f"zero_grad(set_to_none=False) replaced parameter {i}'s .grad: fill the same "
                "array with zeros, in place"
            )
        assert_same_array(
            params[i].grad,
            np.zeros_like(params[i].data),
            f"parameter {i}'s .grad after zero_grad(set_to_none=False)",
            describe({f"p{i}": params[i].data}),
        )
    if params[1].grad is not None:
        fail("zero_grad(set_to_none=False) should leave a .grad that is None as None")


@pytest.mark.exercise("3.1")
def test_distinct_parameters_do_not_warn():
    p0, p1, p2 = Problem(4).params(my_autograd)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mine.SGD([{"params": [p0, p1]}, {"params": [p2]}], lr=0.1)
    if caught:
        fail(
            "SGD([{params=[p0, p1]}, {params=[p2]}]) warned "
            f"{str(caught[0].message)!r}: warn only when one group holds a parameter twice"
        )


@pytest.mark.exercise("3.1")
def test_zero_grad_skips_a_missing_gradient_and_goes_on():
    params = Problem(6).params(my_autograd)
    opt = mine.SGD([{"params": params}], lr=0.1)
    params[1].grad = np.ones_like(params[1].data)
    params[2].grad = np.ones_like(params[2].data)
    opt.zero_grad()
    if params[1].grad is not None or params[2].grad is not None:
        fail(
            "zero_grad() on one group [p0, p1, p2] where p0.grad is None left p1's or p2's "
            ".grad: skip a parameter without a gradient and go on with the next"
        )


# ---------------------------------------------------------------------------
# Exercise 3.2: SGD with momentum
# ---------------------------------------------------------------------------

SGD_CASES = [
    ({"lr": 0.1}, None),
    ({"lr": 0.05, "momentum": 0.9}, None),
    ({"lr": 0.05, "momentum": 0.9, "dampening": 0.5}, None),
    ({"lr": 0.05, "momentum": 0.9, "nesterov": True}, None),
    ({"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}, None),
    ({"lr": 0.01, "momentum": 0.5, "weight_decay": 1.0}, None),
    ({"lr": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}, None),
    ({"lr": 0.1, "momentum": 0.5}, [((0,), {"lr": 0.02, "momentum": 0.9, "dampening": 0.2}),
                                    ((1, 2), {})]),
    ({"lr": 0.03}, [((2, 0), {"momentum": 0.8, "nesterov": True}), ((1,), {"weight_decay": 0.2})]),
]  # fmt: skip


@pytest.mark.exercise("3.2")
@pytest.mark.parametrize(("options", "groups"), SGD_CASES)
@pytest.mark.parametrize("seed", [10, 11])
def test_sgd_trajectory(options, groups, seed):
    run_trajectories("SGD", options, groups, seed)


@pytest.mark.exercise("3.2")
@pytest.mark.parametrize(
    "options", [{"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}]
)
def test_sgd_float64(options):
    run_trajectories("SGD", options, seed=12, dtype=np.float64)


@pytest.mark.exercise("3.2")
def test_sgd_first_step_uses_the_gradient_as_the_buffer():
    """One step from theta = 1 with g = 2: torch's buffer starts as g, undamped."""
    options = {"lr": 0.5, "momentum": 0.9, "dampening": 0.5}
    param = my_autograd.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    param.grad = np.full(3, 2.0, dtype=np.float32)
    mine.SGD([param], **options).step()
    assert_same_array(
        param.data,
        np.zeros(3, dtype=np.float32),
        f"{call_text('SGD', options)}: parameter 0 after step 1 (theta = 1, g = 2, so "
        "theta - lr * g = 0)",
        "theta: (3,) float32",
    )


# ---------------------------------------------------------------------------
# Exercise 3.3: Adam
# ---------------------------------------------------------------------------

ADAM_CASES = [
    ({}, None),
    ({"lr": 0.05}, None),
    ({"lr": 0.05, "betas": (0.8, 0.99)}, None),
    ({"lr": 0.05, "eps": 0.1}, None),
    ({"lr": 0.05, "weight_decay": 0.1}, None),
    ({"lr": 0.05, "weight_decay": 1.0}, None),
    ({"lr": 0.05, "amsgrad": True}, None),
    ({"lr": 0.05, "betas": (0.5, 0.9), "weight_decay": 0.05, "amsgrad": True}, None),
    ({"lr": 0.05}, [((0,), {"lr": 0.01, "amsgrad": True}), ((1, 2), {"betas": (0.7, 0.95)})]),
]


@pytest.mark.exercise("3.3")
@pytest.mark.parametrize(("options", "groups"), ADAM_CASES)
@pytest.mark.parametrize("seed", [20, 21])
def test_adam_trajectory(options, groups, seed):
    run_trajectories("Adam", options, groups, seed)


@pytest.mark.exercise("3.3")
def test_adam_float64():
    run_trajectories("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01}, seed=22,
                     dtype=np.float64)  # fmt: skip


@pytest.mark.exercise("3.3")
def test_adam_first_step_moves_each_element_by_lr():
    """With bias correction, the first step is lr * g / (|g| + eps): about lr, whatever |g|."""
    options = {"lr": 0.1}
    param = my_autograd.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    param.grad = np.array([1e-3, 5.0, -200.0], dtype=np.float32)
    mine.Adam([param], **options).step()
    assert_same_array(
        param.data,
        np.array([-0.1, -0.1, 0.1], dtype=np.float32),
        f"{call_text('Adam', options)}: parameter 0 after step 1 (theta = 0, "
        "g = [0.001, 5, -200]; bias correction makes the first step -lr * sign(g))",
        "theta: (3,) float32",
    )


# ---------------------------------------------------------------------------
# Exercise 3.4: AdamW
# ---------------------------------------------------------------------------

ADAMW_CASES = [
    ({"lr": 0.05}, None),
    ({"lr": 0.05, "weight_decay": 0.2}, None),
    ({"lr": 0.05, "weight_decay": 1.0}, None),
    ({"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "betas": (0.8, 0.9)}, None),
    ({"lr": 0.05, "weight_decay": 0.0}, None),
    ({"lr": 0.05}, [((0,), {"weight_decay": 0.0}), ((1, 2), {"lr": 0.02, "weight_decay": 0.3})]),
]


@pytest.mark.exercise("3.4")
@pytest.mark.parametrize(("options", "groups"), ADAMW_CASES)
@pytest.mark.parametrize("seed", [30, 31])
def test_adamw_trajectory(options, groups, seed):
    run_trajectories("AdamW", options, groups, seed)


@pytest.mark.exercise("3.4")
def test_adamw_with_zero_gradients_only_decays():
    """No gradient signal: Adam's step is 0, so AdamW multiplies by (1 - lr * wd) each step."""
    run_trajectories(
        "AdamW",
        {"lr": 0.1, "weight_decay": 0.5},
        seed=32,
        gradient=lambda index, x: np.zeros_like(x),
    )


@pytest.mark.exercise("3.4")
def test_adamw_float64():
    run_trajectories("AdamW", {"lr": 0.05, "weight_decay": 0.1}, seed=33, dtype=np.float64)


# ---------------------------------------------------------------------------
# Exercise 3.5: saving and resuming
# ---------------------------------------------------------------------------


def make_toy_optimizer(module):
    """A small optimizer on `module.Optimizer`, with array and number state, so that 3.5
    is graded on your Optimizer alone:  v <- beta * v + g;  theta <- theta - lr / t * v."""

    class Toy(module.Optimizer):
        def __init__(self, params, lr=0.1, beta=0.5):
            super().__init__(params, {"lr": lr, "beta": beta})

        def _update(self, param, grad, group, state):
            if not state:
                state["step"] = 0
                state["velocity"] = np.zeros_like(param.data)
            state["step"] += 1
            velocity = state["velocity"]
            velocity *= group["beta"]
            velocity += grad
            param.data -= group["lr"] / state["step"] * velocity

    return Toy


MyToy, RefToy = make_toy_optimizer(mine), make_toy_optimizer(ref)
TOY_LABEL = "Toy([{params=[p0, p2], lr=0.2}, {params=[p1], beta=0.9}], lr=0.1)"


def toy(cls, params: list, lr: float = 0.1, first_lr: float = 0.2):
    """Two groups, numbered p0 -> 0, p2 -> 1, p1 -> 2 in a state dict."""
    groups = [
        {"params": [params[0], params[2]], "lr": first_lr},
        {"params": [params[1]], "beta": 0.9},
    ]
    return cls(groups, lr=lr)


def run_toy(problem: Problem, optimizer, params: list, steps: int) -> None:
    """Steps on the problem's gradients; parameter 2 never gets one, so it has no state."""
    for _ in range(steps):
        for i, p in enumerate(params):
            p.grad = problem.gradient(i, p.data) if i != 2 else None
        optimizer.step()


def compare_state_dicts(got: Any, expected: dict, what: str, inputs: str) -> None:
    if not isinstance(got, dict) or sorted(got) != ["param_groups", "state"]:
        fail(f"{what} should be a dict with the keys 'state' and 'param_groups' ({inputs})")
    if got["param_groups"] != expected["param_groups"]:
        fail(
            f"{what}['param_groups'] is {got['param_groups']}, expected "
            f"{expected['param_groups']}: options, and 'params' as the parameters' numbers "
            f"({inputs})"
        )
    if sorted(got["state"]) != sorted(expected["state"]):
        fail(
            f"{what}['state'] has entries for parameters {sorted(got['state'])}, expected "
            f"{sorted(expected['state'])}: number parameters across groups, in group order, "
            f"and leave out those without state ({inputs})"
        )
    for index, state in expected["state"].items():
        check_state(what, got["state"][index], state, f"['state'][{index}]", inputs)


@pytest.mark.exercise("3.5")
def test_state_dict_format():
    problem = Problem(40)
    my_params, ref_params = two_sets(problem)
    my_opt, ref_opt = toy(MyToy, my_params), toy(RefToy, ref_params)
    run_toy(problem, my_opt, my_params, 3)
    run_toy(problem, ref_opt, ref_params, 3)
    compare_state_dicts(
        my_opt.state_dict(), ref_opt.state_dict(), f"{TOY_LABEL}.state_dict()", problem.inputs()
    )


@pytest.mark.exercise("3.5")
def test_state_dict_is_a_snapshot():
    problem = Problem(41)
    params = problem.params(my_autograd)
    opt = toy(MyToy, params)
    run_toy(problem, opt, params, 2)
    saved = opt.state_dict()
    snapshot = copy.deepcopy(saved)
    run_toy(problem, opt, params, 2)
    opt.param_groups[0]["lr"] = 123.0
    compare_state_dicts(
        saved,
        snapshot,
        f"{TOY_LABEL}: a state_dict() taken before two more steps and an lr change",
        problem.inputs(),
    )


@pytest.mark.exercise("3.5")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resume_exactly(dtype):
    """Save after 4 steps, load into a new optimizer (built with other lrs, which the load
    must replace), and continue: the same as 8 steps without a break."""
    problem = Problem(42, dtype)
    inputs = problem.inputs()
    ref_params = problem.params(ref_autograd)
    ref_opt = toy(RefToy, ref_params)
    expected = []
    for _ in range(8):
        run_toy(problem, ref_opt, ref_params, 1)
        expected.append([p.data.copy() for p in ref_params])

    params = problem.params(my_autograd)
    opt = toy(MyToy, params)
    run_toy(problem, opt, params, 4)
    saved = opt.state_dict()
    resumed_params = [my_autograd.Tensor(p.data.copy(), requires_grad=True) for p in params]
    resumed = toy(MyToy, resumed_params, lr=99.0, first_lr=99.0)
    resumed.load_state_dict(saved)
    snapshot = copy.deepcopy(saved)
    for i, (p, resumed_p) in enumerate(zip(params, resumed_params, strict=True)):
        where = f"after load_state_dict, parameter {i}'s state"
        check_state(TOY_LABEL, resumed.state[resumed_p], opt.state[p], where, inputs)
    for step in range(5, 9):
        run_toy(problem, resumed, resumed_params, 1)
        for i, p in enumerate(resumed_params):
            assert_same_array(
                p.data,
                expected[step - 1][i],
                f"{TOY_LABEL}: saved after 4 steps and loaded into a new optimizer, parameter "
                f"{i} after step {step} (compared with {step} steps without a break)",
                inputs,
            )
    compare_state_dicts(
        saved,
        snapshot,
        f"{TOY_LABEL}: the state dict given to load_state_dict, 4 steps later (copy what you load)",
        inputs,
    )


@pytest.mark.exercise("3.5")
def test_loaded_state_takes_the_parameter_dtype():
    problem = Problem(43, np.float64)
    params = problem.params(my_autograd)
    opt = toy(MyToy, params)
    run_toy(problem, opt, params, 2)
    saved = opt.state_dict()
    params32 = [my_autograd.Tensor(p.data.astype(np.float32), requires_grad=True) for p in params]
    opt32 = toy(MyToy, params32)
    opt32.load_state_dict(saved)
    velocity = opt32.state[params32[0]].get("velocity")
    if not isinstance(velocity, np.ndarray) or velocity.dtype != np.float32:
        fail(
            f"{TOY_LABEL}: float64 state loaded for float32 parameters should become float32 "
            f"(cast floating arrays to the parameter's dtype), got {getattr(velocity, 'dtype', velocity)!r}"
        )


@pytest.mark.exercise("3.5")
def test_load_state_dict_rejects_a_mismatch():
    problem = Problem(44)
    params = problem.params(my_autograd)
    opt = toy(MyToy, params)
    run_toy(problem, opt, params, 2)
    saved = opt.state_dict()
    fresh_params = problem.params(my_autograd)

    one_group = MyToy(fresh_params, lr=0.3)
    expect_error(
        ValueError,
        f"load_state_dict of a {TOY_LABEL} state dict (2 groups) into Toy([p0, p1, p2])",
        one_group.load_state_dict,
        saved,
    )
    other_sizes = MyToy([{"params": fresh_params[:1]}, {"params": fresh_params[1:]}], lr=0.3)
    expect_error(
        ValueError,
        f"load_state_dict of a {TOY_LABEL} state dict (groups of 2 and 1 parameters) into "
        "Toy([{params=[p0]}, {params=[p1, p2]}])",
        other_sizes.load_state_dict,
        saved,
    )

    bad_shape = copy.deepcopy(saved)
    bad_shape["state"][0]["velocity"] = np.zeros((5, 5), dtype=np.float32)
    target = toy(MyToy, fresh_params, lr=0.3, first_lr=0.7)
    expect_error(
        ValueError,
        f"{TOY_LABEL}.load_state_dict with a (5, 5) 'velocity' for the (3, 4) parameter 0",
        target.load_state_dict,
        bad_shape,
    )
    if any(target.state.values()) or target.param_groups[0]["lr"] != 0.7:
        fail(
            f"{TOY_LABEL}: a load_state_dict that raised still changed the optimizer's state "
            "or options: check everything before changing anything"
        )


@pytest.mark.exercise("3.5")
def test_load_state_dict_rejects_state_of_no_parameter():
    problem = Problem(45)
    params = problem.params(my_autograd)
    opt = toy(MyToy, params)
    run_toy(problem, opt, params, 2)
    saved = opt.state_dict()
    saved["state"][7] = copy.deepcopy(saved["state"][0])
    expect_error(
        ValueError,
        f"{TOY_LABEL}.load_state_dict of a state dict with state for parameter 7 (it has 3)",
        toy(MyToy, problem.params(my_autograd)).load_state_dict,
        saved,
    )


@pytest.mark.exercise("3.5")
def test_mismatch_errors_say_what_differs():
    problem = Problem(46)
    params = problem.params(my_autograd)
    saved = toy(MyToy, params).state_dict()
    fresh = problem.params(my_autograd)
    cases = [
        ("2 groups into Toy([p0, p1, p2]), 1 group", MyToy(fresh, lr=0.3)),
        ("2 groups into Toy([p0, p1]), 1 group as large as the first", MyToy(fresh[:2], lr=0.3)),
        (
            "groups of 2 and 1 parameters into Toy([{params=[p0]}, {params=[p1, p2]}])",
            MyToy([{"params": fresh[:1]}, {"params": fresh[1:]}], lr=0.3),
        ),
    ]
    for what, target in cases:
        call = f"load_state_dict of a {TOY_LABEL} state dict ({what})"
        error = expect_error(ValueError, call, target.load_state_dict, saved)
        expect_message_naming(error, call, "group")


@pytest.mark.exercise("3.5")
def test_options_and_state_are_copied_both_ways():
    """Mutable options and non-array state (a list here) are copied deeply when saved and
    when loaded: changing one side later must not change the other."""
    problem = Problem(47)
    params = problem.params(my_autograd)
    opt = toy(MyToy, params)
    opt.param_groups[0]["milestones"] = [1, 2]
    run_toy(problem, opt, params, 2)
    saved = opt.state_dict()
    opt.param_groups[0]["milestones"].append(3)
    if saved["param_groups"][0].get("milestones") != [1, 2]:
        fail(
            f"{TOY_LABEL} with the list option milestones=[1, 2]: appending to it after "
            "state_dict() changed the saved option: copy every option deeply"
        )
    saved["state"][0]["history"] = [0.5]
    fresh = problem.params(my_autograd)
    loaded = toy(MyToy, fresh)
    loaded.load_state_dict(saved)
    saved["param_groups"][0]["milestones"].append(4)
    saved["state"][0]["history"].append(0.25)
    if loaded.param_groups[0].get("milestones") != [1, 2]:
        fail(
            f"{TOY_LABEL}: changing a list option of the state dict after load_state_dict "
            "changed the optimizer's option: load deep copies of the options"
        )
    if loaded.state[fresh[0]].get("history") != [0.5]:
        fail(
            f"{TOY_LABEL}: changing the list state 'history' of the state dict after "
            "load_state_dict changed the optimizer's state: deep-copy values that are not arrays"
        )


# ---------------------------------------------------------------------------
# Exercise 3.6: learning-rate schedules
# ---------------------------------------------------------------------------

SCHEDULES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}, 12),
    ("MultiStepLR", {"milestones": [9, 2, 5, 5], "gamma": 0.3}, 12),
    ("ExponentialLR", {"gamma": 0.9}, 12),
    ("CosineAnnealingLR", {"T_max": 8, "eta_min": 0.001}, 25),
    ("CosineAnnealingLR", {"T_max": 5}, 12),
    ("LinearLR", {"start_factor": 0.25, "total_iters": 4}, 10),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 6}, 10),
]


def sgd_with_two_groups(initial_lr: bool = False):
    """The answer key's SGD (3.6 does not need your optimizers), lr 0.1 and 0.01."""
    params = Problem(50).params(ref_autograd)
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.01}]
    if initial_lr:
        groups[0]["initial_lr"], groups[1]["initial_lr"] = 0.2, 0.05
    return ref.SGD(groups, lr=0.1, momentum=0.9)


def compare_rates(label: str, my_sched, ref_sched, when: str) -> None:
    expected = ref_sched.get_last_lr()
    got = my_sched.get_last_lr()
    if not isinstance(got, list) or len(got) != len(expected):
        fail(f"{label}: get_last_lr() {when} returned {got!r}, expected a list like {expected}")
    if not np.allclose(got, expected, rtol=1e-9, atol=0):
        fail(f"{label}: get_last_lr() {when} is {got}, expected {expected}")
    rates = [group["lr"] for group in my_sched.optimizer.param_groups]
    if not np.allclose(rates, expected, rtol=1e-9, atol=0):
        fail(f"{label}: the optimizer's group lrs {when} are {rates}, expected {expected}")
    if my_sched.last_epoch != ref_sched.last_epoch:
        fail(
            f"{label}: last_epoch {when} is {my_sched.last_epoch}, expected {ref_sched.last_epoch}"
        )


@pytest.mark.exercise("3.6")
@pytest.mark.parametrize(("name", "options", "steps"), SCHEDULES)
def test_schedule(name, options, steps):
    label = f"{call_text(name, options)} on SGD with group lrs 0.1 and 0.01"
    my_sched = getattr(mine, name)(sgd_with_two_groups(), **options)
    ref_sched = getattr(ref, name)(sgd_with_two_groups(), **options)
    compare_rates(label, my_sched, ref_sched, "right after the constructor (epoch 0)")
    initial = [group.get("initial_lr") for group in my_sched.optimizer.param_groups]
    if initial != [0.1, 0.01]:
        fail(f"{label}: the groups' 'initial_lr' should be [0.1, 0.01], got {initial}")
    for step in range(1, steps + 1):
        my_sched.step()
        ref_sched.step()
        compare_rates(label, my_sched, ref_sched, f"after {step} scheduler steps")


@pytest.mark.exercise("3.6")
@pytest.mark.parametrize(("name", "options", "steps"), SCHEDULES[:2])
def test_schedule_resumed_from_an_epoch(name, options, steps):
    """Resuming: last_epoch=6 and groups that already hold 'initial_lr' (0.2 and 0.05).
    The constructor's own step() moves to epoch 7."""
    label = f"{call_text(name, {**options, 'last_epoch': 6})} on SGD with initial_lr 0.2 and 0.05"
    my_sched = getattr(mine, name)(sgd_with_two_groups(initial_lr=True), last_epoch=6, **options)
    ref_sched = getattr(ref, name)(sgd_with_two_groups(initial_lr=True), last_epoch=6, **options)
    compare_rates(label, my_sched, ref_sched, "right after the constructor (epoch 7)")
    for step in range(1, 4):
        my_sched.step()
        ref_sched.step()
        compare_rates(label, my_sched, ref_sched, f"after {step} more scheduler steps")


# ---------------------------------------------------------------------------
# Exercise 3.7: gradient clipping
# ---------------------------------------------------------------------------


def params_with_grads(autograd_module, seed: int, dtype: Any = np.float32, scale: float = 1.0):
    """Four parameters; the third has no gradient."""
    rng = np.random.default_rng(seed)
    params = []
    for i, shape in enumerate([(3, 4), (5,), (2, 2), (2, 3)]):
        p = autograd_module.Tensor(np.zeros(shape, dtype=dtype), requires_grad=True)
        grad = (rng.standard_normal(shape) * scale).astype(dtype)
        p.grad = None if i == 2 else grad
        params.append(p)
    return params


def grads_inputs(params: list, seed: int, **options: Any) -> str:
    arrays = {f"g{i}": p.grad if p.grad is not None else "None" for i, p in enumerate(params)}
    return describe(arrays, seed, options)


@pytest.mark.exercise("3.7")
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm(norm_type, max_norm, dtype):
    seed = 60
    my_params = params_with_grads(my_autograd, seed, dtype)
    ref_params = params_with_grads(ref_autograd, seed, dtype)
    inputs = grads_inputs(ref_params, seed, max_norm=max_norm, norm_type=norm_type)
    arrays = [p.grad for p in my_params]
    expected = ref.clip_grad_norm_(ref_params, max_norm, norm_type)
    got = mine.clip_grad_norm_(iter(my_params), max_norm, norm_type)  # like model.parameters()
    call = f"clip_grad_norm_(parameters, max_norm={max_norm}, norm_type={norm_type})"
    if not isinstance(got, float):
        fail(f"{call} returned {type(got).__name__}, expected the total norm as a Python float")
    if not np.isclose(got, expected, rtol=1e-5, atol=0):
        fail(f"{call} returned the total norm {got:.6g}, expected {expected:.6g} ({inputs})")
    for i, (p, ref_p) in enumerate(zip(my_params, ref_params, strict=True)):
        if ref_p.grad is None:
            if p.grad is not None:
                fail(f"{call} gave parameter {i} a gradient; it had none ({inputs})")
            continue
        if p.grad is not arrays[i]:
            fail(f"{call} replaced parameter {i}'s .grad: scale the same array, in place")
        assert_same_array(p.grad, ref_p.grad, f"{call}: gradient {i} afterwards", inputs)


@pytest.mark.exercise("3.7")
def test_clip_grad_norm_edge_cases():
    param = my_autograd.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    param.grad = np.array([3.0, 4.0, 0.0], dtype=np.float32)
    total = mine.clip_grad_norm_(param, 1.0)  # one Tensor, not a list
    assert_same_array(
        param.grad,
        np.array([0.6, 0.8, 0.0], dtype=np.float32),
        "clip_grad_norm_(p, max_norm=1.0) with p.grad = [3, 4, 0]: the gradient",
        "p: (3,) float32",
    )
    if not isinstance(total, float) or abs(total - 5.0) > 1e-5:
        fail(f"clip_grad_norm_(p, 1.0) with p.grad = [3, 4, 0] should return 5.0, got {total!r}")
    nothing = mine.clip_grad_norm_([my_autograd.Tensor(np.zeros(2, dtype=np.float32))], 1.0)
    if nothing != 0.0:
        fail(f"clip_grad_norm_ with no gradients at all should return 0.0, got {nothing!r}")
    param.grad = np.array([np.inf, 1.0, 0.0], dtype=np.float32)
    expect_error(
        RuntimeError,
        "clip_grad_norm_([p], 1.0, error_if_nonfinite=True) with p.grad = [inf, 1, 0]",
        mine.clip_grad_norm_,
        [param],
        1.0,
        error_if_nonfinite=True,
    )


@pytest.mark.exercise("3.7")
@pytest.mark.parametrize("clip_value", [0.1, 0.7, 10.0])
def test_clip_grad_value(clip_value):
    seed = 61
    my_params = params_with_grads(my_autograd, seed)
    ref_params = params_with_grads(ref_autograd, seed)
    inputs = grads_inputs(ref_params, seed, clip_value=clip_value)
    arrays = [p.grad for p in my_params]
    ref.clip_grad_value_(ref_params, clip_value)
    result = mine.clip_grad_value_((p for p in my_params), clip_value)
    call = f"clip_grad_value_(parameters, clip_value={clip_value})"
    if result is not None:
        fail(f"{call} should return None (it works in place), got {result!r}")
    for i, (p, ref_p) in enumerate(zip(my_params, ref_params, strict=True)):
        if ref_p.grad is None:
            if p.grad is not None:
                fail(f"{call} gave parameter {i} a gradient; it had none ({inputs})")
            continue
        if p.grad is not arrays[i]:
            fail(f"{call} replaced parameter {i}'s .grad: clip the same array, in place")
        assert_same_array(p.grad, ref_p.grad, f"{call}: gradient {i} afterwards", inputs)


@pytest.mark.exercise("3.7")
@pytest.mark.parametrize("above", [1.0 + 1e-3, 1.5])
def test_clip_grad_norm_leaves_gradients_under_max_norm(above):
    """max_norm a little above the total norm (5): nothing to clip, nothing to raise."""
    param = my_autograd.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    param.grad = np.array([3.0, 4.0, 0.0], dtype=np.float32)
    max_norm = 5.0 * above
    call = f"clip_grad_norm_([p], max_norm={max_norm:g}, error_if_nonfinite=True)"
    total = mine.clip_grad_norm_([param], max_norm, error_if_nonfinite=True)
    assert_same_array(
        param.grad,
        np.array([3.0, 4.0, 0.0], dtype=np.float32),
        f"{call}: the gradient, whose norm 5 is under max_norm",
        "p.grad = [3, 4, 0]",
    )
    if not isinstance(total, float) or abs(total - 5.0) > 1e-5:
        fail(f"{call} with p.grad = [3, 4, 0] should return 5.0, got {total!r}")


@pytest.mark.exercise("3.7")
def test_clip_grad_norm_takes_inf_as_a_string():
    """Like torch, norm_type may be the string 'inf': p = float(norm_type)."""
    param = my_autograd.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    param.grad = np.array([3.0, -4.0, 0.0], dtype=np.float32)
    total = mine.clip_grad_norm_([param], 2.0, norm_type="inf")
    if not isinstance(total, float) or abs(total - 4.0) > 1e-5:
        fail(f"clip_grad_norm_([p], 2.0, norm_type='inf') with p.grad = [3, -4, 0] should "
             f"return the largest |element|, 4.0, got {total!r}")  # fmt: skip
    assert_same_array(
        param.grad,
        np.array([1.5, -2.0, 0.0], dtype=np.float32),
        "clip_grad_norm_([p], 2.0, norm_type='inf'): the gradient",
        "p.grad = [3, -4, 0]",
    )
