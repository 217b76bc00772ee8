"""Graders for chapter 01 (autograd). Run them with: pytest chapters/01

Each test gives the same inputs to your `kindling.autograd` and to the answer
key, then compares results and gradients. Operations are graded through their
Function's `forward` and `backward` directly, so each exercise is graded on its
own code: Exercise 1.6 does not need your engine from 1.3 to be finished.
Exercise 1.8 runs on the answer key's `unbroadcast`, and your `gradcheck` (1.9)
on the answer key's Tensor and engine, for the same reason. Exercises 1.2 and
1.3 cannot avoid your Tensor (1.1) and Function.apply (1.2): when one of their
checks fails and an earlier exercise fails too, the message says to fix that
one first.
Inputs come from NumPy generators with fixed seeds; a failure names the seed.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import kindling.autograd as mine
import solutions.autograd as ref
from grading.check import (
    assert_same_array,
    assert_unchanged,
    describe,
    expect_error,
    expect_message_naming,
    fail,
)

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
    output_before = got.copy()

    grad_output = random_array(expected.shape, seed + 1000, dtype=expected.dtype)
    expected_grads = ref_fn.backward(ref_ctx, grad_output.copy())
    expected_grads = expected_grads if isinstance(expected_grads, tuple) else (expected_grads,)
    my_grad_output = grad_output.copy()
    my_grads = my_fn.backward(my_ctx, my_grad_output)
    my_grads = my_grads if isinstance(my_grads, tuple) else (my_grads,)
    assert_unchanged(
        {"grad_output": grad_output}, {"grad_output": my_grad_output}, f"{name}.backward"
    )
    assert_unchanged(tensors, my_arrays, f"{name}.backward")
    if not np.array_equal(got, output_before, equal_nan=True):
        fail(
            f"{name}.backward changed the array forward returned (the result tensor's data) "
            f"through what it saved in ctx: compute new arrays, never write into saved ones ({inputs})"
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


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def expect_no_overflow(name: str, a: np.ndarray, seed: int) -> None:
    """check_function with NumPy's RuntimeWarnings (overflow, invalid value) made failures."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            check_function(name, seed, {"a": a})
        except RuntimeWarning as warning:
            fail(
                f"{name} warned '{warning}' for a = {a.tolist()} ({a.dtype}): "
                "use a form that cannot overflow for large |a|"
            )


# ---------------------------------------------------------------------------
# Exercises 1.2 and 1.3 run through your Tensor (1.1) and Function.apply (1.2).
# When one of their checks fails, the earlier exercise's quick checks run: if
# one of those fails too, the message says to fix that exercise first.
# ---------------------------------------------------------------------------

EARLIER_PARTS = {"1.1": "Tensor", "1.2": "Function.apply"}


def check_tensor_basics() -> None:
    """What Exercises 1.2 and 1.3 use of your Tensor: construction from a float32 array."""
    array = np.array([1.0, -2.0], dtype=np.float32)
    tensor = mine.Tensor(array, requires_grad=True)
    if not isinstance(tensor.data, np.ndarray) or not np.array_equal(tensor.data, array):
        fail("Tensor(float32 array, requires_grad=True).data should be that array")
    if tensor.data.dtype != np.float32:
        fail(f"Tensor(float32 array).data has dtype {tensor.data.dtype}, expected float32")
    if tensor.requires_grad is not True or tensor.grad is not None or tensor.grad_fn is not None:
        fail(
            "Tensor(array, requires_grad=True) should have requires_grad=True, grad=None, grad_fn=None"
        )
    plain = mine.Tensor(array)
    if plain.requires_grad is not False or plain.grad_fn is not None:
        fail("Tensor(array) should have requires_grad=False and grad_fn=None")


def earlier_checks(exercise: str) -> list[Callable[[], None]]:
    if exercise == "1.1":
        return [check_tensor_basics]
    return [test_apply_runs_forward_on_raw_data, test_apply_records_the_graph]


def earlier_problem(exercise: str) -> str | None:
    """The first line of the first failing quick check of `exercise`, or None if all pass."""
    try:
        for check in earlier_checks(exercise):
            check()
    except NotImplementedError:
        return "it is not written yet"
    except AssertionError as error:  # a wrong value
        return first_line(error)
    except Exception as error:  # a crash
        return f"{type(error).__name__}: {first_line(error)}"
    return None


