"""Graders for chapter 05 (convolutional networks). Run them with: pytest chapters/05

Each test gives the same seeded inputs to your `kindling.cnn` / `kindling.kernels` and
to the answer key, and compares results and every input's gradient with float32
tolerances (the answer key sums in its own order, on its Numba kernels, so yours may
differ in the last bits). Convolution and pooling are graded through their Function's
`forward` and `backward` directly, over a grid of batch sizes, channels, odd and
non-square images, kernels 1 to 5 (square or not), strides 1 to 3 and paddings 0 to 2.
The Numba kernels (5.4, 5.5, 5.6) are graded on their results, and for races: no two
iterations of a `prange` loop may write the same element (grading/kernel_checks.py runs
each kernel's Python source to find such a pair, then runs the compiled kernel again and
again with more threads than cores). A kernel costs only its own exercise: the tests of
the other exercises (a Function that calls `kernels.im2col`, the ConvNet whose fc1 calls
`kernels.matmul`) run on the answer key's kernels in place of yours.

Numba compiles a kernel the first time it is called with given types. This file compiles
the kernels (the answer key's, and yours for the same argument types) when it is
imported (yours in a second process, beside the answer key's), so that a test's time limit
measures the test, not the compiler; `cache=True` keeps the machine code on disk, so only
the first run pays for it.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
from numba.core.dispatcher import Dispatcher
from numba.core.errors import NumbaPerformanceWarning

import kindling.autograd as my_autograd
import kindling.cnn as my_cnn
import kindling.functional as my_F
import kindling.kernels as my_kernels
import kindling.nn as my_nn
import solutions.autograd as ref_autograd
import solutions.cnn as ref_cnn
import solutions.functional as ref_F
import solutions.kernels as ref_kernels
import solutions.nn as ref_nn
from grading.check import assert_same_array, assert_unchanged, describe, expect_error, fail
from grading.kernel_checks import RepeatedRuns, find_race
from grading.precompile import start_beside, wait_for

MINE = (my_cnn, my_nn, my_autograd, my_F)
REF = (ref_cnn, ref_nn, ref_autograd, ref_F)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def random_array(shape, seed, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def seed_both(seed: int) -> None:
    """Your code draws from kindling.autograd's generator, the answer key from its own."""
    my_autograd.manual_seed(seed)
    ref_autograd.manual_seed(seed)


