"""Graders for chapter 05, part 2 (the GPU). Run them with: pytest chapters/05

Your CUDA kernels are graded on their results, against NumPy, on small odd sizes
(never a multiple of the block or the tile, so every guard and edge is used). With
no NVIDIA driver, the grading plugin runs them on numba-cuda's simulator, which runs
one Python thread per CUDA thread: slow, so the sizes stay tiny. On a GPU, one larger
case is added to each exercise. Each kernel's source is also read before it runs
(grading/kernel_checks.py): two `cuda.shared.array` declarations on one line, which the
simulator mixes up, and a `cuda.syncthreads()` that only some threads of a block reach
(inside an `if` or loop on the thread's index, or after such a `return`), which the
simulator lets pass but a GPU hangs on, both fail the exercise.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from numba import cuda

import kindling.gpu as my_gpu
import solutions.cnn as ref_cnn
from grading.check import (
    assert_same_array,
    assert_unchanged,
    describe,
    expect_error,
    expect_message_naming,
    fail,
)
from grading.kernel_checks import barrier_problems, shared_arrays_on_one_line

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
RTOL, ATOL = 1e-4, 1e-5

pytestmark = pytest.mark.skipif(
    not cuda.is_available(), reason="numba finds no CUDA GPU and the simulator is off"
)


def random_array(shape, seed) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def larger_on_a_gpu(cases: list, large: tuple) -> list:
    """The simulator's tiny cases, and on a real GPU one more, larger case."""
    return cases if SIMULATED else [*cases, large]


def check_kernel_source(function_name: str) -> None:
    """Fail on what the simulator cannot show about the learner's kernel: two shared
    arrays declared on one line, or a barrier that only some threads reach."""
    path = Path(my_gpu.__file__)
    problems = barrier_problems(path, function_name)
    aliased = shared_arrays_on_one_line(path, function_name)
    for problem in [aliased, *problems]:
        if problem:
            fail(problem)


# ---------------------------------------------------------------------------
# Exercise 5.10: a first kernel
# ---------------------------------------------------------------------------


@pytest.mark.exercise("5.10")
@pytest.mark.parametrize("length", larger_on_a_gpu([1, 5, 128, 129, 300], 1_000_003))
def test_scale_add_matches_numpy(length):
    check_kernel_source("scale_add_kernel")
    x, y = random_array(length, length), random_array(length, length + 1)
    expected, my_x, my_y = 2.5 * x + y, x.copy(), y.copy()
    got = my_gpu.scale_add(2.5, my_x, my_y)
    assert_same_array(got, expected, "scale_add(2.5, x, y)", describe({"x": x, "y": y}))
    assert_unchanged({"x": x, "y": y}, {"x": my_x, "y": my_y}, "scale_add(2.5, x, y)")


@pytest.mark.exercise("5.10")
def test_scale_add_kernel_with_more_threads_than_elements():
    """Two whole blocks more than needed: the guard must keep the extra threads idle."""
    x, y = random_array(70, 1), random_array(70, 2)
    out = np.full(70, np.nan, dtype=np.float32)
    blocks = math.ceil(70 / my_gpu.THREADS) + 2
    my_gpu.scale_add_kernel[blocks, my_gpu.THREADS](np.float32(-1.5), x, y, out)
    inputs = describe({"x": x, "y": y}, options={"blocks": blocks, "threads": my_gpu.THREADS})
    assert_same_array(out, -1.5 * x + y, "scale_add_kernel's out", inputs)


@pytest.mark.exercise("5.10")
def test_scale_add_rejects_mismatched_shapes():
    what = "scale_add(1.0, x of shape (4,), y of shape (5,))"
    error = expect_error(ValueError, what, my_gpu.scale_add, 1.0, np.ones(4, np.float32),
                         np.ones(5, np.float32))  # fmt: skip
    expect_message_naming(error, what, "(4,)", "(5,)")
    square = np.ones((2, 2), np.float32)
    what = "scale_add(1.0, x and y of shape (2, 2))"
    error = expect_error(ValueError, what, my_gpu.scale_add, 1.0, square, square)
    expect_message_naming(error, what, "(2, 2)")


# ---------------------------------------------------------------------------
# Exercise 5.11: a reduction in shared memory
# ---------------------------------------------------------------------------


def expected_partials(x: np.ndarray, blocks: int) -> np.ndarray:
    """Block b owns the x[i] whose grid-stride thread i % (blocks * THREADS) is in block b."""
    threads = my_gpu.THREADS
    owner = (np.arange(x.size) % (blocks * threads)) // threads
    return np.array([x[owner == b].astype(np.float64).sum() for b in range(blocks)], np.float32)