def blame_earlier(*earlier: str) -> Callable:
    """Decorate a grader that runs through the code of the `earlier` exercises."""

    def decorate(test: Callable) -> Callable:
        @functools.wraps(test)
        def graded(*args: Any, **kwargs: Any) -> None:
            __tracebackhide__ = True  # pytest shows the test's own frames, not this wrapper
            try:
                test(*args, **kwargs)
            except NotImplementedError:
                raise  # not started: the score table says which exercise it waits on
            except Exception as error:
                here = first_line(error)
                for exercise in earlier:
                    problem = earlier_problem(exercise)
                    if problem:
                        seen_here = "" if problem == here else f" (here: {here})"
                        fail(
                            f"this check runs through your {EARLIER_PARTS[exercise]} from "
                            f"Exercise {exercise}, which fails its own check ({problem}): fix "
                            f"Exercise {exercise} first{seen_here}"
                        )
                raise

        return graded

    return decorate


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
    # Only floating-point tensors can require gradients, whatever the data came as.
    for label, data, dtype in [
        ("[1, 2]", [1, 2], None),
        ("np.arange(3) (int64)", np.arange(3), None),
        ("[True, False]", [True, False], None),
        ("[1.0, 2.0], dtype=np.int32", [1.0, 2.0], np.int32),
    ]:
        expect_error(
            TypeError,
            f"Tensor({label}, requires_grad=True)",
            mine.Tensor,
            data,
            requires_grad=True,
            dtype=dtype,
        )


@pytest.mark.exercise("1.1")
def test_item():
    value = mine.Tensor([[2.5]]).item()
    if not isinstance(value, float) or value != 2.5:
        fail(f"Tensor([[2.5]]).item() returned {value!r}, expected the Python float 2.5")
    if mine.Tensor(7).item() != 7 or not isinstance(mine.Tensor(7).item(), int):
        fail("Tensor(7).item() should be the Python int 7")


@pytest.mark.exercise("1.1")
@pytest.mark.parametrize("shape", [(2, 3), (0, 2)])
def test_item_names_the_shape_of_a_tensor_without_one_element(shape):
    what = f"Tensor(np.zeros({shape})).item()"
    error = expect_error(ValueError, what, mine.Tensor(np.zeros(shape, np.float32)).item)
    expect_message_naming(error, what, str(shape))


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
# Test Functions built on YOUR Function class, so that exercises 1.2 and 1.3
# are graded without your own operations from 1.4 onwards.
# ---------------------------------------------------------------------------


def expect_arrays(function: str, *arrays: Any) -> None:
    """Function.apply must hand forward NumPy arrays, never Tensors."""
    for value in arrays:
        if not isinstance(value, np.ndarray):
            fail(
                f"{function}.forward received a {type(value).__name__}: Function.apply (Exercise "
                "1.2) must pass each Tensor argument's .data (a NumPy array)"
            )


def make_test_functions(module) -> SimpleNamespace:
    """Multiply, Square, Scale, Total and Fork, written on `module.Function`."""

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

    class Fork(module.Function):
        """out = a + b (same shapes). Backward passes grad_output itself on to both inputs,
        as torch's add does: the engine must not write into it or store it uncopied."""

        @staticmethod
        def forward(ctx, a, b):
            expect_arrays("Fork", a, b)
            return a + b

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, grad_output

    return SimpleNamespace(Multiply=Multiply, Square=Square, Scale=Scale, Total=Total, Fork=Fork)


MY_OPS = make_test_functions(mine)
REF_OPS = make_test_functions(ref)


# ---------------------------------------------------------------------------
# Exercise 1.2: recording the graph
# ---------------------------------------------------------------------------


@pytest.mark.exercise("1.2")
@blame_earlier("1.1")
def test_apply_runs_forward_on_raw_data():
    a = mine.Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    b = mine.Tensor(np.array([2.0, 0.5, -1.0], dtype=np.float32))
    out = MY_OPS.Multiply.apply(a, b)
    if not isinstance(out, mine.Tensor):
        fail(f"Function.apply returned {type(out).__name__}, expected a Tensor")
    inputs = "a = [1, 2, 3], b = [2, 0.5, -1] float32"
    assert_same_array(
        out.data, np.array([2.0, 1.0, -3.0], dtype=np.float32), "Multiply.apply(a, b).data", inputs
    )
    scaled = MY_OPS.Scale.apply(a, 3.0)
    assert_same_array(
        scaled.data, np.array([3.0, 6.0, 9.0], dtype=np.float32), "Scale.apply(a, 3.0).data", inputs
    )