def _compile_kernels() -> None:
    """Compile the Numba kernels now, not inside a timed test (see the docstring above).

    The answer key runs once on small inputs; then each of your kernels is compiled for
    the argument types the answer key's same-named kernel was called with. Nothing of
    yours runs here: a kernel that does not compile (a stub, a typing error) is left to
    the tests that use it, which will say what is wrong. When yours are not compiled yet,
    a second process compiles them meanwhile (grading/precompile.py).
    """
    beside = None if my_kernels is ref_kernels else start_beside(my_kernels, "kindling.kernels")
    x = random_array((2, 3, 6, 5), 0)
    weight, grad = random_array((4, 3, 3, 3), 1), random_array((2, 4, 6, 5), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        with contextlib.suppress(Exception):  # a broken answer key fails the tests instead
            ctx = ref_autograd.Context()
            ref_cnn.Conv2dFunction.forward(ctx, x, weight, weight[:, 0, 0, 0].copy(), 1, 1)
            ref_cnn.Conv2dFunction.backward(ctx, grad)
            ctx = ref_autograd.Context()
            out = ref_cnn.MaxPool2dFunction.forward(ctx, x, 2, 2, 0)
            ref_cnn.MaxPool2dFunction.backward(ctx, np.ones_like(out))
            ref_kernels.col2im(ref_kernels.im2col(x, 3, 3, 1, 1), 2, 3, 6, 5, 3, 3, 1, 1)
            for dtype in (np.float32, np.float64):  # matmul is graded in both
                a = random_array((5, 3), 3, dtype)
                ref_kernels.matmul(a, a.T)
                ref_kernels.matmul(a.T, a)
        wait_for(beside)
        for name, reference in vars(ref_kernels).items():
            mine = getattr(my_kernels, name, None)
            if isinstance(reference, Dispatcher) and isinstance(mine, Dispatcher):
                for signature in reference.signatures:
                    with contextlib.suppress(Exception):
                        mine.compile(signature)


_compile_kernels()

# The exercise that writes each of kindling.kernels' functions (the others are provided).
KERNEL_EXERCISE = {
    "matmul": "5.5",
    "im2col": "5.6",
    "col2im": "5.6",
    "max_pool2d_forward": "5.4",
    "max_pool2d_backward": "5.4",
}


@pytest.fixture(autouse=True)
def answer_key_kernels_elsewhere(request, monkeypatch):
    """A kernel's mistake costs only its own exercise: during a test of any other
    exercise, kindling.kernels' functions (and their names in your cnn module) are the
    answer key's. The answer key's autograd finds kernels.matmul there too."""
    marker = request.node.get_closest_marker("exercise")
    exercise = marker.args[0] if marker else None
    for name in ref_kernels.__all__:
        mine, reference = getattr(my_kernels, name, None), getattr(ref_kernels, name)
        if mine is None or mine is reference or KERNEL_EXERCISE.get(name) == exercise:
            continue
        monkeypatch.setattr(my_kernels, name, reference)
        for attribute, value in vars(my_cnn).items():  # `from .kernels import im2col as ...`
            if value is mine:
                monkeypatch.setattr(my_cnn, attribute, reference)


def check_function(
    name: str,
    tensors: dict[str, np.ndarray | None],
    options: dict[str, Any],
    seed: int,
    backward: bool,
    note: str = "",
) -> None:
    """Differential test of one Function, called as `Function.forward(ctx, ...)` directly.

    forward gets the `tensors` (in order, None for a missing bias), then the `options`
    (stride, padding...), as `Function.apply` would pass them. With `backward`, the same
    upstream gradient then goes to both backwards, and each input's gradient is compared.
    """
    my_fn, ref_fn = getattr(my_cnn, name), getattr(ref_cnn, name)
    inputs = describe(tensors, seed, options) + (f"; {note}" if note else "")
    arrays = {k: v for k, v in tensors.items() if v is not None}
    my_args = {k: None if v is None else v.copy() for k, v in tensors.items()}
    ref_args = {k: None if v is None else v.copy() for k, v in tensors.items()}

    ref_ctx, my_ctx = ref_autograd.Context(), my_autograd.Context()
    expected = ref_fn.forward(ref_ctx, *ref_args.values(), *options.values())
    got = my_fn.forward(my_ctx, *my_args.values(), *options.values())
    if not backward:
        assert_same_array(got, expected, f"{name}.forward output", inputs)
        assert_unchanged(arrays, {k: my_args[k] for k in arrays}, f"{name}.forward")
        if name == "Conv2dFunction" and not got.flags.c_contiguous:
            fail(f"{name}.forward returned a non-contiguous view: return a contiguous array")
        return

    grad_output = random_array(expected.shape, seed + 1000)
    expected_grads = ref_fn.backward(ref_ctx, grad_output.copy())
    my_grad_output = grad_output.copy()
    my_grads = my_fn.backward(my_ctx, my_grad_output)
    assert_unchanged(
        {"grad_output": grad_output}, {"grad_output": my_grad_output}, f"{name}.backward"
    )
    arguments = list(tensors) + list(options)
    if not isinstance(my_grads, tuple) or len(my_grads) != len(arguments):
        count = len(my_grads) if isinstance(my_grads, tuple) else type(my_grads).__name__
        fail(
            f"{name}.backward returned {count} gradient(s) for the {len(arguments)} forward "
            f"arguments ({', '.join(arguments)}): return a tuple, one per argument, None for "
            "non-tensors"
        )
    for arg, expected_grad, my_grad in zip(arguments, expected_grads, my_grads, strict=True):
        if expected_grad is None:
            if my_grad is not None:
                why = "it is not a tensor" if arg in options else "there is no bias"
                fail(f"{name}.backward returned a gradient for {arg}, but {why}: return None")
            continue
        where = f"{name}.backward: gradient of {arg}"
        assert_same_array(my_grad, expected_grad, where, inputs)


def message_mentions_shape(message: str, shape: tuple[int, ...]) -> bool:
    """True when the message shows the shape as [2, 3, 4], (2, 3, 4) or 2x3x4."""
    compact = re.sub(r"\s+", "", message)
    listed = ",".join(str(n) for n in shape)
    return any(f in compact for f in (f"[{listed}]", f"({listed})", "x".join(map(str, shape))))


def message_numbers(message: str) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", message)}


def expect_value_error(call, what: str) -> str:
    """The message of the ValueError that `call()` must raise."""
    return str(expect_error(ValueError, what, call))


# (N, C, H, W, F, kernel_h, kernel_w, stride, padding): odd and non-square images, kernels
# 1 to 5 (one non-square), strides 1 to 3, paddings 0 to 2.
CONV_GRID = [
    (1, 1, 5, 5, 1, 3, 3, 1, 0),  # the smallest usual case
    (2, 3, 7, 9, 4, 3, 3, 1, 1),  # odd, non-square image, 'same' padding
    (2, 2, 8, 6, 3, 2, 2, 2, 0),  # stride 2: windows that tile the image
    (1, 3, 9, 11, 2, 5, 5, 3, 2),  # kernel 5, stride 3, padding 2
    (3, 2, 6, 7, 5, 1, 1, 1, 0),  # a 1x1 kernel
    (2, 4, 5, 8, 3, 3, 5, 2, 1),  # a non-square kernel
    (1, 2, 4, 4, 2, 4, 4, 1, 0),  # the kernel covers the whole image: one output
    (2, 3, 10, 10, 4, 3, 3, 3, 2),  # stride 3 leaves the last padded row unused
    (1, 1, 3, 3, 2, 5, 5, 1, 1),  # kernel larger than the image, fits with padding
    (2, 1, 13, 5, 3, 4, 2, 2, 2),  # even kernel, odd sizes, padding 2
]
CONV_IDS = ["N{}C{}H{}W{}F{}k{}x{}s{}p{}".format(*case) for case in CONV_GRID]


def conv_arrays(case: tuple[int, ...], seed: int, bias: bool) -> dict[str, np.ndarray | None]:
    n, c, h, w, filters, kh, kw, _, _ = case
    return {
        "x": random_array((n, c, h, w), seed),
        "weight": random_array((filters, c, kh, kw), seed + 1),
        "bias": random_array((filters,), seed + 2) if bias else None,
    }


def cols_shape(case: tuple[int, ...]) -> tuple[int, int]:
    n, c, h, w, _, kh, kw, stride, padding = case
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (w + 2 * padding - kw) // stride + 1
    return n * out_h * out_w, c * kh * kw


# ---------------------------------------------------------------------------
# Exercise 5.1: output sizes
# ---------------------------------------------------------------------------


def output_size(module, size: int, kernel: int, stride: int, padding: int) -> int | str:
    """The size, or 'ValueError' when the window does not fit."""
    try:
        return module.conv_output_size(size, kernel, stride, padding)
    except ValueError:
        return "ValueError"


@pytest.mark.exercise("5.1")
def test_conv_output_size_over_a_grid():
    for size in (1, 2, 5, 7, 28):
        for kernel in (1, 2, 3, 5):
            for stride in (1, 2, 3):
                for padding in (0, 1, 2):
                    got = output_size(my_cnn, size, kernel, stride, padding)
                    want = output_size(ref_cnn, size, kernel, stride, padding)
                    call = (
                        f"conv_output_size(size={size}, kernel={kernel}, stride={stride}, "
                        f"padding={padding})"
                    )
                    if want == "ValueError" and got != want:
                        fail(
                            f"{call} returned {got!r}: the kernel does not fit in the padded "
                            f"size {size + 2 * padding}, so it should raise ValueError"
                        )
                    if got == "ValueError" and got != want:
                        fail(f"{call} raised ValueError, expected {want}: the window fits")
                    if got != want:
                        fail(f"{call} gave {got!r}, expected {want!r}")
                    if want != "ValueError" and not isinstance(got, (int, np.integer)):
                        fail(f"{call} returned a {type(got).__name__}, expected an int")


@pytest.mark.exercise("5.1")
@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "problem"),
    [
        (5, 3, 0, 0, "stride 0"),
        (5, 3, -1, 0, "a negative stride"),
        (5, 3, 1, -1, "a negative padding"),
        (4, 5, 1, 0, "a kernel larger than the input"),
        (3, 6, 2, 1, "a kernel larger than the padded input"),
    ],
)
def test_conv_output_size_errors(size, kernel, stride, padding, problem):
    call = f"conv_output_size(size={size}, kernel={kernel}, stride={stride}, padding={padding})"
    message = expect_value_error(
        lambda: my_cnn.conv_output_size(size, kernel, stride, padding), f"{call} ({problem})"
    )
    padded = size + 2 * padding
    if "kernel" in problem and not {kernel, padded} <= message_numbers(message):
        fail(
            f"{call} raised ValueError({message!r}): name both the kernel size {kernel} "
            f"and the padded size {padded}"
        )


