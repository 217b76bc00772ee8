"""Graders for chapter 02 (modules and losses). Run them with: pytest chapters/02

Each test runs the same scenario on your `kindling.nn`, `kindling.functional`
and `kindling.init` and on the answer key's, and compares what comes out.
Module trees for exercises 2.2 and 2.3 are built by filling the registries
directly, so they are graded even before your `__setattr__` (2.1) works.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kindling.autograd as my_autograd
import kindling.functional as my_F
import kindling.init as my_init
import kindling.nn as my_nn
import solutions.autograd as ref_autograd
import solutions.functional as ref_F
import solutions.init as ref_init
import solutions.nn as ref_nn
from grading.check import (
    assert_same_array,
    describe,
    expect_error,
    expect_message_naming,
    fail,
)

MINE = (my_nn, my_autograd)
REF = (ref_nn, ref_autograd)


def random_array(shape, seed, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def seed_both(seed: int) -> None:
    """Your code draws from kindling.autograd's generator, the answer key from its own."""
    my_autograd.manual_seed(seed)
    ref_autograd.manual_seed(seed)


# ---------------------------------------------------------------------------
# Exercise 2.1: registration by assignment
# ---------------------------------------------------------------------------


def registration_scenario(nn, autograd):
    """Assign parameters, modules, buffers and plain values, then reassign some."""

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(np.ones((2, 2), np.float32))
            self.scale = 3.0
            self.plain = autograd.Tensor(np.zeros(2, np.float32), requires_grad=True)
            self.inner = nn.Module()
            self.register_buffer("running", autograd.Tensor(np.zeros(2, np.float32)))
            self.bias = nn.Parameter(np.zeros(2, np.float32))

    block = Block()
    block.inner = nn.Parameter(np.zeros(1, np.float32))  # a module's name reused for a parameter
    block.running = autograd.Tensor(np.ones(2, np.float32))  # a new value for the buffer
    block.bias = 5  # no longer a parameter
    block.extra = nn.Module()
    return block


def registries(module) -> dict[str, list[str]]:
    return {
        "_parameters": list(module._parameters),
        "_modules": list(module._modules),
        "_buffers": list(module._buffers),
    }


@pytest.mark.exercise("2.1")
def test_assignment_registers_parameters_modules_and_buffers():
    mine, expected = registration_scenario(*MINE), registration_scenario(*REF)
    steps = (
        "weight=Parameter, scale=3.0, plain=Tensor, inner=Module, register_buffer('running'), "
        "bias=Parameter; then inner=Parameter, running=Tensor, bias=5, extra=Module"
    )
    for registry, names in registries(expected).items():
        if registries(mine)[registry] != names:
            fail(f"after {steps}: {registry} holds {registries(mine)[registry]}, expected {names}")
    if mine.inner is not mine._parameters.get("inner") or mine.bias != 5 or mine.scale != 3.0:
        fail("attributes must read back what was assigned (self.name = value; self.name)")
    if not np.array_equal(mine.running.data, np.ones(2)):
        fail("after `block.running = Tensor(ones)`, block.running should be the new tensor")


@pytest.mark.exercise("2.1")
@pytest.mark.parametrize("kind", ["parameter", "module"])
def test_assignment_before_init_is_an_error(kind):
    class Careless(my_nn.Module):
        def __init__(self) -> None:  # assigns before super().__init__()
            if kind == "parameter":
                self.weight = my_nn.Parameter(np.ones(2, np.float32))
            else:
                self.weight = my_nn.Module()

    what = f"self.weight = {kind.capitalize()}(...) before super().__init__()"
    error = expect_error(AttributeError, what, Careless)
    expect_message_naming(error, what, f"{kind} 'weight'", "before Module.__init__() call")


@pytest.mark.exercise("2.1")
def test_register_buffer_errors():
    module = my_nn.Module()
    module.register_buffer("count", my_autograd.Tensor(np.zeros(1, np.float32)))
    if list(module._buffers) != ["count"] or list(module._parameters):
        fail("register_buffer('count', t) should put t in _buffers only")
    try:
        module.register_buffer("running_mean", None)  # None is allowed: a buffer not set yet
    except TypeError as error:
        fail(f"register_buffer('running_mean', None) raised TypeError({error}): None is allowed")
    if list(module._buffers) != ["count", "running_mean"] or module.running_mean is not None:
        fail("register_buffer('running_mean', None) should register a buffer holding None")
    expect_error(
        TypeError, "register_buffer('bad', np.zeros(2)) (an array, not a Tensor)",
        module.register_buffer, "bad", np.zeros(2),
    )  # fmt: skip
    module.note = "x"
    what = "register_buffer('note', t) when module.note = 'x' already exists"
    error = expect_error(
        KeyError, what, module.register_buffer, "note", my_autograd.Tensor(np.zeros(1, np.float32))
    )
    expect_message_naming(error, what, "'note'")