@pytest.mark.exercise("1.2")
@blame_earlier("1.1")
def test_apply_records_the_graph():
    Multiply, Scale = MY_OPS.Multiply, MY_OPS.Scale
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
@blame_earlier("1.1")
def test_apply_without_grad():
    Multiply = MY_OPS.Multiply
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
    "chain: square(a * b)": lambda ops, a, b, c: ops.Square.apply(ops.Multiply.apply(a, b)),
    "leaf used twice: a * a": lambda ops, a, b, c: ops.Multiply.apply(a, a),
    "diamond: (a*b) * square(a*b)": lambda ops, a, b, c: (
        lambda ab: ops.Multiply.apply(ab, ops.Square.apply(ab))
    )(ops.Multiply.apply(a, b)),
    "long diamond: x=a*b; y=square(x); z=x*c; y*z + x*x": lambda ops, a, b, c: (
        lambda x: ops.Multiply.apply(
            ops.Multiply.apply(ops.Square.apply(x), ops.Multiply.apply(x, c)),
            ops.Scale.apply(x, 2.0),
        )
    )(ops.Multiply.apply(a, b)),
    "c does not require grad: (a * c) * (b * c)": lambda ops, a, b, c: ops.Multiply.apply(
        ops.Multiply.apply(a, c), ops.Multiply.apply(b, c)
    ),
    "a + b, one gradient array for both": lambda ops, a, b, c: ops.Fork.apply(a, b),
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
@blame_earlier("1.1", "1.2")
def test_backward_matches_reference(graph_name, seed):
    arrays = [random_array((3, 2), seed + i) for i in range(3)]
    grad = random_array((3, 2), seed + 100)  # dL/d(out): random, so every element counts
    _, expected_leaves = run_graph(ref, REF_OPS, GRAPHS[graph_name], arrays, grad)
    _, leaves = run_graph(mine, MY_OPS, GRAPHS[graph_name], arrays, grad)
    inputs = f"graph {graph_name}; a, b, c and grad: (3, 2) float32, random; seed {seed}"
    for name, leaf, expected_leaf in zip("abc", leaves, expected_leaves, strict=True):
        if expected_leaf.grad is None:
            if leaf.grad is not None:
                fail(f"{name} does not require grad but got a .grad ({inputs})")
            continue
        assert_same_array(
            leaf.grad, expected_leaf.grad, f"{name}.grad after out.backward(grad)", inputs
        )


@pytest.mark.exercise("1.3")
@blame_earlier("1.1", "1.2")
def test_backward_scalar_seed_and_errors():
    Square, Total = MY_OPS.Square, MY_OPS.Total
    a = mine.Tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    Total.apply(Square.apply(a)).backward()
    assert_same_array(
        a.grad,
        np.array([2.0, -4.0, 6.0], dtype=np.float32),
        "a.grad for sum(a*a)",
        "a = [1, -2, 3] float32",
    )
    expect_error(
        RuntimeError, "square(a).backward() with a: (3,) and no grad", Square.apply(a).backward
    )
    expect_error(
        RuntimeError,
        "Tensor(1.0).backward() on a tensor that does not require grad",
        mine.Tensor(np.array(1.0, dtype=np.float32)).backward,
    )


@pytest.mark.exercise("1.3")
@pytest.mark.parametrize("grad_shape", [(2,), (2, 3), ()])
@blame_earlier("1.1", "1.2")
def test_backward_rejects_a_wrongly_shaped_grad(grad_shape):
    a = mine.Tensor(random_array((3, 2), 5), requires_grad=True)
    grad = np.asarray(random_array(grad_shape, 6))
    what = f"square(a).backward(grad) with a: (3, 2) float32 and grad: {grad_shape} float32"
    error = expect_error(ValueError, what, MY_OPS.Square.apply(a).backward, grad)
    expect_message_naming(error, what, str(grad_shape), "(3, 2)")


@pytest.mark.exercise("1.3")
@blame_earlier("1.1", "1.2")
def test_backward_takes_grad_as_array_tensor_or_number():
    values = random_array((3, 2), 7)
    grad = random_array((3, 2), 8)
    inputs = "a, b: (3, 2) float32, random; seed 7"
    for label, given in [
        ("a float64 array", grad.astype(np.float64)),
        ("a Tensor", mine.Tensor(grad.copy())),
    ]:
        a = mine.Tensor(values.copy(), requires_grad=True)
        b = mine.Tensor(values.copy() + 1)
        call = f"(a * b).backward(grad) with grad given as {label}"
        try:
            MY_OPS.Multiply.apply(a, b).backward(given)
        except NotImplementedError:
            raise
        except Exception as error:  # say which form of grad it could not take
            fail(
                f"{call} raised {type(error).__name__}: {first_line(error)} (convert grad with "
                f"np.asarray(_raw(grad), dtype=self.dtype); {inputs})"
            )
        what = f"a.grad after {call}"
        assert_same_array(a.grad, grad * b.data, what, inputs)
    a = mine.Tensor(values.copy(), requires_grad=True)
    MY_OPS.Total.apply(a).backward(2.0)
    assert_same_array(
        a.grad, np.full((3, 2), 2, np.float32), "a.grad after sum(a).backward(2.0)", inputs
    )