# ---------------------------------------------------------------------------
# Exercise 5.2: convolution by im2col
# ---------------------------------------------------------------------------


@pytest.mark.exercise("5.2")
@pytest.mark.parametrize("case", CONV_GRID, ids=CONV_IDS)
def test_im2col(case):
    seed = CONV_GRID.index(case)
    x = conv_arrays(case, seed, bias=False)["x"]
    kh, kw, stride, padding = case[5:]
    options = {"kernel_h": kh, "kernel_w": kw, "stride": stride, "padding": padding}
    inputs = describe({"x": x}, seed, options)
    my_x = x.copy()
    got = my_cnn.im2col(my_x, kh, kw, stride, padding)
    assert_same_array(got, ref_cnn.im2col(x.copy(), kh, kw, stride, padding), "im2col", inputs)
    assert_unchanged({"x": x}, {"x": my_x}, "im2col")


@pytest.mark.exercise("5.2")
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("case", CONV_GRID, ids=CONV_IDS)
def test_conv2d_function_forward(case, bias):
    seed = 10 * CONV_GRID.index(case)
    options = {"stride": case[7], "padding": case[8]}
    check_function("Conv2dFunction", conv_arrays(case, seed, bias), options, seed, backward=False)


# ---------------------------------------------------------------------------
# Exercise 5.3: convolution backward
# ---------------------------------------------------------------------------


@pytest.mark.exercise("5.3")
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("case", CONV_GRID, ids=CONV_IDS)
def test_conv2d_function_backward(case, bias):
    seed = 10 * CONV_GRID.index(case)
    options = {"stride": case[7], "padding": case[8]}
    check_function("Conv2dFunction", conv_arrays(case, seed, bias), options, seed, backward=True)


@pytest.mark.exercise("5.3")
@pytest.mark.parametrize("case", CONV_GRID, ids=CONV_IDS)
def test_col2im(case):
    seed = 100 + CONV_GRID.index(case)
    n, c, h, w, _, kh, kw, stride, padding = case
    cols = random_array(cols_shape(case), seed)
    options = {"x_shape": (n, c, h, w), "kernel_h": kh, "kernel_w": kw, "stride": stride}
    options["padding"] = padding
    inputs = describe({"cols": cols}, seed, options)
    my_cols = cols.copy()
    got = my_cnn.col2im(my_cols, (n, c, h, w), kh, kw, stride, padding)
    want = ref_cnn.col2im(cols.copy(), (n, c, h, w), kh, kw, stride, padding)
    assert_same_array(got, want, "col2im (every copy of a pixel added back)", inputs)
    assert_unchanged({"cols": cols}, {"cols": my_cols}, "col2im")


# ---------------------------------------------------------------------------
# Exercise 5.4: max pooling
# ---------------------------------------------------------------------------

# (N, C, H, W, kernel, stride, padding)
POOL_GRID = [
    (1, 1, 4, 4, 2, 2, 0),  # the usual 2x2 pool
    (2, 3, 7, 9, 2, 2, 0),  # odd sizes: the last row and column are dropped
    (2, 2, 7, 7, 3, 2, 1),  # overlapping windows, padding 1
    (1, 2, 6, 5, 3, 1, 0),  # stride 1: every pixel in up to 9 windows
    (2, 1, 9, 8, 3, 3, 1),  # stride 3 with padding
    (1, 3, 5, 6, 2, 1, 1),  # kernel 2, stride 1, padding 1
    (3, 2, 8, 8, 2, 3, 0),  # stride larger than the kernel: pixels in no window
]
POOL_IDS = ["N{}C{}H{}W{}k{}s{}p{}".format(*case) for case in POOL_GRID]


VALUES = {
    "random": "x: normal values",
    "ties": "x: integers 0 to 2, so windows hold ties",
    "negative": "x: all negative (the padding must not win)",
    "minus-infinity": "x: mostly -inf, so some windows hold nothing else",
}


def pool_input(case: tuple[int, ...], seed: int, values: str) -> np.ndarray:
    shape = case[:4]
    if values == "ties":  # small integers: most windows hold their max more than once
        return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float32)
    if values == "negative":  # the padding must never win
        return -np.abs(random_array(shape, seed)) - 1
    if values == "minus-infinity":  # a window of -inf only: its first pixel holds the max
        hidden = np.random.default_rng(seed).random(shape) < 0.8
        return np.where(hidden, -np.inf, random_array(shape, seed)).astype(np.float32)
    return random_array(shape, seed)


@pytest.mark.exercise("5.4")
@pytest.mark.parametrize("values", ["random", "ties", "negative", "minus-infinity"])
@pytest.mark.parametrize("case", POOL_GRID, ids=POOL_IDS)
def test_max_pool_function(case, values):
    seed = 200 + POOL_GRID.index(case)
    kernel, stride, padding = case[4:]
    options = {"kernel": kernel, "stride": stride, "padding": padding}
    tensors = {"x": pool_input(case, seed, values)}
    note = VALUES[values]
    check_function("MaxPool2dFunction", tensors, options, seed, backward=False, note=note)
    check_function("MaxPool2dFunction", tensors, options, seed, backward=True, note=note)


