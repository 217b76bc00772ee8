"""The answer key's CUDA kernels against NumPy, on numba-cuda's simulator.

This folder runs only in a pytest process started with NUMBA_ENABLE_CUDASIM=1
(tests/test_gpu_simulator.py starts one), since numba reads that variable once, when
first imported. Sizes are tiny and odd: never a multiple of a block or a tile.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import solutions.cnn as cnn
import solutions.gpu as gpu
from solutions.autograd import Context

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM") != "1", reason="needs NUMBA_ENABLE_CUDASIM=1"
)


def random_array(shape, seed) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def close(got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("length", [1, 127, 129, 301])
def test_scale_add(length):
    x, y = random_array(length, 1), random_array(length, 2)
    close(gpu.scale_add(-0.5, x, y), -0.5 * x + y)


@pytest.mark.parametrize(("length", "blocks"), [(1, 1), (257, 1), (1001, 3)])
def test_gpu_sum(length, blocks):
    x = random_array(length, 3)
    assert gpu.gpu_sum(x, blocks) == pytest.approx(float(x.astype(np.float64).sum()), abs=1e-3)


@pytest.mark.parametrize("product", [gpu.matmul_tiled, gpu.matmul])
@pytest.mark.parametrize(("m", "k", "n"), [(1, 1, 1), (7, 5, 3), (19, 33, 17), (65, 18, 70)])
def test_matrix_products(product, m, k, n):
    a, b = random_array((m, k), 4), random_array((k, n), 5)
    close(product(a, b), a @ b)


def test_products_check_their_inputs():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        gpu.matmul(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    with pytest.raises(TypeError, match=r"float32.*float64"):
        gpu.matmul(np.ones((2, 3)), np.ones((3, 5), np.float32))


CASES = [  # (N, C, H, W), filters, kernel, stride, padding
    ((2, 3, 7, 6), 4, 3, 1, 1),
    ((1, 2, 8, 9), 3, 3, 2, 0),
    ((2, 1, 5, 5), 2, 2, 2, 1),
    ((1, 2, 6, 7), 2, 5, 1, 2),
    ((1, 1, 7, 7), 1, 3, 3, 1),
]


@pytest.mark.parametrize(("x_shape", "filters", "kernel", "stride", "padding"), CASES)
def test_conv2d_forward_and_backward_match_the_cpu_answer_key(
    x_shape, filters, kernel, stride, padding
):
    x = random_array(x_shape, 6)
    weight = random_array((filters, x_shape[1], kernel, kernel), 7)
    bias = random_array(filters, 8)
    ctx = Context()
    expected = cnn.Conv2dFunction.forward(ctx, x, weight, bias, stride, padding)
    grad = random_array(expected.shape, 9)
    expected_x, expected_w, _, _, _ = cnn.Conv2dFunction.backward(ctx, grad)
    close(gpu.conv2d_forward(x, weight, bias, stride, padding), expected)
    grad_x, grad_w = gpu.conv2d_backward(grad, x, weight, stride, padding)
    close(grad_x, expected_x)
    close(grad_w, expected_w)
    skipped_x, again_w = gpu.conv2d_backward(grad, x, weight, stride, padding, False)
    assert skipped_x is None
    close(again_w, expected_w)