@pytest.mark.exercise("1.3")
@blame_earlier("1.1", "1.2")
def test_backward_runs_each_leafs_hooks_once_its_gradient_is_added():
    """Chapter 07 averages each parameter's gradient across processes from these hooks: they
    must run once per backward pass and leaf, after the gradient is added, not before."""
    Multiply, Total = MY_OPS.Multiply, MY_OPS.Total
    x = mine.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = mine.Tensor(np.array([3.0, 4.0], dtype=np.float32), requires_grad=True)
    seen: list[tuple[str, np.ndarray | None]] = []
    for name, leaf in (("x", x), ("y", y)):
        leaf.register_post_accumulate_grad_hook(
            lambda tensor, name=name: seen.append(
                (name, None if tensor.grad is None else tensor.grad.copy())
            )
        )
    inputs = "x = [1, 2], y = [3, 4] float32, each with a post-accumulate-grad hook"
    passes = [
        ("sum(x * x * y)", lambda: Total.apply(Multiply.apply(Multiply.apply(x, x), y))),
        ("sum(x * y) (a second pass)", lambda: Total.apply(Multiply.apply(x, y))),
    ]
    for call, graph in passes:
        seen.clear()
        graph().backward()
        for name, leaf in (("x", x), ("y", y)):
            calls = [grad for who, grad in seen if who == name]
            if len(calls) != 1:
                fail(
                    f"{call}.backward() ran {name}'s hook {len(calls)} times, expected once: "
                    "call node._run_post_accumulate_grad_hooks() right after adding into a "
                    f"leaf's .grad, once per leaf ({inputs})"
                )
            if calls[0] is None or not np.array_equal(calls[0], leaf.grad):
                fail(
                    f"{call}.backward(): {name}'s hook saw {name}.grad = {calls[0]}, but after "
                    f"the pass it is {leaf.grad}: run the hooks after the gradient is added "
                    f"({inputs})"
                )


@pytest.mark.exercise("1.3")
@blame_earlier("1.1", "1.2")
def test_backward_never_writes_into_or_shares_gradient_arrays():
    """Backward may return one array for several inputs, or grad_output itself (Fork does
    both). The engine must then neither store it uncopied nor add into it in place."""
    Fork = MY_OPS.Fork
    x = mine.Tensor(random_array((2, 3), 11), requires_grad=True)
    y = mine.Tensor(random_array((2, 3), 12), requires_grad=True)
    seeds = [random_array((2, 3), 13), random_array((2, 3), 14)]
    kept = [seed.copy() for seed in seeds]
    inputs = "x, y, seed: (2, 3) float32, random; Fork(x, y) = x + y returns grad_output for both"

    def expect_seed_unchanged(call: str) -> None:
        for seed, before in zip(seeds, kept, strict=True):
            if not np.array_equal(seed, before):
                fail(
                    f"{call} changed the caller's seed array in place ({inputs}): never write into it"
                )

    out = Fork.apply(x, y)
    out.backward(seeds[0])
    expect_seed_unchanged("Fork(x, y).backward(seed)")
    if np.shares_memory(x.grad, y.grad):
        fail(
            "after Fork(x, y).backward(seed), x.grad and y.grad are the same array: store a "
            "copy as a leaf's first gradient (a backward may return one array for two inputs)"
        )
    if np.shares_memory(x.grad, seeds[0]):
        fail("after Fork(x, y).backward(seed), x.grad is the caller's seed array: store a copy")
    out.backward(seeds[1])
    expect_seed_unchanged("a second Fork(x, y).backward(seed)")
    for name, leaf in (("x", x), ("y", y)):
        what = f"{name}.grad after Fork(x, y).backward(seed1) then .backward(seed2)"
        assert_same_array(leaf.grad, kept[0] + kept[1], what, inputs)

    w = mine.Tensor(random_array((2, 3), 15), requires_grad=True)
    Fork.apply(w, w).backward(seeds[0])  # w gets grad_output twice: add, not +=
    expect_seed_unchanged("Fork(w, w).backward(seed)")
    assert_same_array(w.grad, 2 * kept[0], "w.grad after Fork(w, w).backward(seed)", inputs)

    leaf = mine.Tensor(random_array((2, 3), 16), requires_grad=True)
    leaf.backward(seeds[0])
    if np.shares_memory(leaf.grad, seeds[0]):
        fail("after leaf.backward(seed), leaf.grad is the caller's seed array: store a copy")