@pytest.mark.exercise("5.4")
@pytest.mark.parametrize("values", ["random", "ties", "negative", "minus-infinity"])
@pytest.mark.parametrize("case", POOL_GRID, ids=POOL_IDS)
def test_max_pool_kernels(case, values):
    seed = 250 + POOL_GRID.index(case)
    x = pool_input(case, seed, values)
    h, w, kernel, stride, padding = case[2:]
    options = {"kernel": kernel, "stride": stride, "padding": padding}
    inputs = f"{describe({'x': x}, seed, options)}; {VALUES[values]}"
    my_x = x.copy()
    out, argmax = my_kernels.max_pool2d_forward(my_x, kernel, stride, padding)
    want_out, want_argmax = ref_kernels.max_pool2d_forward(x.copy(), kernel, stride, padding)
    assert_same_array(out, want_out, "kernels.max_pool2d_forward: out", inputs)
    where = "kernels.max_pool2d_forward: argmax (y * W + x of each window's first max)"
    assert_same_array(argmax, want_argmax, where, inputs)
    assert_unchanged({"x": x}, {"x": my_x}, "kernels.max_pool2d_forward")
    grad_output = random_array(want_out.shape, seed + 1)
    mine = {"grad_output": grad_output.copy(), "argmax": want_argmax.copy()}
    got = my_kernels.max_pool2d_backward(*mine.values(), h, w)
    want = ref_kernels.max_pool2d_backward(grad_output.copy(), want_argmax.copy(), h, w)
    assert_same_array(got, want, "kernels.max_pool2d_backward (given the right argmax)", inputs)
    before = {"grad_output": grad_output, "argmax": want_argmax}
    assert_unchanged(before, mine, "kernels.max_pool2d_backward")


@pytest.mark.exercise("5.4")
def test_max_pool_ties_go_to_the_first_position():
    """Every value equal: each window's gradient goes to its first (top-left) position only."""
    x = np.zeros((1, 1, 4, 6), np.float32)
    grad_output = np.arange(1, 7, dtype=np.float32).reshape(1, 1, 2, 3)
    ctx = my_autograd.Context()
    out = my_cnn.MaxPool2dFunction.forward(ctx, x.copy(), 2, 2, 0)
    assert_same_array(out, np.zeros((1, 1, 2, 3), np.float32), "MaxPool2dFunction output", "")
    grads = my_cnn.MaxPool2dFunction.backward(ctx, grad_output.copy())
    want = np.zeros_like(x)
    want[0, 0, ::2, ::2] = grad_output[0, 0]
    inputs = "x = zeros (1, 1, 4, 6), kernel 2, stride 2: four equal values in every window"
    assert_same_array(
        grads[0], want, "gradient of x (each window's gradient at its first max only)", inputs
    )


@pytest.mark.exercise("5.4")
@pytest.mark.parametrize(
    ("shape", "kernel", "padding", "padded"),
    [((1, 1, 2, 2), 5, 1, "4 x 4"), ((1, 1, 2, 6), 3, 0, "2 x 6"), ((1, 1, 6, 2), 3, 0, "6 x 2")],
)
def test_max_pool_window_must_fit(shape, kernel, padding, padded):
    x = random_array(shape, 7)
    call = (
        f"MaxPool2dFunction.forward(ctx, x {shape}, kernel={kernel}, stride=1, padding={padding})"
    )
    expect_value_error(
        lambda: my_cnn.MaxPool2dFunction.forward(my_autograd.Context(), x, kernel, 1, padding),
        f"{call}: the window does not fit in the padded {padded} input (check both sides), so it",
    )


# ---------------------------------------------------------------------------
# Exercise 5.5: a parallel matrix product (graded on results only)
# ---------------------------------------------------------------------------

# (m, k, n): tiny, odd, crossing the answer key's block edges (64 rows, 96 columns, 512
# deep), and the shapes of the ConvNet's fc1 (64 x 3136 x 128) and its transposes.
MATMUL_SHAPES = [
    (1, 1, 1),
    (7, 5, 3),
    (33, 17, 29),
    (65, 10, 97),
    (5, 513, 7),
    (64, 3136, 128),
    (128, 3136, 64),
    (3136, 128, 64),
]


def assert_product(got: Any, a: np.ndarray, b: np.ndarray, what: str, inputs: str) -> None:
    """`got` must be a @ b up to rounding: each element within 8 eps sqrt(k) (|a| @ |b|)
    of the exact product, a bound that any order of summation meets."""
    if not isinstance(got, np.ndarray):
        fail(f"{what}: expected a NumPy array, got {type(got).__name__} ({inputs})")
    shape, dtype = (a.shape[0], b.shape[1]), a.dtype
    if got.shape != shape or got.dtype != dtype:
        fail(f"{what} has shape {got.shape} {got.dtype}, expected {shape} {dtype} ({inputs})")
    exact = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    tolerance = 8 * np.finfo(dtype).eps * math.sqrt(a.shape[1]) * scale + 1e-30
    error = np.abs(got.astype(np.float64) - exact)
    wrong = np.argwhere(~(error <= tolerance))  # NaN counts as wrong
    if len(wrong):
        index = tuple(int(i) for i in wrong[0])
        fail(
            f"{what}: expected {exact[index]:.6g} at index {index}, got "
            f"{got[index]:.6g} ({len(wrong)} of {got.size} elements differ; {inputs})"
        )


@pytest.mark.exercise("5.5")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape", MATMUL_SHAPES, ids=["{}x{}x{}".format(*s) for s in MATMUL_SHAPES])
def test_matmul(shape, dtype):
    m, k, n = shape
    seed = sum(shape)
    a, b = random_array((m, k), seed, dtype), random_array((k, n), seed + 1, dtype)
    inputs = describe({"a": a, "b": b}, seed)
    my_a, my_b = a.copy(), b.copy()
    assert_product(my_kernels.matmul(my_a, my_b), a, b, "kernels.matmul(a, b)", inputs)
    assert_unchanged({"a": a, "b": b}, {"a": my_a, "b": my_b}, "kernels.matmul")


@pytest.mark.exercise("5.5")
def test_matmul_of_transposed_views():
    """The wrapper copies B^T contiguous; a transposed A arrives as a contiguous copy too."""
    a = random_array((40, 70), 5).T  # (70, 40), a non-contiguous view
    b = random_array((40, 50), 6)
    inputs = describe({"a": a, "b": b}, 5)
    assert_product(my_kernels.matmul(a, b), a, b, "kernels.matmul(a, b)", inputs)
    assert_product(my_kernels.matmul(b.T, a.T), b.T, a.T, "kernels.matmul(b.T, a.T)", inputs)


# ---------------------------------------------------------------------------
# Exercise 5.6: im2col and col2im, in parallel
# ---------------------------------------------------------------------------

KERNEL_GRID = [CONV_GRID[i] for i in (0, 1, 3, 5, 8, 9)]
KERNEL_IDS = [CONV_IDS[i] for i in (0, 1, 3, 5, 8, 9)]