@pytest.mark.exercise("2.1")
def test_a_buffer_takes_a_new_tensor_or_none_and_goes_for_anything_else():
    module = my_nn.Module()
    module.register_buffer("running", my_autograd.Tensor(np.zeros(2, np.float32)))
    new = my_autograd.Tensor(np.ones(2, np.float32))
    module.running = new
    if module._buffers.get("running") is not new:
        fail(
            "after register_buffer('running', t0) and module.running = t1, _buffers['running'] "
            "should be t1 (state_dict and named_buffers read _buffers)"
        )
    module.running = None
    if "running" not in module._buffers or module._buffers["running"] is not None:
        fail("module.running = None for the buffer 'running' should keep a buffer holding None")
    module.running = 5
    if "running" in module._buffers or module.running != 5:
        fail("module.running = 5 (not a Tensor) should drop the buffer 'running' and set 5")


# ---------------------------------------------------------------------------
# Module trees built by filling the registries directly (no __setattr__ needed)
# ---------------------------------------------------------------------------


def tree(nn, autograd):
    """root -> encoder (two blocks, one shared twice) -> head; a parameter shared by two modules."""

    def node(params=(), buffers=(), children=()):
        module = nn.Module()
        for name, shape in params:
            size = int(np.prod(shape))
            value = np.arange(size, dtype=np.float32).reshape(shape) / 10 + len(name)
            module._parameters[name] = nn.Parameter(value) if shape else None
        for name, shape in buffers:
            module._buffers[name] = autograd.Tensor(np.full(shape, 2.0, np.float32))
        for name, child in children:
            module._modules[name] = child
        return module

    shared_block = node(params=[("weight", (3, 2)), ("bias", (3,))])
    other_block = node(params=[("weight", (2, 3)), ("gone", ())], buffers=[("mean", (2,))])
    encoder = node(
        children=[("0", shared_block), ("1", other_block), ("2", shared_block), ("3", None)]
    )
    head = node(params=[("weight", (4, 2))], buffers=[("count", (1,))])
    head._parameters["tied"] = other_block._parameters["weight"]
    return node(params=[("scale", (1,))], children=[("encoder", encoder), ("head", head)])


TREE = "root(scale) -> encoder[0: block, 1: block with buffer, 2: block 0 again, 3: None], head(tied to encoder.1.weight)"


def names_and_shapes(pairs) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(value.shape)) for name, value in pairs]


@pytest.mark.exercise("2.2")
@pytest.mark.parametrize("method", ["named_parameters", "named_buffers", "named_children"])
def test_named_members(method):
    mine = list(getattr(tree(*MINE), method)())
    expected = list(getattr(tree(*REF), method)())
    if method == "named_children":
        got, want = [n for n, _ in mine], [n for n, _ in expected]
    else:
        got, want = names_and_shapes(mine), names_and_shapes(expected)
    if got != want:
        fail(f"{method}() on {TREE} gave {got}, expected {want}")


@pytest.mark.exercise("2.2")
def test_named_parameters_goes_on_after_a_skipped_one():
    def module_with_gaps(nn) -> Any:
        module = nn.Module()
        shared = nn.Parameter(np.ones(2, np.float32))
        module._parameters.update(
            a=shared, unset=None, again=shared, b=nn.Parameter(np.zeros(3, np.float32))
        )
        return module

    got = [name for name, _ in module_with_gaps(my_nn).named_parameters()]
    want = [name for name, _ in module_with_gaps(ref_nn).named_parameters()]
    if got != want:
        fail(
            "named_parameters() on a module whose _parameters are a=p, unset=None, again=p, "
            f"b=q gave {got}, expected {want}: skip None and repeats, then go on"
        )


@pytest.mark.exercise("2.2")
def test_named_modules_and_prefix():
    for prefix in ("", "model"):
        got = [name for name, _ in tree(*MINE).named_modules(prefix)]
        want = [name for name, _ in tree(*REF).named_modules(prefix)]
        if got != want:
            fail(f"named_modules(prefix={prefix!r}) on {TREE} gave {got}, expected {want}")
    got = [name for name, _ in tree(*MINE).named_parameters("model")]
    want = [name for name, _ in tree(*REF).named_parameters("model")]
    if got != want:
        fail(f"named_parameters(prefix='model') gave {got}, expected {want}")


@pytest.mark.exercise("2.2")
def test_parameters_are_the_registered_objects():
    model = tree(*MINE)
    listed = list(model.parameters())
    if model._parameters["scale"] is not listed[0]:
        fail("parameters() must yield the Parameter objects themselves, not copies")


@pytest.mark.exercise("2.2")
def test_train_eval_reach_every_module():
    model = tree(*MINE)
    returned = model.eval()
    if returned is not model:
        fail("eval() (and train()) should return the module itself")
    modes = [m.training for m in [model, *_all_modules(model)]]
    if any(modes):
        fail(f"after eval(), every module should have training=False, got {modes}")
    model.train()
    if not all(m.training for m in [model, *_all_modules(model)]):
        fail("after train(), every module should have training=True")