@pytest.mark.exercise("1.3")
@blame_earlier("1.1", "1.2")
def test_backward_accumulates_across_calls_and_only_into_leaves():
    a = mine.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    middle = MY_OPS.Square.apply(a)
    loss = MY_OPS.Total.apply(middle)
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


@pytest.mark.exercise("1.3")
@blame_earlier("1.1", "1.2")
def test_topological_order():
    Multiply, Square = MY_OPS.Multiply, MY_OPS.Square
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
@blame_earlier("1.1", "1.2")
def test_backward_through_a_long_chain():
    a = mine.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    out = a
    for _ in range(3000):  # deeper than Python's recursion limit
        out = MY_OPS.Scale.apply(out, 1.0)
    MY_OPS.Total.apply(out).backward()
    assert_same_array(
        a.grad,
        np.ones(3, dtype=np.float32),
        "a.grad after 3000 chained operations",
        "a: (3,) float32",
    )


@pytest.mark.exercise("1.3")
@blame_earlier("1.1", "1.2")
def test_backward_goes_on_after_an_input_without_gradient():
    """Multiply(c, a) with c not requiring grad: skip c, and still pass a its gradient."""
    a = mine.Tensor(random_array((3, 2), 21), requires_grad=True)
    c = mine.Tensor(random_array((3, 2), 22))
    grad = random_array((3, 2), 23)
    MY_OPS.Multiply.apply(c, a).backward(grad.copy())
    inputs = "a, c, grad: (3, 2) float32, random; c does not require grad"
    if a.grad is None:
        fail(f"a.grad is None after Multiply(c, a).backward(grad) ({inputs}): skip c, go on to a")
    assert_same_array(a.grad, grad * c.data, "a.grad after Multiply(c, a).backward(grad)", inputs)