@pytest.mark.exercise("5.6")
@pytest.mark.parametrize("case", KERNEL_GRID, ids=KERNEL_IDS)
def test_kernels_im2col(case):
    seed = 300 + CONV_GRID.index(case)
    x = conv_arrays(case, seed, bias=False)["x"]
    kh, kw, stride, padding = case[5:]
    options = {"kernel_h": kh, "kernel_w": kw, "stride": stride, "padding": padding}
    inputs = describe({"x": x}, seed, options)
    my_x = x.copy()
    got = my_kernels.im2col(my_x, kh, kw, stride, padding)
    want = ref_kernels.im2col(x.copy(), kh, kw, stride, padding)
    assert_same_array(got, want, "kernels.im2col", inputs)
    assert_unchanged({"x": x}, {"x": my_x}, "kernels.im2col")


@pytest.mark.exercise("5.6")
@pytest.mark.parametrize("case", KERNEL_GRID, ids=KERNEL_IDS)
def test_kernels_col2im(case):
    seed = 400 + CONV_GRID.index(case)
    n, c, h, w, _, kh, kw, stride, padding = case
    cols = random_array(cols_shape(case), seed)
    options = {"n": n, "c": c, "h": h, "w": w, "kernel_h": kh, "kernel_w": kw}
    options |= {"stride": stride, "padding": padding}
    inputs = describe({"cols": cols}, seed, options)
    my_cols = cols.copy()
    got = my_kernels.col2im(my_cols, *options.values())
    want = ref_kernels.col2im(cols.copy(), *options.values())
    assert_same_array(got, want, "kernels.col2im (every copy of a pixel added back)", inputs)
    assert_unchanged({"cols": cols}, {"cols": my_cols}, "kernels.col2im")


# ---------------------------------------------------------------------------
# Exercises 5.4, 5.5, 5.6: no two parallel tasks write the same element
# ---------------------------------------------------------------------------


def pool_with_a_shared_winner(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Random values with one large value per plane, away from the edges: it wins every
    3x3 window around it, windows of three different output rows."""
    x = random_array(shape, seed)
    x[:, :, 2, 2] = 10
    return x


# The tracer runs Python: small inputs. Compiled runs need many collisions to show one.
TRACED_SIZE = (2, 2, 7, 6)  # (N, C, H, W)
COMPILED_SIZE = (4, 16, 64, 64)


def race_inputs(kernel: str, size: tuple[int, int, int, int]) -> tuple:
    """Arguments for `kernel` on which careless tasks collide: overlapping windows (stride
    1, kernel 3 x 2 or 3 x 3), several images and output rows, several blocks of C."""
    n, c, h, w = size
    seed = 900 + h
    if kernel == "im2col":
        return (random_array(size, seed), 3, 2, 1, 1)
    if kernel == "col2im":
        cols = random_array(cols_shape((n, c, h, w, 1, 3, 2, 1, 1)), seed)
        return (cols, n, c, h, w, 3, 2, 1, 1)
    pooled = pool_with_a_shared_winner(size, seed)
    if kernel == "max_pool2d_forward":
        return (pooled, 3, 1, 1)
    if kernel == "max_pool2d_backward":
        out, argmax = ref_kernels.max_pool2d_forward(pooled, 3, 1, 1)
        return (random_array(out.shape, seed + 1), argmax, h, w)
    # matmul: 2h + 116 rows and 100 columns cross the answer key's blocks (128 x 48)
    a, b = random_array((2 * h + 116, c + 1), seed), random_array((c + 1, 100), seed + 1)
    if kernel == "_matmul_2d":
        return (a, np.ascontiguousarray(b.T), np.empty((a.shape[0], 100), np.float32))
    return (a, b)


def race_options(args: tuple) -> str:
    arrays = {f"argument {i}": a for i, a in enumerate(args) if isinstance(a, np.ndarray)}
    numbers = [a for a in args if not isinstance(a, np.ndarray)]
    return describe(arrays, options={"then": numbers} if numbers else None)


# The compiled kernels, run again and again in a fresh process with many more threads
# than cores (measured: a col2im with one task per output row, racing, gave a wrong
# result in 11 of 30 runs with 32 threads, never with 2); one process for all kernels,
# started now, in the background, and read by the tests below.
REPEATED_CALLS = ["im2col", "col2im", "max_pool2d_forward", "max_pool2d_backward", "matmul"]
REPEATED = RepeatedRuns(
    {name: (name, race_inputs(name, COMPILED_SIZE)) for name in REPEATED_CALLS},
    runs=30,
    threads=32,
)


def check_no_race(traced: str, compiled: str) -> None:
    """Fail when two prange iterations of kernels.`traced` write one element (found by
    running its Python source), or when kernels.`compiled`'s results change between runs."""
    args = race_inputs(traced, TRACED_SIZE)
    race = find_race(getattr(my_kernels, traced), *(copy_of(a) for a in args))
    if race is not None:
        fail(
            f"kernels.{traced}: results change from run to run: {race}, and two tasks that "
            f"write one element can overwrite each other ({race_options(args)}). Give each "
            "task elements of its own"
        )
    report = REPEATED.results().get(compiled, {})
    if report.get("status") == "differs":
        inputs = race_options(race_inputs(compiled, COMPILED_SIZE))
        fail(
            f"kernels.{compiled}: results change from run to run: run {report['run']} of "
            f"{REPEATED.runs} (with {REPEATED.threads} threads) differs from the first at "
            f"index {tuple(report['index'])} of output {report['output']}: {report['first']:.6g}"
            f", then {report['again']:.6g} ({inputs}). Two tasks write the same element: give "
            "each task elements of its own"
        )


def copy_of(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else value


@pytest.mark.exercise("5.4")
@pytest.mark.parametrize("kernel", ["max_pool2d_forward", "max_pool2d_backward"])
def test_pool_kernels_have_no_races(kernel):
    check_no_race(kernel, kernel)


@pytest.mark.exercise("5.5")
def test_matmul_kernel_has_no_races():
    check_no_race("_matmul_2d", "matmul")


@pytest.mark.exercise("5.6")
@pytest.mark.parametrize("kernel", ["im2col", "col2im"])
def test_im2col_kernels_have_no_races(kernel):
    check_no_race(kernel, kernel)


# ---------------------------------------------------------------------------
# Exercise 5.7: conv2d and max_pool2d, as functions and as modules
# ---------------------------------------------------------------------------


def tensor(array: np.ndarray) -> my_autograd.Tensor:
    return my_autograd.Tensor(array)


@pytest.mark.exercise("5.7")
@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (2, 1, 28, 28, 1)])
def test_conv2d_rejects_input_that_is_not_4d(shape):
    x, weight = tensor(np.zeros(shape, np.float32)), tensor(np.zeros((4, 1, 3, 3), np.float32))
    message = expect_value_error(
        lambda: my_cnn.conv2d(x, weight), f"conv2d(input of shape {shape}, weight (4, 1, 3, 3))"
    )
    if not message_mentions_shape(message, shape):
        fail(
            f"conv2d's error for an input of shape {shape} says {message!r}: name the shape, "
            f"as torch does (Expected 4D (batched) input to conv2d, but got input of size: "
            f"{list(shape)})"
        )