def _all_modules(module):
    """Every module below `module`, found without the learner's tree walk."""
    for child in module._modules.values():
        if child is not None:
            yield child
            yield from _all_modules(child)


@pytest.mark.exercise("2.2")
@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    model = tree(*MINE)
    parameters = [
        p for m in [model, *_all_modules(model)] for p in m._parameters.values() if p is not None
    ]
    for p in parameters:
        p.grad = np.ones_like(p.data)
    grads = [p.grad for p in parameters]
    model.zero_grad(set_to_none=set_to_none)
    for p, grad in zip(parameters, grads, strict=True):
        if set_to_none and p.grad is not None:
            fail("zero_grad(set_to_none=True) should set every parameter's .grad to None")
        if not set_to_none and (p.grad is not grad or np.any(p.grad != 0)):
            fail("zero_grad(set_to_none=False) should fill each existing .grad with zeros in place")


# ---------------------------------------------------------------------------
# Exercise 2.3: state_dict and load_state_dict
# ---------------------------------------------------------------------------


@pytest.mark.exercise("2.3")
def test_state_dict_matches_and_is_a_snapshot():
    model = tree(*MINE)
    state, expected = model.state_dict(), tree(*REF).state_dict()
    if list(state) != list(expected):
        fail(f"state_dict() keys on {TREE} are {list(state)}, expected {list(expected)}")
    for name, value in expected.items():
        assert_same_array(state[name], value, f"state_dict()[{name!r}]", TREE)
    model._parameters["scale"].data[...] = 99.0
    if state["scale"][0] == 99.0:
        fail("state_dict() should hold copies: changing the model changed the snapshot")


@pytest.mark.exercise("2.3")
def test_load_state_dict_copies_in_place():
    target = tree(*MINE)
    state = {name: value * 3 + 1 for name, value in tree(*REF).state_dict().items()}
    weight = target._modules["head"]._parameters["weight"]
    array = weight.data
    result = target.load_state_dict(state)
    if weight.data is not array:
        fail(
            "load_state_dict replaced a parameter's array: copy into it (tensor.data[...] = value)"
        )
    assert_same_array(weight.data, state["head.weight"], "head.weight after load_state_dict", TREE)
    if tuple(result) != ([], []):
        fail(f"load_state_dict of a complete state should return ([], []), got {tuple(result)}")


@pytest.mark.exercise("2.3")
def test_load_state_dict_takes_lists_and_tensors():
    """Step 1: a Tensor's .data, else np.asarray(value): nested lists load too."""
    reference = tree(*REF).state_dict()
    for form in ("nested lists", "Tensors"):
        target = tree(*MINE)
        if form == "nested lists":
            state = {name: (value * 2 - 1).tolist() for name, value in reference.items()}
        else:
            state = {name: my_autograd.Tensor(value * 2 - 1) for name, value in reference.items()}
        target.load_state_dict(state)
        weight = target._modules["head"]._parameters["weight"]
        assert_same_array(
            weight.data,
            reference["head.weight"] * 2 - 1,
            f"head.weight after load_state_dict of a state dict of {form}",
            TREE,
        )


def load_error(nn, autograd, state: dict, strict: bool) -> tuple[str | None, Any, np.ndarray]:
    model = tree(nn, autograd)
    try:
        result = model.load_state_dict(state, strict=strict)
    except NotImplementedError:
        raise  # a stub: not started (NotImplementedError is a kind of RuntimeError)
    except RuntimeError as error:
        return str(error), None, model._parameters["scale"].data.copy()
    return None, tuple(result), model._parameters["scale"].data.copy()


@pytest.mark.exercise("2.3")
@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("problem", ["missing", "unexpected", "wrong shape", "all three"])
def test_load_state_dict_reports_problems(problem, strict):
    state = tree(*REF).state_dict()
    state["scale"] = state["scale"] + 5
    if problem in ("missing", "all three"):
        del state["head.count"]
    if problem in ("unexpected", "all three"):
        state["head.extra"] = np.zeros(2, np.float32)
    if problem in ("wrong shape", "all three"):
        state["encoder.0.bias"] = np.zeros(4, np.float32)
    got_error, got_result, got_scale = load_error(*MINE, state, strict)
    want_error, want_result, want_scale = load_error(*REF, state, strict)
    case = f"load_state_dict(strict={strict}) with {problem} key(s)"
    if want_error is not None and got_error is None:
        fail(f"{case} should raise RuntimeError:\n{want_error}")
    if want_error is None and got_error is not None:
        fail(f"{case} should not raise, but raised: {got_error}")
    if got_error != want_error:
        fail(f"{case} raised the message {got_error!r}, expected {want_error!r}")
    if got_result != want_result:
        fail(f"{case} returned {got_result}, expected {want_result}")
    if not np.array_equal(got_scale, want_scale):
        fail(f"{case}: nothing may be loaded when there is an error; everything otherwise")


