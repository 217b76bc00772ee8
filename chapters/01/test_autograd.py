"""Graders for chapter 01 (autograd). Run them with: pytest chapters/01

Each test gives the same inputs to your `kindling.autograd` and to the answer
key, then compares results and gradients. Operations are graded through their
Function's `forward` and `backward` directly, so each exercise is graded on its
own code: Exercise 1.6 does not need your engine from 1.3 to be finished.
Inputs come from NumPy generators with fixed seeds; a failure names the seed.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import kindling.autograd as mine
import solutions.autograd as ref
from grading.check import assert_same_array, assert_unchanged, describe, fail

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def random_array(shape, seed, dtype=np.float32, positive=False, transposed=False) -> np.ndarray:
    """Seeded normal values; `positive` moves them into [0.5, 3); `transposed` makes a
    non-contiguous view (the transpose of a C-ordered array)."""
    rng = np.random.default_rng(seed)
    draw_shape = tuple(reversed(shape)) if transposed else shape
    values = rng.standard_normal(draw_shape)
    if positive:
        values = np.abs(values) + 0.5
    values = values.astype(dtype)
    return values.T if transposed else values


def copy_keeping_layout(value: Any) -> Any:
    return np.copy(value, order="K") if isinstance(value, np.ndarray) else value


def check_function(name: str, seed: int, tensors: dict[str, np.ndarray], **options: Any) -> None:
    """Differential test of one Function: its forward value, then each tensor input's gradient.

    Forward gets the `tensors` (in order), then the `options` (a dim, a shape,
    an index), exactly as `Function.apply` would pass them.
    """
    my_fn, ref_fn = getattr(mine, name), getattr(ref, name)
    inputs = describe(tensors, seed, options)
    my_arrays = {k: copy_keeping_layout(v) for k, v in tensors.items()}
    ref_arrays = {k: copy_keeping_layout(v) for k, v in tensors.items()}
    arguments = list(tensors) + list(options)

    ref_ctx, my_ctx = ref.Context(), mine.Context()
    expected = np.asarray(ref_fn.forward(ref_ctx, *ref_arrays.values(), *options.values()))
    got = my_fn.forward(my_ctx, *my_arrays.values(), *options.values())
    got = np.asarray(got) if isinstance(got, np.generic) else got
    assert_same_array(got, expected, f"{name}.forward output", inputs)
    assert_unchanged(tensors, my_arrays, f"{name}.forward")

    grad_output = random_array(expected.shape, seed + 1000, dtype=expected.dtype)
    expected_grads = ref_fn.backward(ref_ctx, grad_output.copy())
    expected_grads = expected_grads if isinstance(expected_grads, tuple) else (expected_grads,)
    my_grad_output = grad_output.copy()
    my_grads = my_fn.backward(my_ctx, my_grad_output)
    my_grads = my_grads if isinstance(my_grads, tuple) else (my_grads,)
    assert_unchanged(
        {"grad_output": grad_output}, {"grad_output": my_grad_output}, f"{name}.backward"
    )
    if len(my_grads) != len(arguments):
        fail(
            f"{name}.backward returned {len(my_grads)} gradient(s) for the {len(arguments)} forward "
            f"arguments ({', '.join(arguments)}): return one per argument, None for non-tensors"
        )
    for arg, expected_grad, my_grad in zip(arguments, expected_grads, my_grads, strict=True):
        if arg in options:
            if my_grad is not None:
                fail(
                    f"{name}.backward returned a gradient for {arg}, which is not a tensor: return None"
                )
            continue
        if isinstance(my_grad, np.generic):
            my_grad = np.asarray(my_grad)
        where = f"{name}.backward: gradient of {arg}"
        assert_same_array(my_grad, np.asarray(expected_grad), where, inputs)


# ---------------------------------------------------------------------------
# Exercise 1.1: the Tensor
# ---------------------------------------------------------------------------

DATA_CASES = [
    ("Python float", 1.5),
    ("nested list of floats", [[1.0, 2.0], [3.0, 4.5]]),
    ("list of ints", [1, 2, 3]),
    ("Python bool", True),
    ("float64 array", np.arange(6, dtype=np.float64).reshape(2, 3)),
    ("float32 array", np.ones((3,), dtype=np.float32)),
    ("int32 array", np.arange(4, dtype=np.int32)),
    ("NumPy scalar", np.float64(2.5)),
]


@pytest.mark.exercise("1.1")
@pytest.mark.parametrize(("label", "data"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_tensor_data_and_dtype(label, data):
    expected = ref.Tensor(copy_keeping_layout(data)).data
    tensor = mine.Tensor(copy_keeping_layout(data))
    assert_same_array(tensor.data, expected, f"Tensor({label}).data", f"data: {data!r}")
    if tensor.requires_grad is not False or tensor.grad is not None or tensor.grad_fn is not None:
        fail(f"Tensor({label}) should start with requires_grad=False, grad=None, grad_fn=None")


@pytest.mark.exercise("1.1")
def test_tensor_explicit_dtype_and_tensor_input():
    assert_same_array(
        mine.Tensor([1, 2], dtype=np.float64).data,
        np.array([1.0, 2.0]),
        "Tensor([1, 2], dtype=float64).data",
        "dtype given",
    )
    inner = mine.Tensor([1.0, 2.0])
    assert_same_array(
        mine.Tensor(inner).data, inner.data, "Tensor(another_tensor).data", "a Tensor as data"
    )


@pytest.mark.exercise("1.1")
def test_tensor_shares_numpy_memory():
    array = np.zeros((2, 2), dtype=np.float32)
    if not np.shares_memory(mine.Tensor(array).data, array):
        fail(
            "Tensor(array) copied the array: keep NumPy arrays as they are (np.asarray), as torch.from_numpy shares memory"
        )


@pytest.mark.exercise("1.1")
def test_tensor_requires_grad():
    tensor = mine.Tensor([1.0, 2.0], requires_grad=True)
    if tensor.requires_grad is not True or tensor.grad is not None or tensor.grad_fn is not None:
        fail(
            "Tensor([1.0, 2.0], requires_grad=True) should have requires_grad=True, grad=None, grad_fn=None"
        )
    with pytest.raises(TypeError):
        mine.Tensor([1, 2], requires_grad=True)  # integers cannot require grad


@pytest.mark.exercise("1.1")
def test_item():
    value = mine.Tensor([[2.5]]).item()
    if not isinstance(value, float) or value != 2.5:
        fail(f"Tensor([[2.5]]).item() returned {value!r}, expected the Python float 2.5")
    if mine.Tensor(7).item() != 7 or not isinstance(mine.Tensor(7).item(), int):
        fail("Tensor(7).item() should be the Python int 7")
    with pytest.raises(ValueError):
        mine.Tensor([1.0, 2.0]).item()


@pytest.mark.exercise("1.1")
def test_detach():
    tensor = mine.Tensor([1.0, 2.0], requires_grad=True)
    detached = tensor.detach()
    if not isinstance(detached, mine.Tensor):
        fail(f"detach() returned {type(detached).__name__}, expected a Tensor")
    if detached.data is not tensor.data and not np.shares_memory(detached.data, tensor.data):
        fail("detach() copied the data: the detached tensor should share it")
    if detached.requires_grad or detached.grad_fn is not None:
        fail("detach() result should have requires_grad=False and grad_fn=None")


# ---------------------------------------------------------------------------
# Test Functions built on YOUR Function class, so that exercises 1.2, 1.3 and
# 1.9 are graded without your own operations from 1.4 onwards.
# ---------------------------------------------------------------------------


def expect_arrays(function: str, *arrays: Any) -> None:
    """Function.apply must hand forward NumPy arrays, never Tensors."""
    for value in arrays:
        if not isinstance(value, np.ndarray):
            fail(
                f"{function}.forward received a {type(value).__name__}: Function.apply must pass "
                "each Tensor argument's .data (a NumPy array)"
            )


def make_test_functions(module):
    """Multiply, Square, Scale and Total, written on `module.Function`."""

    class Multiply(module.Function):
        @staticmethod
        def forward(ctx, a, b):
            expect_arrays("Multiply", a, b)
            ctx.save_for_backward(a, b)
            ctx.received = (type(a), type(b))
            return a * b

        @staticmethod
        def backward(ctx, grad_output):
            a, b = ctx.saved_tensors
            return grad_output * b, grad_output * a

    class Square(module.Function):
        @staticmethod
        def forward(ctx, a):
            expect_arrays("Square", a)
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad_output):
            (a,) = ctx.saved_tensors
            return 2 * a * grad_output

    class Scale(module.Function):
        """out = a * factor, for a number `factor` (a non-tensor argument)."""

        @staticmethod
        def forward(ctx, a, factor):
            expect_arrays("Scale", a)
            ctx.factor = factor
            ctx.received = (type(a), type(factor))
            return a * np.asarray(factor, dtype=a.dtype)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * np.asarray(ctx.factor, dtype=grad_output.dtype), None

    class Total(module.Function):
        """out = sum of every element."""

        @staticmethod
        def forward(ctx, a):
            expect_arrays("Total", a)
            ctx.shape = a.shape
            return np.asarray(a.sum())

        @staticmethod
        def backward(ctx, grad_output):
            return np.broadcast_to(grad_output, ctx.shape).copy()

    return Multiply, Square, Scale, Total


MY_OPS = make_test_functions(mine)
REF_OPS = make_test_functions(ref)


# ---------------------------------------------------------------------------
# Exercise 1.2: recording the graph
# ---------------------------------------------------------------------------


@pytest.mark.exercise("1.2")
def test_apply_runs_forward_on_raw_data():
    Multiply, _, Scale, _ = MY_OPS
    a = mine.Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    b = mine.Tensor(np.array([2.0, 0.5, -1.0], dtype=np.float32))
    out = Multiply.apply(a, b)
    if not isinstance(out, mine.Tensor):
        fail(f"Function.apply returned {type(out).__name__}, expected a Tensor")
    inputs = "a = [1, 2, 3], b = [2, 0.5, -1] float32"
    assert_same_array(
        out.data, np.array([2.0, 1.0, -3.0], dtype=np.float32), "Multiply.apply(a, b).data", inputs
    )
    scaled = Scale.apply(a, 3.0)
    assert_same_array(
        scaled.data, np.array([3.0, 6.0, 9.0], dtype=np.float32), "Scale.apply(a, 3.0).data", inputs
    )


@pytest.mark.exercise("1.2")
def test_apply_records_the_graph():
    Multiply, _, Scale, _ = MY_OPS
    a = mine.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    b = mine.Tensor(np.array([3.0, 4.0], dtype=np.float32))
    out = Multiply.apply(a, b)
    if out.requires_grad is not True:
        fail(
            "Multiply.apply(a, b) with a.requires_grad=True gave a result with requires_grad False"
        )
    ctx = out.grad_fn
    if not isinstance(ctx, mine.Context):
        fail(f"result.grad_fn should be the Context of the call, got {ctx!r}")
    if ctx.function is not Multiply:
        fail(
            f"result.grad_fn.function should be the Function class (Multiply), got {ctx.function!r}"
        )
    if len(ctx.inputs) != 2 or ctx.inputs[0] is not a or ctx.inputs[1] is not b:
        fail("result.grad_fn.inputs should be the argument Tensors themselves, in order: (a, b)")
    if ctx.received != (np.ndarray, np.ndarray):
        fail(f"forward received {ctx.received}: pass each Tensor argument's .data (a NumPy array)")
    if out.dtype != np.float32:
        fail(f"Multiply.apply of float32 tensors gave {out.dtype}, expected float32")

    scaled = Scale.apply(a, 3.0)
    if scaled.grad_fn is None or scaled.grad_fn.received != (np.ndarray, float):
        fail("Scale.apply(a, 3.0): forward should get a's data and the number 3.0 unchanged")
    if len(scaled.grad_fn.inputs) != 2 or scaled.grad_fn.inputs[1] is not None:
        fail(
            "grad_fn.inputs should hold None for a non-tensor argument (Scale.apply(a, 3.0) -> (a, None))"
        )


@pytest.mark.exercise("1.2")
def test_apply_without_grad():
    Multiply, _, _, _ = MY_OPS
    a = mine.Tensor(np.array([1.0, 2.0], dtype=np.float32))
    out = Multiply.apply(a, a)
    if out.requires_grad or out.grad_fn is not None:
        fail("no input requires grad, yet the result has requires_grad=True or a grad_fn")
    b = mine.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    with mine.no_grad():
        out = Multiply.apply(b, b)
    if out.requires_grad or out.grad_fn is not None:
        fail("inside no_grad(), the result should have requires_grad=False and no grad_fn")
    assert_same_array(
        out.data,
        np.array([1.0, 4.0], dtype=np.float32),
        "Multiply.apply(b, b) under no_grad",
        "b: (2,) float32",
    )
    if Multiply.apply(b, b).grad_fn is None:
        fail("after leaving no_grad(), the graph should be recorded again")


# ---------------------------------------------------------------------------
# Exercise 1.3: the backward pass
# ---------------------------------------------------------------------------

# Each graph is a function of (ops, tensors) -> output, built the same way on
# your Tensor and on the answer key's.
GRAPHS = {
    "chain: square(a * b)": lambda ops, a, b, c: ops[1].apply(ops[0].apply(a, b)),
    "leaf used twice: a * a": lambda ops, a, b, c: ops[0].apply(a, a),
    "diamond: (a*b) * square(a*b)": lambda ops, a, b, c: (
        lambda ab: ops[0].apply(ab, ops[1].apply(ab))
    )(ops[0].apply(a, b)),
    "long diamond: x=a*b; y=square(x); z=x*c; y*z + x*x": lambda ops, a, b, c: (
        lambda x: ops[0].apply(
            ops[0].apply(ops[1].apply(x), ops[0].apply(x, c)), ops[2].apply(x, 2.0)
        )
    )(ops[0].apply(a, b)),
    "c does not require grad: (a * c) * (b * c)": lambda ops, a, b, c: ops[0].apply(
        ops[0].apply(a, c), ops[0].apply(b, c)
    ),
}


def run_graph(module, ops, graph, arrays, grad):
    a = module.Tensor(arrays[0].copy(), requires_grad=True)
    b = module.Tensor(arrays[1].copy(), requires_grad=True)
    c = module.Tensor(arrays[2].copy())
    out = graph(ops, a, b, c)
    out.backward(grad.copy() if grad is not None else None)
    return out, (a, b, c)


@pytest.mark.exercise("1.3")
@pytest.mark.parametrize("graph_name", list(GRAPHS))
@pytest.mark.parametrize("seed", [1, 2])
def test_backward_matches_reference(graph_name, seed):
    arrays = [random_array((3, 2), seed + i) for i in range(3)]
    _, expected_leaves = run_graph(
        ref, REF_OPS, GRAPHS[graph_name], arrays, np.ones((3, 2), np.float32)
    )
    _, leaves = run_graph(mine, MY_OPS, GRAPHS[graph_name], arrays, np.ones((3, 2), np.float32))
    inputs = f"graph {graph_name}; a, b, c: (3, 2) float32; seed {seed}"
    for name, leaf, expected_leaf in zip("abc", leaves, expected_leaves, strict=True):
        if expected_leaf.grad is None:
            if leaf.grad is not None:
                fail(f"{name} does not require grad but got a .grad ({inputs})")
            continue
        assert_same_array(leaf.grad, expected_leaf.grad, f"{name}.grad after backward", inputs)


@pytest.mark.exercise("1.3")
def test_backward_scalar_seed_and_errors():
    Multiply, Square, _, Total = MY_OPS
    a = mine.Tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    Total.apply(Square.apply(a)).backward()
    assert_same_array(
        a.grad,
        np.array([2.0, -4.0, 6.0], dtype=np.float32),
        "a.grad for sum(a*a)",
        "a = [1, -2, 3] float32",
    )
    non_scalar = Square.apply(a)
    with pytest.raises(RuntimeError):
        non_scalar.backward()  # more than one element and no grad given
    with pytest.raises(RuntimeError):
        mine.Tensor(np.array(1.0, dtype=np.float32)).backward()  # does not require grad
    del Multiply


@pytest.mark.exercise("1.3")
def test_backward_accumulates_across_calls_and_only_into_leaves():
    Multiply, Square, _, Total = MY_OPS
    a = mine.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    middle = Square.apply(a)
    loss = Total.apply(middle)
    loss.backward()
    loss.backward()
    assert_same_array(
        a.grad,
        np.array([4.0, 8.0], dtype=np.float32),
        "a.grad after two backward() calls",
        "a = [1, 2]; loss = sum(a*a)",
    )
    if middle.grad is not None:
        fail("a non-leaf tensor (square(a)) got a .grad: only leaves store gradients")
    if a.grad.dtype != np.float32:
        fail(f"a.grad has dtype {a.grad.dtype}, expected float32 like a")
    del Multiply


@pytest.mark.exercise("1.3")
def test_topological_order():
    Multiply, Square, _, _ = MY_OPS
    a = mine.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = mine.Tensor(np.ones(2, dtype=np.float32))
    x = Multiply.apply(a, b)
    y = Square.apply(x)
    z = Multiply.apply(x, y)
    order = mine._reverse_topological_order(z)
    if not isinstance(order, list) or any(not isinstance(t, mine.Tensor) for t in order):
        fail("_reverse_topological_order should return a list of Tensors")
    if len(order) != len({id(t) for t in order}):
        fail("_reverse_topological_order listed a tensor twice: each should appear once")
    if {id(t) for t in order} != {id(t) for t in (z, y, x, a)}:
        fail(
            "_reverse_topological_order should list exactly the tensors that require grad: z, y, x, a (not b)"
        )
    position = {id(t): i for i, t in enumerate(order)}
    for consumer, parent in ((z, x), (z, y), (y, x), (x, a)):
        if position[id(consumer)] > position[id(parent)]:
            fail(
                "_reverse_topological_order put a tensor before one of its consumers (z = x * square(x))"
            )


@pytest.mark.exercise("1.3")
def test_backward_through_a_long_chain():
    _, _, Scale, Total = MY_OPS
    a = mine.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    out = a
    for _ in range(3000):  # deeper than Python's recursion limit
        out = Scale.apply(out, 1.0)
    Total.apply(out).backward()
    assert_same_array(
        a.grad,
        np.ones(3, dtype=np.float32),
        "a.grad after 3000 chained operations",
        "a: (3,) float32",
    )


# ---------------------------------------------------------------------------
# Exercise 1.4: arithmetic with broadcasting
# ---------------------------------------------------------------------------

BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((5, 1), (1, 6)),
]


@pytest.mark.exercise("1.4")
@pytest.mark.parametrize(
    ("grad_shape", "shape"),
    [((4, 2, 3), (2, 1)), ((3, 4), (4,)), ((2, 3), ()), ((2, 3), (2, 3)), ((5, 1, 3), (1, 1, 3))],
)
def test_unbroadcast(grad_shape, shape):
    grad = random_array(grad_shape, 7)
    got = mine.unbroadcast(grad.copy(), shape)
    got = np.asarray(got) if isinstance(got, np.generic) else got
    assert_same_array(
        got,
        np.asarray(ref.unbroadcast(grad.copy(), shape)),
        f"unbroadcast(grad, {shape})",
        describe({"grad": grad}, 7),
    )


@pytest.mark.exercise("1.4")
@pytest.mark.parametrize("name", ["Sub", "Mul", "Div"])
@pytest.mark.parametrize(("shape_a", "shape_b"), BROADCAST_SHAPES)
def test_binary_ops(name, shape_a, shape_b):
    seed = 10 + len(shape_a) * 7 + len(shape_b)
    a = random_array(shape_a, seed)
    b = random_array(shape_b, seed + 1, positive=(name == "Div"))
    check_function(name, seed, {"a": a, "b": b})


@pytest.mark.exercise("1.4")
@pytest.mark.parametrize("name", ["Sub", "Mul", "Div"])
def test_binary_ops_non_contiguous_and_float64(name):
    a = random_array((4, 3), 21, transposed=True)
    b = random_array((4, 3), 22, positive=True)
    check_function(name, 21, {"a": a, "b": b})
    check_function(
        name,
        23,
        {
            "a": random_array((2, 3), 23, np.float64),
            "b": random_array((3,), 24, np.float64, positive=True),
        },
    )


@pytest.mark.exercise("1.4")
@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("Neg", {}),
        ("Pow", {"exponent": 2.0}),
        ("Pow", {"exponent": 3.0}),
        ("Pow", {"exponent": -1.5}),
        ("Pow", {"exponent": 0.5}),
    ],
)
def test_unary_arithmetic(name, extra):
    check_function(name, 31, {"a": random_array((3, 4), 31, positive=True)}, **extra)
    check_function(
        name, 32, {"a": random_array((2, 3), 32, positive=True, transposed=True)}, **extra
    )


# ---------------------------------------------------------------------------
# Exercise 1.5: elementwise functions
# ---------------------------------------------------------------------------


@pytest.mark.exercise("1.5")
@pytest.mark.parametrize("name", ["Exp", "Log", "Sqrt", "ReLU", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("seed", [41, 42])
def test_elementwise(name, seed):
    positive = name in ("Log", "Sqrt")
    check_function(name, seed, {"a": random_array((4, 5), seed, positive=positive)})
    check_function(
        name, seed + 1, {"a": random_array((3, 2), seed + 1, positive=positive, transposed=True)}
    )
    check_function(
        name, seed + 2, {"a": random_array((6,), seed + 2, np.float64, positive=positive)}
    )


@pytest.mark.exercise("1.5")
def test_relu_at_zero():
    check_function("ReLU", 0, {"a": np.array([-1.0, 0.0, 0.0, 2.0], dtype=np.float32)})


@pytest.mark.exercise("1.5")
def test_sigmoid_is_stable():
    a = np.array([-100.0, -30.0, 0.0, 30.0, 100.0], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            check_function("Sigmoid", 0, {"a": a})
        except RuntimeWarning as warning:
            fail(
                f"Sigmoid.forward warned '{warning}' for a = {a.tolist()}: use the form without overflow"
            )


# ---------------------------------------------------------------------------
# Exercise 1.6: reductions
# ---------------------------------------------------------------------------

REDUCTION_CASES = [
    ((3, 4), None, False),
    ((3, 4), 0, False),
    ((3, 4), 1, True),
    ((2, 3, 4), -1, False),
    ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), (2, 0), True),
    ((5,), 0, True),
]


@pytest.mark.exercise("1.6")
@pytest.mark.parametrize("name", ["Sum", "Mean", "Max"])
@pytest.mark.parametrize(("shape", "dim", "keepdim"), REDUCTION_CASES)
def test_reductions(name, shape, dim, keepdim):
    check_function(name, 51, {"a": random_array(shape, 51)}, dim=dim, keepdim=keepdim)


@pytest.mark.exercise("1.6")
@pytest.mark.parametrize("name", ["Sum", "Mean", "Max"])
def test_reductions_non_contiguous(name):
    check_function(name, 52, {"a": random_array((4, 3), 52, transposed=True)}, dim=1, keepdim=False)


@pytest.mark.exercise("1.6")
@pytest.mark.parametrize(("dim", "keepdim"), [(None, False), (1, False), (0, True)])
def test_max_shares_gradient_among_ties(dim, keepdim):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 5.0]], dtype=np.float32)
    check_function("Max", 0, {"a": a}, dim=dim, keepdim=keepdim)


# ---------------------------------------------------------------------------
# Exercise 1.7: shapes and indexing
# ---------------------------------------------------------------------------


@pytest.mark.exercise("1.7")
@pytest.mark.parametrize(
    ("shape", "new_shape"),
    [((2, 6), (3, 4)), ((2, 3, 4), (6, -1)), ((4,), (2, 1, 2)), ((2, 3), (6,))],
)
def test_reshape(shape, new_shape):
    check_function("Reshape", 61, {"a": random_array(shape, 61)}, shape=new_shape)
    check_function(
        "Reshape", 62, {"a": random_array(shape[::-1], 62, transposed=True)}, shape=new_shape
    )


@pytest.mark.exercise("1.7")
@pytest.mark.parametrize(
    ("shape", "dims"),
    [
        ((2, 3), (1, 0)),
        ((2, 3, 4), (1, 2, 0)),
        ((2, 3, 4), (2, 0, 1)),
        ((2, 3, 4, 5), (0, -1, 1, -2)),
    ],
)
def test_permute(shape, dims):
    check_function("Permute", 63, {"a": random_array(shape, 63)}, dims=dims)


@pytest.mark.exercise("1.7")
def test_permute_rejects_bad_dims():
    with pytest.raises(ValueError):
        mine.Permute.forward(mine.Context(), np.zeros((2, 3, 4), np.float32), (0, 0, 1))


INDEX_CASES = [
    ("int", 1),
    ("negative int", -1),
    ("slice", slice(1, 3)),
    ("slice with step", slice(None, None, -2)),
    ("tuple of int and slice", (1, slice(0, 3))),
    ("integer array with repeats", np.array([0, 2, 0, 0])),
    ("two integer arrays", (np.array([0, 1, 1]), np.array([2, 2, 0]))),
    ("slice then repeated integers", (slice(None), np.array([3, 3, 1]))),
]


@pytest.mark.exercise("1.7")
@pytest.mark.parametrize(("label", "index"), INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_getitem(label, index):
    check_function("GetItem", 64, {"a": random_array((3, 4), 64)}, index=index)


# ---------------------------------------------------------------------------
# Exercise 1.8: matrix multiplication
# ---------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3, 4), (2, 4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((4,), (2, 4, 3)),
]


@pytest.mark.exercise("1.8")
@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES)
def test_matmul(shape_a, shape_b):
    seed = 70 + len(shape_a) * 5 + len(shape_b)
    check_function(
        "MatMul", seed, {"a": random_array(shape_a, seed), "b": random_array(shape_b, seed + 1)}
    )


@pytest.mark.exercise("1.8")
def test_matmul_non_contiguous_and_float64():
    check_function(
        "MatMul",
        81,
        {
            "a": random_array((5, 3), 81, transposed=True),
            "b": random_array((3, 2), 82, transposed=True),
        },
    )
    check_function(
        "MatMul",
        83,
        {"a": random_array((2, 3), 83, np.float64), "b": random_array((3, 4), 84, np.float64)},
    )


@pytest.mark.exercise("1.8")
def test_matmul_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        mine.MatMul.forward(
            mine.Context(), np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32)
        )


# ---------------------------------------------------------------------------
# Exercise 1.9: checking gradients numerically
# ---------------------------------------------------------------------------


def make_wrong_function(wrong_input: int, wrong_index: tuple[int, ...] | None):
    """Multiply whose backward is wrong for one input, at one element (or everywhere)."""

    class WrongMultiply(mine.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad_output):
            a, b = ctx.saved_tensors
            grads = [grad_output * b, grad_output * a]
            if wrong_index is None:
                grads[wrong_input] = grads[wrong_input] * 2
            else:
                grads[wrong_input] = grads[wrong_input].copy()
                grads[wrong_input][wrong_index] += 1.0
            return tuple(grads)

    return WrongMultiply


def gradcheck_inputs():
    a = mine.Tensor(random_array((2, 3), 91, np.float64), requires_grad=True)
    b = mine.Tensor(random_array((2, 3), 92, np.float64), requires_grad=True)
    return a, b


@pytest.mark.exercise("1.9")
def test_gradcheck_accepts_a_correct_gradient():
    Multiply, _, _, _ = MY_OPS
    a, b = gradcheck_inputs()
    before = a.data.copy()
    try:
        accepted = mine.gradcheck(Multiply.apply, [a, b])
    except mine.GradcheckError as error:
        fail(f"gradcheck rejected a correct Function (Multiply of two (2, 3) float64): {error}")
    if accepted is not True:
        fail(f"gradcheck returned {accepted!r} for a correct Function (Multiply): return True")
    if not np.array_equal(a.data, before) or a.grad is not None:
        fail("gradcheck changed its inputs (their data or .grad): work on float64 copies")


@pytest.mark.exercise("1.9")
@pytest.mark.parametrize(("wrong_input", "wrong_index"), [(1, None), (0, (1, 2)), (1, (0, 1))])
def test_gradcheck_names_the_wrong_gradient(wrong_input, wrong_index):
    a, b = gradcheck_inputs()
    bad = make_wrong_function(wrong_input, wrong_index)
    where = "everywhere" if wrong_index is None else f"at index {wrong_index}"
    try:
        mine.gradcheck(bad.apply, [a, b])
    except mine.GradcheckError as error:
        message = str(error)
        if f"input {wrong_input}" not in message:
            fail(
                f"gradcheck's message should name 'input {wrong_input}' (the wrong one), got: {message}"
            )
        if wrong_index is not None and str(wrong_index) not in message:
            fail(f"gradcheck's message should name the index {wrong_index}, got: {message}")
        return
    fail(
        f"gradcheck accepted a backward that is wrong for input {wrong_input} {where}: it should raise GradcheckError"
    )


@pytest.mark.exercise("1.9")
def test_gradcheck_uses_float64():
    Multiply, Square, _, _ = MY_OPS
    a = mine.Tensor(random_array((3,), 93) * 100, requires_grad=True)  # float32 input
    try:
        mine.gradcheck(lambda x: Square.apply(Multiply.apply(x, x)), [a])
    except mine.GradcheckError as error:
        fail(
            f"gradcheck rejected a correct gradient on float32 input (compute in float64 copies): {error}"
        )