@pytest.mark.exercise("5.7")
@pytest.mark.parametrize("w_shape", [(4, 9), (4, 1, 3)])  # (4, 1, 3): its channels match
def test_conv2d_rejects_weight_that_is_not_4d(w_shape):
    x, weight = tensor(np.zeros((2, 1, 8, 8), np.float32)), tensor(np.zeros(w_shape, np.float32))
    message = expect_value_error(
        lambda: my_cnn.conv2d(x, weight), f"conv2d(input (2, 1, 8, 8), weight of shape {w_shape})"
    )
    if not message_mentions_shape(message, w_shape):
        fail(f"conv2d's error for a weight of shape {w_shape} says {message!r}: name the shape")


@pytest.mark.exercise("5.7")
@pytest.mark.parametrize(
    ("x_shape", "w_shape"), [((2, 3, 8, 8), (4, 1, 3, 3)), ((64, 3, 28, 28), (32, 1, 3, 3))]
)
def test_conv2d_rejects_a_channel_mismatch(x_shape, w_shape):
    x, weight = tensor(np.zeros(x_shape, np.float32)), tensor(np.zeros(w_shape, np.float32))
    message = expect_value_error(
        lambda: my_cnn.conv2d(x, weight),
        f"conv2d(input {x_shape}, weight {w_shape}): {x_shape[1]} channels given, "
        f"{w_shape[1]} expected; it",
    )
    if not (message_mentions_shape(message, x_shape) and message_mentions_shape(message, w_shape)):
        fail(
            f"conv2d's channel error says {message!r}: name both shapes, as torch does "
            f"(Given groups=1, weight of size {list(w_shape)}, expected input{list(x_shape)} "
            f"to have {w_shape[1]} channels, but got {x_shape[1]} channels instead)"
        )


@pytest.mark.exercise("5.7")
@pytest.mark.parametrize(
    ("x_shape", "kernel", "padding", "too_small"),
    [((1, 1, 3, 3), 6, 1, 5), ((1, 2, 6, 2), 3, 0, 2), ((2, 1, 2, 9), 5, 1, 4)],
)
def test_conv2d_rejects_a_kernel_larger_than_the_padded_input(x_shape, kernel, padding, too_small):
    x = tensor(np.zeros(x_shape, np.float32))
    weight = tensor(np.zeros((3, x_shape[1], kernel, kernel), np.float32))
    call = f"conv2d(input {x_shape}, kernel {kernel}x{kernel}, padding={padding})"
    message = expect_value_error(
        lambda: my_cnn.conv2d(x, weight, None, 1, padding),
        f"{call}: the padded input is {too_small} wide on one side, so it",
    )
    if not {kernel, too_small} <= message_numbers(message):
        fail(
            f"{call} raised ValueError({message!r}): name the kernel size {kernel} and the "
            f"padded input size {too_small}"
        )


@pytest.mark.exercise("5.7")
def test_max_pool2d_errors():
    x3 = tensor(np.zeros((3, 8, 8), np.float32))
    message = expect_value_error(lambda: my_cnn.max_pool2d(x3, 2), "max_pool2d(input (3, 8, 8))")
    if not message_mentions_shape(message, (3, 8, 8)):
        fail(f"max_pool2d's error for a 3-D input says {message!r}: name its shape [3, 8, 8]")
    x = tensor(np.zeros((1, 1, 8, 8), np.float32))
    call = "max_pool2d(input (1, 1, 8, 8), kernel_size=3, padding=2)"
    message = expect_value_error(
        lambda: my_cnn.max_pool2d(x, 3, 1, 2), f"{call} (padding above kernel_size // 2)"
    )
    if not {2, 3} <= message_numbers(message):
        fail(f"{call} raised ValueError({message!r}): name the padding 2 and the kernel size 3")


CONV2D_INIT = [((1, 32, 3), True, 0), ((3, 8, 5), False, 1), ((4, 6, 1), True, 2)]


@pytest.mark.exercise("5.7")
@pytest.mark.parametrize(("sizes", "bias", "seed"), CONV2D_INIT)
def test_conv2d_initialisation(sizes, bias, seed):
    seed_both(seed)
    layer = my_cnn.Conv2d(*sizes, stride=2, padding=1, bias=bias)
    expected = ref_cnn.Conv2d(*sizes, stride=2, padding=1, bias=bias)
    call = f"Conv2d{sizes[0], sizes[1], sizes[2]} with bias={bias} after manual_seed({seed})"
    names = [name for name, _ in layer.named_parameters()]
    want = [name for name, _ in expected.named_parameters()]
    if names != want:
        fail(f"{call} has parameters {names}, expected {want}")
    how = "weight first (kaiming_uniform_, a=sqrt(5)), then bias"
    assert_same_array(layer.weight.data, expected.weight.data, f"{call}: weight", how)
    if bias:
        assert_same_array(layer.bias.data, expected.bias.data, f"{call}: bias", how)
    elif layer.bias is not None:
        fail(f"{call}: bias should be None")
    if repr(layer) != repr(expected):
        fail(
            f"repr of {call} is {repr(layer)!r}, expected {repr(expected)!r}: store "
            "in_channels, out_channels, kernel_size, stride and padding"
        )


def copy_into(layer, array: np.ndarray | None, name: str) -> None:
    if array is not None:
        getattr(layer, name).data[...] = array