# ---------------------------------------------------------------------------
# Exercise 2.4: containers
# ---------------------------------------------------------------------------


def number_modules(nn):
    class Times(nn.Module):
        def __init__(self, factor: float) -> None:
            super().__init__()
            self.factor = factor

        def forward(self, x: float) -> float:
            return x * self.factor

    class Plus(nn.Module):
        def __init__(self, amount: float) -> None:
            super().__init__()
            self.amount = amount

        def forward(self, x: float) -> float:
            return x + self.amount

    return Times, Plus


@pytest.mark.exercise("2.4")
def test_sequential():
    Times, Plus = number_modules(my_nn)
    parts = [Times(2), Plus(1), Times(10)]
    model = my_nn.Sequential(*parts)
    if list(model._modules) != ["0", "1", "2"] or list(model._modules.values()) != parts:
        fail(
            f"Sequential(a, b, c) should register a, b, c as '0', '1', '2'; got {list(model._modules)}"
        )
    result = model(3)
    if result != 70:
        fail(f"Sequential(x*2, x+1, x*10)(3) gave {result}, expected 70 (in order: ((3*2)+1)*10)")
    if model[0] is not parts[0] or model[-1] is not parts[2]:
        fail("Sequential[0] and Sequential[-1] should be the first and the last module")
    tail = model[1:]
    if type(tail).__name__ != "Sequential" or len(tail) != 2 or tail(3) != 40:
        fail("Sequential[1:] should be a new Sequential of the last two modules ((3+1)*10 = 40)")


@pytest.mark.exercise("2.4")
def test_module_list():
    Times, Plus = number_modules(my_nn)
    layers = my_nn.ModuleList([Times(2)])
    returned = layers.append(Plus(1))
    layers.extend([Times(3), Plus(4)])
    if returned is not layers:
        fail("ModuleList.append should return the list itself")
    if list(layers._modules) != ["0", "1", "2", "3"]:
        fail(f"ModuleList should register its items as '0', '1', ...; got {list(layers._modules)}")
    if layers[1].amount != 1 or layers[-1].amount != 4:
        fail("ModuleList[i] should return the i-th module (negative i from the end)")
    if type(layers[1:3]).__name__ != "ModuleList" or len(layers[1:3]) != 2:
        fail("ModuleList[1:3] should be a new ModuleList of two modules")


@pytest.mark.exercise("2.4")
def test_module_dict():
    Times, Plus = number_modules(my_nn)
    heads = my_nn.ModuleDict({"digit": Times(2)})
    heads["angle"] = Plus(1)
    if list(heads._modules) != ["digit", "angle"]:
        fail(f"ModuleDict should register its modules by key, in order; got {list(heads._modules)}")
    if (
        heads["angle"].amount != 1
        or "digit" not in heads
        or list(heads.keys()) != ["digit", "angle"]
    ):
        fail("ModuleDict['angle'] should return the module stored under 'angle'")
    with pytest.raises(KeyError):
        heads["missing"]


# ---------------------------------------------------------------------------
# Exercise 2.5: initialisation
# ---------------------------------------------------------------------------


@pytest.mark.exercise("2.5")
@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (16, 1, 3)])
def test_fan_in_and_fan_out(shape):
    tensor = my_autograd.Tensor(np.zeros(shape, np.float32))
    got = my_init.fan_in_and_fan_out(tensor)
    want = ref_init.fan_in_and_fan_out(ref_autograd.Tensor(np.zeros(shape, np.float32)))
    if tuple(got) != want:
        fail(f"fan_in_and_fan_out of a {shape} weight gave {got}, expected {want}")
    what = "fan_in_and_fan_out of a (5,) tensor (fewer than 2 dimensions)"
    error = expect_error(
        ValueError, what, my_init.fan_in_and_fan_out, my_autograd.Tensor(np.zeros(5, np.float32))
    )
    expect_message_naming(error, what, "(5,)")


@pytest.mark.exercise("2.5")
@pytest.mark.parametrize("shape", [(6, 5), (8, 4, 3, 3)])
def test_fans_are_python_ints(shape):
    """The signature says tuple[int, int]: np.prod gives a NumPy number (1.0 for ())."""
    got = my_init.fan_in_and_fan_out(my_autograd.Tensor(np.zeros(shape, np.float32)))
    if not isinstance(got, tuple) or [type(fan) for fan in got] != [int, int]:
        shown = [type(fan).__name__ for fan in got] if isinstance(got, tuple) else got
        fail(
            f"fan_in_and_fan_out of a {shape} weight gave {got!r} ({shown}), expected a tuple "
            "of two Python ints: int(np.prod(shape[2:]))"
        )