@pytest.mark.exercise("5.11")
# The simulator runs every thread in Python, so the cases are as small as they can be: one
# thread with work, a part-filled block, and 2 blocks walking the grid-stride loop 3 times.
@pytest.mark.parametrize(
    ("length", "blocks"), larger_on_a_gpu([(1, 1), (100, 1), (700, 2)], (999_999, 80))
)
def test_block_sums(length, blocks):
    check_kernel_source("block_sum_kernel")
    x = random_array(length, length)
    partial = np.full(blocks, np.nan, dtype=np.float32)
    my_gpu.block_sum_kernel[blocks, my_gpu.THREADS](x, partial)
    inputs = describe({"x": x}, options={"blocks": blocks, "threads": my_gpu.THREADS})
    assert_same_array(partial, expected_partials(x, blocks), "the partial sums", inputs)


@pytest.mark.exercise("5.11")
def test_gpu_sum_adds_every_element():
    check_kernel_source("block_sum_kernel")
    x = random_array(777, 7)
    got, expected = my_gpu.gpu_sum(x, blocks=2), float(x.astype(np.float64).sum())
    if not math.isclose(got, expected, rel_tol=RTOL, abs_tol=1e-3):
        fail(f"gpu_sum(x) = {got:.6g}, expected {expected:.6g} ({describe({'x': x})}, 2 blocks)")


# ---------------------------------------------------------------------------
# Exercise 5.12: a matrix product in shared-memory tiles
# ---------------------------------------------------------------------------


@pytest.mark.exercise("5.12")
@pytest.mark.parametrize(
    ("m", "k", "n"),
    # One tile, part of a tile, exactly a tile; then the shared dimension in 2 tiles, the
    # second part-filled (stale values show when it is not zero-filled), and 2 blocks down
    # c or 2 across it, so that rows and columns swapped in the grid show.
    larger_on_a_gpu([(1, 1, 1), (5, 3, 7), (16, 16, 16), (18, 20, 5), (5, 9, 17)], (300, 517, 250)),
)
def test_matmul_tiled_matches_numpy(m, k, n):
    check_kernel_source("matmul_tiled_kernel")
    a, b = random_array((m, k), m + k), random_array((k, n), k + n)
    expected = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    inputs = describe({"a": a, "b": b}, options={"TILE": my_gpu.TILE})
    my_a, my_b = a.copy(), b.copy()
    assert_same_array(my_gpu.matmul_tiled(my_a, my_b), expected, "matmul_tiled(a, b)", inputs)
    assert_unchanged({"a": a, "b": b}, {"a": my_a, "b": my_b}, "matmul_tiled(a, b)")


# ---------------------------------------------------------------------------
# Exercise 5.13: a convolution kernel
# ---------------------------------------------------------------------------

CONV_CASES = [  # (N, C, H, W), filters, (kernel_h, kernel_w), stride, padding
    ((1, 1, 5, 5), 1, (3, 3), 1, 0),
    ((2, 3, 7, 6), 4, (3, 3), 1, 1),
    ((1, 2, 8, 9), 3, (3, 3), 2, 0),
    ((2, 1, 5, 5), 2, (2, 2), 2, 1),
    ((1, 2, 6, 7), 2, (5, 5), 1, 2),
    ((2, 2, 6, 9), 3, (3, 5), 1, 1),  # non-square kernels: rows and columns told apart
    ((1, 3, 9, 5), 2, (4, 2), 2, 2),
]


@pytest.mark.exercise("5.13")
@pytest.mark.parametrize(
    ("x_shape", "filters", "kernel", "stride", "padding"),
    larger_on_a_gpu(CONV_CASES, ((8, 16, 20, 21), 12, (3, 5), 1, 1)),
    ids=lambda value: "x".join(map(str, value)) if isinstance(value, tuple) else str(value),
)
def test_conv2d_kernel_matches_numpy(x_shape, filters, kernel, stride, padding):
    check_kernel_source("conv2d_kernel")
    kernel_h, kernel_w = kernel
    x = random_array(x_shape, sum(x_shape))
    weight = random_array((filters, x_shape[1], kernel_h, kernel_w), filters)
    bias = random_array(filters, kernel_h + kernel_w)
    cols = ref_cnn.im2col(x.astype(np.float64), kernel_h, kernel_w, stride, padding)
    out_h = (x_shape[2] + 2 * padding - kernel_h) // stride + 1
    flat = cols @ weight.reshape(filters, -1).T.astype(np.float64) + bias
    expected = flat.reshape(x_shape[0], out_h, -1, filters).transpose(0, 3, 1, 2)
    mine = {"x": x.copy(), "weight": weight.copy(), "bias": bias.copy()}
    got = my_gpu.conv2d_forward(*mine.values(), stride, padding)
    inputs = describe({"x": x, "weight": weight}, options={"stride": stride, "padding": padding})
    assert_same_array(got, expected.astype(np.float32), "conv2d_forward(x, weight, bias)", inputs)
    assert_unchanged({"x": x, "weight": weight, "bias": bias}, mine, "conv2d_forward")