def run_layer(modules, make, x: np.ndarray, weight, bias, seed: int) -> dict[str, np.ndarray]:
    """Build the layer with `make(cnn)`, copy the weights in, run forward and backward."""
    cnn, _, autograd, _ = modules
    layer = make(cnn)
    copy_into(layer, weight, "weight")
    copy_into(layer, bias, "bias")
    x_tensor = autograd.Tensor(x.copy(), requires_grad=True)
    out = layer(x_tensor)
    out.backward(random_array(out.shape, seed + 1))
    results = {"output": out.data, "gradient of x": x_tensor.grad}
    for name in ("weight", "bias"):
        parameter = getattr(layer, name, None)
        if parameter is not None:
            results[f"gradient of {name}"] = parameter.grad
    return results


LAYER_CASES = [
    ("Conv2d(3, 4, 3, stride=2, padding=1)", (2, 3, 7, 9), (4, 3, 3, 3), True,
     lambda cnn: cnn.Conv2d(3, 4, 3, stride=2, padding=1)),
    ("Conv2d(2, 3, 5, padding=2, bias=False)", (1, 2, 6, 5), (3, 2, 5, 5), False,
     lambda cnn: cnn.Conv2d(2, 3, 5, padding=2, bias=False)),
    ("Conv2d(1, 2, 2, stride=3)", (3, 1, 8, 7), (2, 1, 2, 2), True,
     lambda cnn: cnn.Conv2d(1, 2, 2, stride=3)),
    ("MaxPool2d(2)", (2, 3, 7, 9), None, False, lambda cnn: cnn.MaxPool2d(2)),
    ("MaxPool2d(3, 2, 1)", (2, 2, 9, 8), None, False, lambda cnn: cnn.MaxPool2d(3, 2, 1)),
]  # fmt: skip


@pytest.mark.exercise("5.7")
@pytest.mark.parametrize(
    ("label", "x_shape", "w_shape", "bias", "make"), LAYER_CASES, ids=[c[0] for c in LAYER_CASES]
)
def test_layers_forward_and_gradients(label, x_shape, w_shape, bias, make):
    seed = 500 + [c[0] for c in LAYER_CASES].index(label)
    x = random_array(x_shape, seed)
    weight = random_array(w_shape, seed + 2) if w_shape else None
    b = random_array((w_shape[0],), seed + 3) if bias else None
    inputs = describe({"x": x}, seed, {"layer": label})
    got = run_layer(MINE, make, x, weight, b, seed)
    want = run_layer(REF, make, x, weight, b, seed)
    for what, expected in want.items():
        if got.get(what) is None:
            fail(f"{label}: no {what} after backward ({inputs})")
        assert_same_array(got[what], expected, f"{label}: {what}", inputs)


X_SHAPE, W_SHAPE = (2, 3, 7, 6), (4, 3, 3, 3)
FUNCTIONAL_CASES = [
    ("conv2d(x, w)", X_SHAPE, W_SHAPE, lambda cnn, x, w: cnn.conv2d(x, w)),
    ("conv2d(x, w, None, 2, 1)", X_SHAPE, W_SHAPE, lambda cnn, x, w: cnn.conv2d(x, w, None, 2, 1)),
    ("max_pool2d(x, 2)", X_SHAPE, W_SHAPE, lambda cnn, x, w: cnn.max_pool2d(x, 2)),
    ("max_pool2d(x, 3, 1, 1)", X_SHAPE, W_SHAPE, lambda cnn, x, w: cnn.max_pool2d(x, 3, 1, 1)),
    # padding 1 is allowed with kernel 2 (at most kernel_size // 2)
    ("max_pool2d(x, 2, 2, 1)", X_SHAPE, W_SHAPE, lambda cnn, x, w: cnn.max_pool2d(x, 2, 2, 1)),
    # Kernels that just fit, not square, on images that are not square: no error.
    ("conv2d(x, w): a 3x5 kernel, exactly as tall as a 3x8 image", (1, 2, 3, 8), (3, 2, 3, 5),
     lambda cnn, x, w: cnn.conv2d(x, w)),
    ("conv2d(x, w): a 5x3 kernel, exactly as wide as an 8x3 image", (1, 2, 8, 3), (3, 2, 5, 3),
     lambda cnn, x, w: cnn.conv2d(x, w)),
    ("conv2d(x, w, None, 1, 1): a 4x4 kernel, exactly the size of a 2x2 image padded by 1",
     (2, 1, 2, 2), (2, 1, 4, 4), lambda cnn, x, w: cnn.conv2d(x, w, None, 1, 1)),
]  # fmt: skip


@pytest.mark.exercise("5.7")
@pytest.mark.parametrize(
    ("label", "x_shape", "w_shape", "call"), FUNCTIONAL_CASES, ids=[c[0] for c in FUNCTIONAL_CASES]
)
def test_functional_forward_and_gradients(label, x_shape, w_shape, call):
    seed = 600 + [c[0] for c in FUNCTIONAL_CASES].index(label)
    x, w = random_array(x_shape, seed), random_array(w_shape, seed + 1)
    inputs = describe({"x": x, "w": w}, seed)
    results = []
    for cnn, _, autograd, _ in (MINE, REF):
        tensors = [autograd.Tensor(a.copy(), requires_grad=True) for a in (x, w)]
        out = call(cnn, *tensors)
        out.backward(random_array(out.shape, seed + 2))
        results.append((out.data, tensors[0].grad, tensors[1].grad))
    (out, grad_x, grad_w), (want, want_x, want_w) = results
    assert_same_array(out, want, f"{label}: output", inputs)
    assert_same_array(grad_x, want_x, f"{label}: gradient of x", inputs)
    if want_w is not None:
        assert_same_array(grad_w, want_w, f"{label}: gradient of w", inputs)


# ---------------------------------------------------------------------------
# Exercise 5.8: the original tutorial's ConvNet
# ---------------------------------------------------------------------------


def shapes_of(model) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


@pytest.mark.exercise("5.8")
def test_convnet_parameters():
    seed_both(8)
    model, expected = my_cnn.ConvNet(), ref_cnn.ConvNet()
    if shapes_of(model) != shapes_of(expected):
        fail(
            f"ConvNet's parameters are {shapes_of(model)}, expected {shapes_of(expected)} "
            "(two 2x2 pools take 28x28 to 7x7)"
        )
    how = "after manual_seed(8): build conv1, conv2, fc1, fc2 in this order"
    for (name, got), (_, want) in zip(
        model.named_parameters(), expected.named_parameters(), strict=True
    ):
        assert_same_array(got.data, want.data, f"ConvNet's initial {name}", how)