INIT_CASES = [
    ("uniform_", (6, 5), {"a": -0.5, "b": 2.0}),
    ("normal_", (6, 5), {"mean": 1.0, "std": 0.1}),
    ("xavier_uniform_", (20, 30), {}),
    ("xavier_uniform_", (8, 4, 3, 3), {"gain": 2.0}),
    ("kaiming_uniform_", (20, 30), {}),
    ("kaiming_uniform_", (20, 30), {"a": 5**0.5}),
    ("kaiming_uniform_", (8, 4, 3, 3), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", (20, 30), {"nonlinearity": "relu"}),
    ("kaiming_normal_", (20, 30), {"mode": "fan_out", "nonlinearity": "tanh"}),
]


@pytest.mark.exercise("2.5")
@pytest.mark.parametrize(("name", "shape", "options"), INIT_CASES)
def test_init_draws_like_the_reference(name, shape, options):
    call = f"{name}(tensor {shape}, {', '.join(f'{k}={v!r}' for k, v in options.items())})"
    for seed in (0, 1):
        tensor = my_autograd.Tensor(np.zeros(shape, np.float32))
        expected = ref_autograd.Tensor(np.zeros(shape, np.float32))
        array = tensor.data
        seed_both(seed)
        returned = getattr(my_init, name)(tensor, **options)
        getattr(ref_init, name)(expected, **options)
        if returned is not tensor or tensor.data is not array:
            fail(f"{call} must fill tensor.data in place and return the tensor itself")
        assert_same_array(
            tensor.data, expected.data, call,
            f"seed {seed}; draw with default_generator() exactly as the docstring says",
        )  # fmt: skip


# ---------------------------------------------------------------------------
# Exercise 2.6: layers
# ---------------------------------------------------------------------------


@pytest.mark.exercise("2.6")
@pytest.mark.parametrize(("in_features", "out_features", "bias"), [(4, 3, True), (10, 1, False)])
def test_linear_initialisation(in_features, out_features, bias):
    seed_both(3)
    layer = my_nn.Linear(in_features, out_features, bias=bias)
    expected = ref_nn.Linear(in_features, out_features, bias=bias)
    call = f"Linear({in_features}, {out_features}, bias={bias}) after manual_seed(3)"
    assert_same_array(
        layer.weight.data, expected.weight.data, f"{call}: weight", "weight first, then bias"
    )
    if bias:
        assert_same_array(
            layer.bias.data, expected.bias.data, f"{call}: bias", "weight first, then bias"
        )
    elif layer.bias is not None:
        fail(f"{call}: bias should be None")


def linear_pair(in_features: int, out_features: int, bias: bool, seed: int):
    layers = (
        my_nn.Linear(in_features, out_features, bias),
        ref_nn.Linear(in_features, out_features, bias),
    )
    for layer in layers:  # the same weights in both, whatever the initialisation did
        layer.weight.data[...] = random_array((out_features, in_features), seed)
        if bias:
            layer.bias.data[...] = random_array((out_features,), seed + 1)
    return layers


@pytest.mark.exercise("2.6")
@pytest.mark.parametrize(("x_shape", "bias"), [((5, 4), True), ((2, 3, 4), True), ((4,), False)])
def test_linear_forward_and_gradients(x_shape, bias):
    mine, expected = linear_pair(4, 3, bias, seed=11)
    x = random_array(x_shape, 12)
    inputs = describe({"x": x}, 12, {"layer": "Linear(4, 3)", "bias": bias})
    my_x = my_autograd.Tensor(x.copy(), requires_grad=True)
    ref_x = ref_autograd.Tensor(x.copy(), requires_grad=True)
    out, want = mine(my_x), expected(ref_x)
    assert_same_array(out.data, want.data, "Linear output", inputs)
    g = random_array(want.shape, 13)
    out.backward(g)
    want.backward(g)
    assert_same_array(my_x.grad, ref_x.grad, "gradient of x", inputs)
    assert_same_array(mine.weight.grad, expected.weight.grad, "gradient of weight", inputs)
    if bias:
        assert_same_array(mine.bias.grad, expected.bias.grad, "gradient of bias", inputs)
    what = "Linear(4, 3) on x of shape (5, 7)"
    error = expect_error(ValueError, what, mine, my_autograd.Tensor(np.zeros((5, 7), np.float32)))
    expect_message_naming(error, what, "(5, 7)", "4")


def backward_to_input(out, x, want_out, want_x, what: str, inputs: str, seed: int) -> None:
    """Run backward from `out` with a random upstream gradient, in yours and in the answer
    key's graph, and compare the gradient that reaches the input `x`."""
    cut = "a new Tensor built from .data is not connected to x"
    if not out.requires_grad:
        fail(f"{what}: the result does not require grad although x does: {cut} ({inputs})")
    g = random_array(want_out.shape, seed)
    out.backward(g)
    want_out.backward(g)
    if x.grad is None:
        fail(f"{what}: backward from the result left x.grad None: {cut} ({inputs})")
    assert_same_array(x.grad, want_x.grad, f"{what}: gradient of x", inputs)


@pytest.mark.exercise("2.6")
@pytest.mark.parametrize(
    ("shape", "start_dim", "end_dim"),
    [((2, 3, 4, 5), 1, -1), ((2, 3, 4, 5), 0, 1), ((2, 3, 4, 5), 2, 3), ((6, 4), 1, -1)],
)
def test_flatten(shape, start_dim, end_dim):
    x = random_array(shape, 21)
    what, inputs = f"Flatten({start_dim}, {end_dim})", describe({"x": x}, 21)
    my_x = my_autograd.Tensor(x.copy(), requires_grad=True)
    ref_x = ref_autograd.Tensor(x.copy(), requires_grad=True)
    got = my_nn.Flatten(start_dim, end_dim)(my_x)
    want = ref_nn.Flatten(start_dim, end_dim)(ref_x)
    assert_same_array(got.data, want.data, f"{what} output", inputs)
    backward_to_input(got, my_x, want, ref_x, what, inputs, seed=22)


@pytest.mark.exercise("2.6")
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_dropout(p):
    x = random_array((6, 7), 31) + 3
    inputs = describe({"x": x}, 5, {"p": p})
    layer, expected = my_nn.Dropout(p), ref_nn.Dropout(p)
    seed_both(5)
    my_x = my_autograd.Tensor(x.copy(), requires_grad=True)
    ref_x = ref_autograd.Tensor(x.copy(), requires_grad=True)
    got, want = layer(my_x), expected(ref_x)
    assert_same_array(
        got.data,
        want.data,
        "Dropout output in training mode",
        inputs + "; draw the mask as the docstring says",
    )
    backward_to_input(got, my_x, want, ref_x, f"Dropout({p}) in training mode", inputs, seed=32)
    layer.eval()
    same = my_autograd.Tensor(x.copy())
    if layer(same) is not same:
        fail(f"Dropout({p}) in eval mode should return its input unchanged (the same tensor)")
    for bad_p in (1.5, -0.1):
        expect_error(
            ValueError, f"dropout(x, p={bad_p})", my_F.dropout, my_autograd.Tensor(x), bad_p
        )


# ---------------------------------------------------------------------------
# Exercise 2.7: softmax and log-softmax
# ---------------------------------------------------------------------------


def check_function(name: str, x: np.ndarray, dim: int, seed: int) -> None:
    """Forward value and input gradient of a Function, yours against the answer key's."""
    inputs = describe({"x": x}, seed, {"dim": dim})
    my_fn, ref_fn = getattr(my_F, name), getattr(ref_F, name)
    my_ctx, ref_ctx = my_autograd.Context(), ref_autograd.Context()
    my_x = x.copy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        try:
            got = my_fn.forward(my_ctx, my_x, dim)
        except FloatingPointError as error:
            fail(f"{name}.forward overflowed ({error}) for {inputs}: subtract the max first")
    want = ref_fn.forward(ref_ctx, x.copy(), dim)
    assert_same_array(got, want, f"{name}.forward output", inputs)
    if not np.array_equal(my_x, x):
        fail(f"{name}.forward modified its input x in place ({inputs}); compute into a new array")
    g = random_array(want.shape, seed + 1, want.dtype)
    got_grads, want_grads = my_fn.backward(my_ctx, g.copy()), ref_fn.backward(ref_ctx, g.copy())
    if not isinstance(got_grads, tuple) or len(got_grads) != 2 or got_grads[1] is not None:
        fail(f"{name}.backward should return (gradient of x, None)")
    assert_same_array(got_grads[0], want_grads[0], f"{name}.backward: gradient of x", inputs)


@pytest.mark.exercise("2.7")
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize(("shape", "dim"), [((4, 5), 1), ((4, 5), 0), ((2, 3, 4), -1), ((6,), 0)])
def test_softmax_functions(name, shape, dim):
    check_function(name, random_array(shape, 41), dim, 41)
    check_function(name, random_array(shape, 42, np.float64) * 3, dim, 42)


@pytest.mark.exercise("2.7")
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
def test_softmax_functions_are_stable(name):
    logits = np.array([[1e4, 0.0, -1e4], [-500.0, -501.0, -502.0], [88.0, 89.0, 90.0]], np.float32)
    check_function(name, logits, 1, 0)


# ---------------------------------------------------------------------------
# Exercise 2.8: losses
# ---------------------------------------------------------------------------


def run_loss(functional, autograd, name: str, arrays: dict, options: dict) -> tuple:
    """`name`(*arrays, **options) on fresh tensors, then backward: returns the loss, the
    first argument's tensor, and every argument's array as the call left it."""
    args = {k: autograd.Tensor(v.copy(), requires_grad=(i == 0)) if v.dtype.kind == "f" else v.copy()
            for i, (k, v) in enumerate(arrays.items())}  # fmt: skip
    call_options = dict(options)
    if "weight" in call_options:
        call_options["weight"] = autograd.Tensor(call_options["weight"].copy())
    loss = getattr(functional, name)(*args.values(), **call_options)
    loss.backward(np.ones(loss.shape, loss.dtype) if loss.ndim else None)
    left = {
        k: getattr(v, "data", v) for k, v in {**args, **call_options}.items() if k != "reduction"
    }
    return loss, next(iter(args.values())), left


FLOAT_ERRORS = {"over": "raise", "invalid": "raise", "divide": "raise"}


def compare_loss(
    name: str, arrays: dict[str, np.ndarray], options: dict[str, Any], seed: int, hint: str = ""
) -> None:
    """A loss and the gradient of its first argument, yours against the answer key's.
    Your loss runs with NumPy's overflow, invalid and divide-by-zero warnings as errors
    (the answer key raises none), and must leave its arguments unchanged."""
    inputs = describe(arrays, seed, options)
    try:
        with np.errstate(**FLOAT_ERRORS):
            loss, first, left = run_loss(my_F, my_autograd, name, arrays, options)
    except FloatingPointError as error:
        fail(f"{name}: NumPy {error} ({inputs}){hint}")
    want, want_first, _ = run_loss(ref_F, ref_autograd, name, arrays, options)
    for argument, original in {**arrays, **options}.items():
        if argument in left and not np.array_equal(left[argument], original):
            fail(
                f"{name} modified its argument {argument!r} in place ({inputs}); leave inputs unchanged"
            )
    assert_same_array(loss.data, want.data, f"{name} value", inputs + hint)
    assert_same_array(
        first.grad, want_first.grad, f"{name}: gradient of {next(iter(arrays))}", inputs + hint
    )


@pytest.mark.exercise("2.8")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_classification_losses(name, weighted, reduction):
    logits = random_array((6, 4), 51) * 2
    if name == "nll_loss":
        logits = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    target = np.array([0, 3, 1, 1, 2, 3])
    options: dict[str, Any] = {"reduction": reduction}
    if weighted:
        options["weight"] = np.array([0.5, 2.0, 1.0, 3.0], np.float32)
    compare_loss(name, {"input": logits, "target": target}, options, 51)


@pytest.mark.exercise("2.8")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    compare_loss("mse_loss", {"prediction": random_array((5, 3), 61), "target": random_array((5, 3), 62)},
                 {"reduction": reduction}, 61)  # fmt: skip


# Logits so large that exp overflows and softmax rounds to exactly 0 or 1 (float32).
HUGE_LOGITS = np.array([[1000, 0], [0, 1000], [-1000, 1000], [88, 89], [1e4, -1e4]], np.float32)


@pytest.mark.exercise("2.8")
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_classification_losses_are_stable(name, weighted, reduction):
    logits = HUGE_LOGITS
    if name == "nll_loss":  # log-probabilities, computed here the stable way
        shifted = logits - logits.max(axis=1, keepdims=True)
        logits = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    options: dict[str, Any] = {"reduction": reduction}
    if weighted:
        options["weight"] = np.array([0.5, 2.0], np.float32)
    hint = "; logits like [[1000, 0]]: use log_softmax, never log(softmax(x))"
    compare_loss(name, {"input": logits, "target": np.array([1, 0, 0, 1, 1])}, options, 0, hint)


@pytest.mark.exercise("2.8")
def test_losses_reject_bad_input():
    scores = my_autograd.Tensor(random_array((3, 4), 71))
    expect_error(
        IndexError, "cross_entropy(scores (3, 4), target [0, 4, 1]) (class 4 of 4 does not exist)",
        my_F.cross_entropy, scores, np.array([0, 4, 1]),
    )  # fmt: skip
    expect_error(
        ValueError, "nll_loss(scores (3, 4), target [0, 1]) (2 targets for 3 samples)",
        my_F.nll_loss, scores, np.array([0, 1]),
    )  # fmt: skip
    expect_error(
        TypeError, "cross_entropy(scores, target [0.0, 1.0, 2.0]) (class indices must be integers)",
        my_F.cross_entropy, scores, np.array([0.0, 1.0, 2.0]),
    )  # fmt: skip
    expect_error(
        ValueError, "mse_loss(scores, scores, reduction='average')",
        my_F.mse_loss, scores, scores, reduction="average",
    )  # fmt: skip
    # (N, 1) against (N,) would broadcast to (N, N) without a word: a wrong loss.
    for shapes in [((4, 1), (4,)), ((4,), (4, 1)), ((3, 4), (4, 3))]:
        prediction, target = (my_autograd.Tensor(random_array(shape, 72)) for shape in shapes)
        what = f"mse_loss of a {shapes[0]} prediction and a {shapes[1]} target"
        error = expect_error(ValueError, what, my_F.mse_loss, prediction, target)
        expect_message_naming(error, what, str(shapes[0]), str(shapes[1]))


@pytest.mark.exercise("2.8")
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("weighted", [False, True])
def test_classification_losses_reject_an_unknown_reduction(name, weighted):
    scores = my_autograd.Tensor(random_array((3, 4), 73))
    weight = my_autograd.Tensor(np.array([1.0, 2.0, 0.5, 1.0], np.float32)) if weighted else None
    shown = "[1, 2, 0.5, 1]" if weighted else "None"
    what = f"{name}(scores (3, 4), target [0, 2, 1], weight={shown}, reduction='average')"
    error = expect_error(
        ValueError, what, getattr(my_F, name), scores, np.array([0, 2, 1]), weight=weight,
        reduction="average",
    )  # fmt: skip
    expect_message_naming(error, what, "average")


# ---------------------------------------------------------------------------
# Exercise 2.9: saving and loading safely
# ---------------------------------------------------------------------------


@pytest.mark.exercise("2.9")
def test_save_then_load_round_trip(tmp_path: Path):
    state = {
        "encoder.0.weight": random_array((3, 2), 81),
        "encoder.0.bias": random_array((3,), 82, np.float64),
        "steps": np.array([7], np.int64),
        "mask": np.array([True, False]),
        "scale": my_autograd.Tensor(np.array([2.5], np.float32)),
    }
    path = tmp_path / "model.npz"
    my_nn.save(state, path)
    loaded = my_nn.load(path)
    if sorted(loaded) != sorted(state):
        fail(f"load(save(state)) has keys {sorted(loaded)}, expected {sorted(state)}")
    for name, value in state.items():
        array = value.data if hasattr(value, "grad") else value
        assert_same_array(loaded[name], array, f"loaded[{name!r}]", "save then load")
    if ref_nn.load(path).keys() != loaded.keys():
        fail("the answer key's load() cannot read the file your save() wrote: use the same format")
    for entry, value in [("name", np.array(["text"])), (my_nn.FORMAT_KEY, np.zeros(1))]:
        what = f"save({{{entry!r}: {value!r}}}, path)"
        error = expect_error(TypeError, what, my_nn.save, {entry: value}, tmp_path / "bad.npz")
        expect_message_naming(error, what, entry)


@pytest.mark.exercise("2.9")
def test_save_takes_lists_and_numbers(tmp_path: Path):
    """Step 1: a value that is not a Tensor goes through np.asarray."""
    state = {"counts": [[1, 2], [3, 4]], "rate": 0.5}
    path = tmp_path / "plain.npz"
    my_nn.save(state, path)
    loaded = my_nn.load(path)
    for name, value in state.items():
        if name not in loaded:
            fail(f"load(save({state}, path)) has no {name!r}")
        assert_same_array(loaded[name], np.asarray(value), f"loaded[{name!r}]", f"save({state})")


class _Canary:
    """Unpickling this creates a file: proof that loading ran code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def broken_files(folder: Path) -> dict[str, Path]:
    good = folder / "good.npz"
    ref_nn.save({"w": np.ones(3, np.float32)}, good)
    files = {
        "random bytes": folder / "random.bin",
        "a single .npy array": folder / "single.npy",
        "an .npz not written by save": folder / "foreign.npz",
        "a truncated archive": folder / "truncated.npz",
        "a pickle": folder / "pickle.pkl",
        "an .npz holding a pickled object": folder / "object.npz",
    }
    files["random bytes"].write_bytes(np.random.default_rng(0).bytes(200))
    np.save(files["a single .npy array"], np.zeros(3))
    np.savez(files["an .npz not written by save"], w=np.zeros(3))
    files["a truncated archive"].write_bytes(good.read_bytes()[:150])
    files["a pickle"].write_bytes(pickle.dumps(_Canary(str(folder / "ran-code"))))
    payload = np.empty(1, dtype=object)
    payload[0] = _Canary(str(folder / "ran-code"))
    with open(files["an .npz holding a pickled object"], "wb") as file:
        np.savez(file, **{ref_nn.FORMAT_KEY: np.array(ref_nn.FORMAT)}, w=payload)
    return files


@pytest.mark.exercise("2.9")
def test_load_refuses_everything_else(tmp_path: Path):
    for problem, path in broken_files(tmp_path).items():
        try:
            my_nn.load(path)
        except ValueError as error:
            start = f"cannot load {path} as a kindling checkpoint: "
            if not str(error).startswith(start):
                fail(f"loading {problem}: the ValueError should start {start!r}, got: {error}")
        else:
            fail(f"load() accepted {problem} ({path.name}): it should raise ValueError")
        if (tmp_path / "ran-code").exists():
            fail(f"loading {problem} RAN CODE from the file: use np.load(..., allow_pickle=False)")
    missing = tmp_path / "nowhere.npz"
    error = expect_error(FileNotFoundError, "load() of a missing file", my_nn.load, missing)
    expect_message_naming(error, "load() of a missing file", str(missing))