@pytest.mark.exercise("1.3")
@blame_earlier("1.1", "1.2")
def test_backward_checks_each_gradient_a_function_returns():
    """A Function whose backward returns the wrong shape or dtype: _check_gradient's error."""

    def returning(gradient: np.ndarray) -> Any:
        class Broken(mine.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 2

            @staticmethod
            def backward(ctx, grad_output):
                return gradient

        return Broken

    for gradient, named in [
        (np.ones(5, np.float32), "(5,)"),
        (np.ones((3, 2), np.float64), "float64"),
    ]:
        a = mine.Tensor(random_array((3, 2), 24), requires_grad=True)
        out = returning(gradient).apply(a)
        what = (
            f"backward through a Function whose backward returns a {gradient.shape} "
            f"{gradient.dtype} gradient for a (3, 2) float32 input"
        )
        error = expect_error(RuntimeError, what, out.backward, np.ones((3, 2), np.float32))
        expect_message_naming(error, what, named)


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
@pytest.mark.parametrize(("grad_shape", "shape"), [((3, 2), (3, 1)), ((2, 4), (1, 4))])
def test_unbroadcast_an_axis_of_one_stretched_to_two(grad_shape, shape):
    grad = random_array(grad_shape, 8)
    got = mine.unbroadcast(grad.copy(), shape)
    assert_same_array(
        got,
        grad.sum(axis=shape.index(1), keepdims=True),
        f"unbroadcast(grad, {shape})",
        describe({"grad": grad}, 8),
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


@pytest.mark.exercise("1.4")
@pytest.mark.parametrize("exponent", [1.0, 2.0, 3.0])
def test_pow_at_zero_and_negative_values(exponent):
    # d(a**p)/da = p * a**(p-1) is finite at a = 0 for p >= 1; p * a**p / a is 0/0 there.
    a = np.array([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=np.float32)
    check_function("Pow", 33, {"a": a}, exponent=exponent)


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


LARGE_INPUTS = {
    np.float32: [-100.0, -50.0, 0.0, 50.0, 100.0],  # e^89 overflows float32
    np.float64: [-1000.0, -400.0, 0.0, 400.0, 1000.0],  # e^710 overflows float64
}


@pytest.mark.exercise("1.5")
@pytest.mark.parametrize("name", ["Sigmoid", "Tanh"])
@pytest.mark.parametrize("dtype", list(LARGE_INPUTS), ids=["float32", "float64"])
def test_sigmoid_and_tanh_are_stable_for_large_inputs(name, dtype):
    expect_no_overflow(name, np.array(LARGE_INPUTS[dtype], dtype=dtype), 43)


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
    ((4, 4), 1, False),  # square: a gradient put back along the wrong axis still fits
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


@pytest.mark.exercise("1.6")
@pytest.mark.parametrize("dim", [None, 0])
def test_max_of_an_empty_tensor_raises(dim):
    expect_error(
        ValueError,
        f"Max.forward(ctx, np.zeros((0, 3)), dim={dim}, keepdim=False)",
        mine.Max.forward,
        mine.Context(),
        np.zeros((0, 3), np.float32),
        dim,
        False,
    )


@pytest.mark.exercise("1.6")
@pytest.mark.parametrize("name", ["Sum", "Mean", "Max"])
@pytest.mark.parametrize(("shape", "dim"), [((1, 3), 1), ((3, 1), 0), ((1,), None)])
def test_reductions_with_axes_of_one(name, shape, dim):
    """An axis of size 1 that is not reduced stays; a one-element tensor has a max."""
    check_function(name, 54, {"a": random_array(shape, 54)}, dim=dim, keepdim=False)


@pytest.mark.exercise("1.6")
def test_max_over_the_non_empty_axis_of_an_empty_tensor_raises():
    """NumPy gives an empty result here; the exercise asks for ValueError on any empty tensor."""
    expect_error(
        ValueError,
        "Max.forward(ctx, np.zeros((0, 3)), dim=1, keepdim=False)",
        mine.Max.forward,
        mine.Context(),
        np.zeros((0, 3), np.float32),
        1,
        False,
    )


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
@pytest.mark.parametrize(("shape", "dims"), [((4,), (-1,)), ((4,), (0,))])
def test_permute_of_one_dimension(shape, dims):
    check_function("Permute", 64, {"a": random_array(shape, 64)}, dims=dims)


@pytest.mark.exercise("1.7")
@pytest.mark.parametrize("dims", [(0, 0, 1), (0, 1), (0, 1, 3)])
def test_permute_rejects_bad_dims(dims):
    expect_error(
        ValueError,
        f"Permute.forward(ctx, a of shape (2, 3, 4), {dims})",
        mine.Permute.forward,
        mine.Context(),
        np.zeros((2, 3, 4), np.float32),
        dims,
    )


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


@pytest.fixture
def answer_key_unbroadcast(monkeypatch):
    """MatMul's backward runs on the answer key's unbroadcast, so that Exercise 1.8 is graded
    on its own code even while your unbroadcast (1.4) is unfinished or wrong."""
    monkeypatch.setattr(mine, "unbroadcast", ref.unbroadcast)


@pytest.mark.exercise("1.8")
@pytest.mark.parametrize(("shape_a", "shape_b"), MATMUL_SHAPES)
def test_matmul(shape_a, shape_b, answer_key_unbroadcast):
    seed = 70 + len(shape_a) * 5 + len(shape_b)
    check_function(
        "MatMul", seed, {"a": random_array(shape_a, seed), "b": random_array(shape_b, seed + 1)}
    )


@pytest.mark.exercise("1.8")
@pytest.mark.parametrize(
    ("dtype_a", "dtype_b"),
    [(np.float32, np.float32), (np.int64, np.int64), (np.float32, np.float64)],
)
def test_matmul_product_of_big_matrices(dtype_a, dtype_b):
    """70 x 70 @ 70 x 60: big enough that the answer key hands it to a faster kernel.
    Non-negative entries, so that no sum cancels and float32 rounding stays relative."""
    a = np.abs(random_array((70, 70), 78) * 10).astype(dtype_a)
    b = np.abs(random_array((70, 60), 79) * 10).astype(dtype_b)
    assert_same_array(
        mine.MatMul.product(a, b),
        np.matmul(a, b),
        "MatMul.product(a, b)",
        describe({"a": a, "b": b}, 78),
    )


@pytest.mark.exercise("1.8")
def test_matmul_non_contiguous_and_float64(answer_key_unbroadcast):
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
@pytest.mark.parametrize(
    ("shape_a", "shape_b"), [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3, 4), (5, 2)), ((3,), (2, 4))]
)
def test_matmul_rejects_mismatched_shapes(shape_a, shape_b):
    what = f"MatMul.forward(ctx, a, b) with a: {shape_a}, b: {shape_b}"
    a, b = np.zeros(shape_a, np.float32), np.zeros(shape_b, np.float32)
    error = expect_error(ValueError, what, mine.MatMul.forward, mine.Context(), a, b)
    expect_message_naming(error, what, str(shape_a), str(shape_b))


@pytest.mark.exercise("1.8")
def test_matmul_rejects_a_scalar():
    what = "MatMul.forward(ctx, a, b) with a 0-d a"
    a, b = np.zeros((), np.float32), np.zeros((3,), np.float32)
    expect_error(ValueError, what, mine.MatMul.forward, mine.Context(), a, b)


# ---------------------------------------------------------------------------
# Exercise 1.9: checking gradients numerically
# ---------------------------------------------------------------------------

# Your gradcheck runs with the answer key's Tensor, Functions and grad mode in place of
# yours (every name it could use to build and differentiate tensors), so that Exercise
# 1.9 is graded on its own code even while your 1.1-1.8 are unfinished or wrong.
ENGINE_NAMES = sorted(
    name
    for name, value in vars(ref).items()
    if (name in ref.__all__ and name != "gradcheck")
    or (isinstance(value, type) and issubclass(value, ref.Function))
)
GRADCHECK_ERRORS = (mine.GradcheckError, ref.GradcheckError)


@pytest.fixture
def answer_key_engine(monkeypatch):
    for name in ENGINE_NAMES:
        monkeypatch.setattr(mine, name, getattr(ref, name))


def run_gradcheck(fn: Callable, inputs: list, call: str) -> Any:
    """What `gradcheck(fn, inputs)` returns, or the GradcheckError it raises. Any other
    exception fails the grader with a line that names the call."""
    try:
        return mine.gradcheck(fn, inputs)
    except NotImplementedError:
        raise
    except GRADCHECK_ERRORS as error:
        return error
    except Exception as error:  # a crash inside gradcheck: say where it happened
        fail(f"{call} raised {type(error).__name__}: {first_line(error)}")


def make_wrong_function(wrong_input: int, wrong_index: tuple[int, ...] | None):
    """Multiply whose backward is wrong for one input, at one element (or everywhere)."""

    class WrongMultiply(ref.Function):
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


class DoubleWithRowsSwapped(ref.Function):
    """out = 2a, whose backward sends each row's gradient to the mirrored row: wrong, yet
    right whenever every row of grad_output is the same (as with all-ones weights)."""

    @staticmethod
    def forward(ctx, a):
        return 2 * a

    @staticmethod
    def backward(ctx, grad_output):
        return 2 * grad_output[::-1].copy()


def gradcheck_inputs():
    a = ref.Tensor(random_array((2, 3), 91, np.float64), requires_grad=True)
    b = ref.Tensor(random_array((2, 3), 92, np.float64), requires_grad=True)
    return a, b


@pytest.mark.exercise("1.9")
def test_gradcheck_accepts_a_correct_gradient(answer_key_engine):
    a, b = gradcheck_inputs()
    before = a.data.copy()
    call = "gradcheck(multiply, [a, b]) with a, b: (2, 3) float64 (a correct Function)"
    result = run_gradcheck(REF_OPS.Multiply.apply, [a, b], call)
    if isinstance(result, GRADCHECK_ERRORS):
        fail(f"{call} rejected it: {first_line(result)}")
    if result is not True:
        fail(f"{call} returned {result!r}: return True")
    if not np.array_equal(a.data, before) or a.grad is not None:
        fail("gradcheck changed its inputs (their data or .grad): work on float64 copies")


@pytest.mark.exercise("1.9")
@pytest.mark.parametrize(("wrong_input", "wrong_index"), [(1, None), (0, (1, 2)), (1, (0, 1))])
def test_gradcheck_names_the_wrong_gradient(wrong_input, wrong_index, answer_key_engine):
    a, b = gradcheck_inputs()
    bad = make_wrong_function(wrong_input, wrong_index)
    where = "everywhere" if wrong_index is None else f"at index {wrong_index}"
    call = f"gradcheck(multiply whose backward is wrong for input {wrong_input} {where}, [a, b])"
    error = run_gradcheck(bad.apply, [a, b], call)
    if not isinstance(error, GRADCHECK_ERRORS):
        fail(f"{call} returned {error!r}: it should raise GradcheckError")
    message = str(error)
    if f"input {wrong_input}" not in message:
        fail(f"{call}: the message should name 'input {wrong_input}', got: {message}")
    if wrong_index is not None and str(wrong_index) not in message:
        fail(f"{call}: the message should name the index {wrong_index}, got: {message}")


@pytest.mark.exercise("1.9")
def test_gradcheck_weights_the_output_randomly(answer_key_engine):
    a = ref.Tensor(random_array((3, 2), 94, np.float64), requires_grad=True)
    call = "gradcheck(2a whose backward swaps the rows' gradients, [a]) with a: (3, 2) float64"
    result = run_gradcheck(DoubleWithRowsSwapped.apply, [a], call)
    if not isinstance(result, GRADCHECK_ERRORS):
        fail(
            f"{call} returned {result!r}: it should raise GradcheckError. Weight the output "
            "with a random v; with all-ones weights every row of grad_output is the same"
        )


@pytest.mark.exercise("1.9")
def test_gradcheck_with_inputs_that_get_no_gradient(answer_key_engine):
    a, unused = gradcheck_inputs()
    constant = ref.Tensor(random_array((2, 3), 95, np.float64))  # requires_grad=False
    call = (
        "gradcheck(lambda a, unused, constant: a * constant, [a, unused, constant]) where "
        "unused (requires grad) does not reach the output, so unused.grad stays None (zeros)"
    )
    result = run_gradcheck(
        lambda x, _, c: REF_OPS.Multiply.apply(x, c), [a, unused, constant], call
    )
    if isinstance(result, GRADCHECK_ERRORS):
        fail(f"{call} rejected correct gradients: {first_line(result)}")
    if result is not True:
        fail(f"{call} returned {result!r}: return True")


class TripleWithGradientTimes(ref.Function):
    """out = 3a, whose backward multiplies by `factor` instead of 3 (set on the class)."""

    factor = 3.0

    @staticmethod
    def forward(ctx, a):
        return 3 * a

    @staticmethod
    def backward(ctx, grad_output):
        return TripleWithGradientTimes.factor * grad_output


@pytest.mark.exercise("1.9")
def test_gradcheck_catches_a_gradient_too_small_or_too_large(answer_key_engine):
    """One element: whatever the sign of its random weight, one of the two is off downwards."""
    for factor in (2.0, 4.0):
        TripleWithGradientTimes.factor = factor
        a = ref.Tensor(np.array([0.7]), requires_grad=True)
        call = f"gradcheck(3a whose backward gives {factor:g} instead of 3, [a]) with a = [0.7]"
        result = run_gradcheck(TripleWithGradientTimes.apply, [a], call)
        if not isinstance(result, GRADCHECK_ERRORS):
            fail(f"{call} returned {result!r}: compare |analytical - numerical| with the tolerance")


@pytest.mark.exercise("1.9")
def test_gradcheck_goes_on_after_an_input_without_gradient(answer_key_engine):
    constant, (_, b) = ref.Tensor(random_array((2, 3), 97, np.float64)), gradcheck_inputs()
    bad = make_wrong_function(1, None)
    call = (
        "gradcheck(multiply wrong for input 1, [constant, b]) where constant does not require grad"
    )
    error = run_gradcheck(bad.apply, [constant, b], call)
    if not isinstance(error, GRADCHECK_ERRORS) or "input 1" not in str(error):
        fail(f"{call} returned {error!r}: skip input 0 and check input 1, which is wrong")


@pytest.mark.exercise("1.9")
def test_gradcheck_moves_one_element_at_a_time(answer_key_engine):
    a = ref.Tensor(random_array((2, 3), 98, np.float64), requires_grad=True)
    original = a.data.copy()
    moved = []

    def square(x: Any) -> Any:
        moved.append(int(np.sum(x.data != original)))
        return REF_OPS.Square.apply(x)

    call = "gradcheck(square, [a]) with a: (2, 3) float64"
    run_gradcheck(square, [a], call)
    if max(moved, default=0) > 1:
        fail(
            f"{call} called square with {max(moved)} elements of a moved at once: put each "
            "element back (x.data[k] = original) before moving the next"
        )


@pytest.mark.exercise("1.9")
def test_gradcheck_uses_float64(answer_key_engine):
    Multiply, Square = REF_OPS.Multiply, REF_OPS.Square
    a = ref.Tensor(random_array((3,), 93) * 100, requires_grad=True)  # float32 input
    call = "gradcheck(square(x * x), [x]) with x: (3,) float32, values near 100"
    result = run_gradcheck(lambda x: Square.apply(Multiply.apply(x, x)), [a], call)
    if isinstance(result, GRADCHECK_ERRORS):
        fail(
            f"{call} rejected a correct gradient (compute in float64 copies): {first_line(result)}"
        )