@pytest.mark.exercise("5.8")
@pytest.mark.parametrize("batch", [4, 1])
def test_convnet_forward_and_gradients(batch):
    seed = 800 + batch
    seed_both(seed)
    model, expected = my_cnn.ConvNet(), ref_cnn.ConvNet()
    if shapes_of(model) != shapes_of(expected):
        fail(f"ConvNet's parameters are {shapes_of(model)}, expected {shapes_of(expected)}")
    for (_, mine), (_, theirs) in zip(
        model.named_parameters(), expected.named_parameters(), strict=True
    ):
        mine.data[...] = theirs.data  # identical weights, whatever the initialisation did
    rng = np.random.default_rng(seed)
    images = rng.random((batch, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, batch)
    inputs = describe({"images": images, "labels": labels}, seed)
    results = []
    for net, (_, _, autograd, F) in ((model, MINE), (expected, REF)):
        scores = net(autograd.Tensor(images.copy()))
        loss = F.cross_entropy(scores, labels)
        loss.backward()
        grads = {name: p.grad for name, p in net.named_parameters()}
        results.append((scores.data, loss.data, grads))
    (scores, loss, grads), (want_scores, want_loss, want_grads) = results
    assert_same_array(scores, want_scores, "ConvNet scores", inputs)
    assert_same_array(loss, want_loss, "cross-entropy of ConvNet's scores", inputs)
    for name, want in want_grads.items():
        if grads[name] is None:
            fail(f"ConvNet: {name} has no gradient after loss.backward() ({inputs})")
        assert_same_array(grads[name], want, f"ConvNet: gradient of {name}", inputs)


# ---------------------------------------------------------------------------
# Exercise 5.9: training and evaluation (on a small model, so that it needs no convolution)
# ---------------------------------------------------------------------------


class TinySGD:
    """theta <- theta - lr * grad: just enough optimizer to train with."""

    def __init__(self, parameters, lr: float) -> None:
        self.parameters, self.lr = list(parameters), lr

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = None

    def step(self) -> None:
        for p in self.parameters:
            if p.grad is not None:
                p.data -= self.lr * p.grad


BATCH_SIZES = (5, 3, 4)  # unequal, so that a mean over batches is not a mean over samples


def tiny_setup(modules, labels_as: str, seed: int):
    """A small classifier with dropout, a loader of 3 batches, and a logging criterion."""
    _, nn, autograd, F = modules
    autograd.manual_seed(seed)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 4)
    )
    rng = np.random.default_rng(seed)
    loader = []
    for size in BATCH_SIZES:
        images = autograd.Tensor(rng.standard_normal((size, 1, 3, 4)).astype(np.float32))
        labels = rng.integers(0, 4, size)
        loader.append((images, autograd.Tensor(labels) if labels_as == "Tensors" else labels))
    grad_modes: list[bool] = []

    def criterion(scores, labels):
        grad_modes.append(autograd.is_grad_enabled())
        return F.cross_entropy(scores, labels)

    return model, loader, criterion, grad_modes


def parameters_of(model) -> dict[str, np.ndarray]:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def same_result(got: Any, want: tuple[float, float], call: str) -> None:
    if not isinstance(got, tuple) or len(got) != 2:
        fail(f"{call} returned {got!r}, expected a tuple (mean loss, accuracy)")
    for what, value, expected in zip(("mean loss", "accuracy"), got, want, strict=True):
        if not math.isclose(float(value), expected, rel_tol=1e-5, abs_tol=1e-7):
            fail(
                f"{call} returned {what} {float(value):.6g}, expected {expected:.6g} (over "
                f"samples, in batches of {', '.join(map(str, BATCH_SIZES))}: weight each batch "
                "by its size)"
            )


@pytest.mark.exercise("5.9")
@pytest.mark.parametrize("labels_as", ["arrays", "Tensors"])
def test_train_epoch(labels_as):
    model, loader, criterion, _ = tiny_setup(MINE, labels_as, 90)
    expected, ref_loader, ref_criterion, _ = tiny_setup(REF, labels_as, 90)
    model.load_state_dict(expected.state_dict())
    model.eval()  # train_epoch must switch to training mode itself
    expected.eval()
    seed_both(91)  # the same dropout masks in both
    got = my_cnn.train_epoch(model, loader, TinySGD(model.parameters(), 0.1), criterion)
    want = ref_cnn.train_epoch(
        expected, ref_loader, TinySGD(expected.parameters(), 0.1), ref_criterion
    )
    call = f"train_epoch on 3 batches (labels as {labels_as}), a model with dropout"
    if not all(m.training for m in model.modules()):
        fail(f"after {call}, the model should be in training mode (model.train())")
    after, want_after = parameters_of(model), parameters_of(expected)
    for name, value in want_after.items():
        assert_same_array(
            after[name], value, f"parameter {name} after {call}",
            "one optimizer.step() per batch, after zero_grad() and loss.backward()",
        )  # fmt: skip
    same_result(got, want, call)


@pytest.mark.exercise("5.9")
@pytest.mark.parametrize("labels_as", ["arrays", "Tensors"])
def test_evaluate(labels_as):
    model, loader, criterion, grad_modes = tiny_setup(MINE, labels_as, 95)
    expected, ref_loader, ref_criterion, _ = tiny_setup(REF, labels_as, 95)
    model.load_state_dict(expected.state_dict())
    model.train()  # evaluate must switch to evaluation mode itself
    sentinels = {name: np.full(p.shape, 7.0, np.float32) for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        p.grad = sentinels[name].copy()
    before = parameters_of(model)
    got = my_cnn.evaluate(model, loader, criterion)
    want = ref_cnn.evaluate(expected, ref_loader, ref_criterion)
    call = f"evaluate on 3 batches (labels as {labels_as}), a model with dropout"
    if any(m.training for m in model.modules()):
        fail(f"after {call}, the model should be in evaluation mode (model.eval())")
    if any(grad_modes):
        fail(f"{call} computed the loss with gradients enabled: wrap the loop in no_grad()")
    if not my_autograd.is_grad_enabled():
        fail(f"after {call}, gradients should be enabled again (use `with no_grad():`)")
    for name, p in model.named_parameters():
        if p.grad is None or not np.array_equal(p.grad, sentinels[name]):
            fail(f"{call} changed {name}.grad: evaluation must not touch gradients")
    assert_unchanged(before, parameters_of(model), "evaluate")
    same_result(got, want, call)
