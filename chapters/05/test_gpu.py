"""Graders for chapter 05, part 2 (the GPU). Run them with: pytest chapters/05

Your CUDA kernels are graded on their results, against NumPy, on small odd sizes
(never a multiple of the block or the tile, so every guard and edge is used). With
no NVIDIA driver, the grading plugin runs them on numba-cuda's simulator, which runs
one Python thread per CUDA thread: slow, so the sizes stay tiny. On a GPU, one larger
case is added to each exercise. Kernels that use shared memory are also checked for
two `cuda.shared.array` declarations on one line, which the simulator mixes up.
"""

from __future__ import annotations

import ast
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
    describe,
    expect_error,
    expect_message_naming,
    fail,
)

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


def shared_arrays_on_one_line(function_name: str) -> str | None:
    """A message when the learner's kernel declares two shared arrays on one line."""
    path = Path(my_gpu.__file__)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function_name:
            lines: dict[int, int] = {}
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "array"
                    and isinstance(call.func.value, ast.Attribute)
                    and call.func.value.attr == "shared"
                ):
                    lines[call.lineno] = lines.get(call.lineno, 0) + 1
            for line, count in sorted(lines.items()):
                if count > 1:
                    return (
                        f"{function_name} declares {count} cuda.shared.array on line {line} of "
                        f"{path.name}: the simulator tells shared arrays apart by their line, so "
                        "these would share one memory. Declare each on its own line."
                    )
    return None


def check_one_declaration_per_line(function_name: str) -> None:
    problem = shared_arrays_on_one_line(function_name)
    if problem:
        fail(problem)


# ---------------------------------------------------------------------------
# Exercise 5.10: a first kernel
# ---------------------------------------------------------------------------


@pytest.mark.exercise("5.10")
@pytest.mark.parametrize("length", larger_on_a_gpu([1, 5, 128, 129, 300], 1_000_003))
def test_scale_add_matches_numpy(length):
    x, y = random_array(length, length), random_array(length, length + 1)
    got = my_gpu.scale_add(2.5, x, y)
    assert_same_array(got, 2.5 * x + y, "scale_add(2.5, x, y)", describe({"x": x, "y": y}))


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
@pytest.mark.parametrize(
    ("length", "blocks"), larger_on_a_gpu([(1, 1), (100, 1), (300, 2), (1001, 3)], (999_999, 80))
)
def test_block_sums(length, blocks):
    check_one_declaration_per_line("block_sum_kernel")
    x = random_array(length, length)
    partial = np.full(blocks, np.nan, dtype=np.float32)
    my_gpu.block_sum_kernel[blocks, my_gpu.THREADS](x, partial)
    inputs = describe({"x": x}, options={"blocks": blocks, "threads": my_gpu.THREADS})
    assert_same_array(partial, expected_partials(x, blocks), "the partial sums", inputs)


@pytest.mark.exercise("5.11")
def test_gpu_sum_adds_every_element():
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
    larger_on_a_gpu(
        [(1, 1, 1), (5, 3, 7), (16, 16, 16), (19, 23, 17), (33, 9, 20)], (300, 517, 250)
    ),
)
def test_matmul_tiled_matches_numpy(m, k, n):
    check_one_declaration_per_line("matmul_tiled_kernel")
    a, b = random_array((m, k), m + k), random_array((k, n), k + n)
    expected = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    inputs = describe({"a": a, "b": b}, options={"TILE": my_gpu.TILE})
    assert_same_array(my_gpu.matmul_tiled(a, b), expected, "matmul_tiled(a, b)", inputs)


# ---------------------------------------------------------------------------
# Exercise 5.13: a convolution kernel
# ---------------------------------------------------------------------------

CONV_CASES = [  # (N, C, H, W), filters, kernel, stride, padding
    ((1, 1, 5, 5), 1, 3, 1, 0),
    ((2, 3, 7, 6), 4, 3, 1, 1),
    ((1, 2, 8, 9), 3, 3, 2, 0),
    ((2, 1, 5, 5), 2, 2, 2, 1),
    ((1, 2, 6, 7), 2, 5, 1, 2),
]


@pytest.mark.exercise("5.13")
@pytest.mark.parametrize(
    ("x_shape", "filters", "kernel", "stride", "padding"),
    larger_on_a_gpu(CONV_CASES, ((8, 16, 20, 21), 12, 3, 1, 1)),
)
def test_conv2d_kernel_matches_numpy(x_shape, filters, kernel, stride, padding):
    x = random_array(x_shape, sum(x_shape))
    weight = random_array((filters, x_shape[1], kernel, kernel), filters)
    bias = random_array(filters, kernel)
    cols = ref_cnn.im2col(x.astype(np.float64), kernel, kernel, stride, padding)
    out_h = (x_shape[2] + 2 * padding - kernel) // stride + 1
    flat = cols @ weight.reshape(filters, -1).T.astype(np.float64) + bias
    expected = flat.reshape(x_shape[0], out_h, -1, filters).transpose(0, 3, 1, 2)
    got = my_gpu.conv2d_forward(x, weight, bias, stride, padding)
    inputs = describe({"x": x, "weight": weight}, options={"stride": stride, "padding": padding})
    assert_same_array(got, expected.astype(np.float32), "conv2d_forward(x, weight, bias)", inputs)
