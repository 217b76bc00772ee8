"""The answer key's outer-product kernel (kernels.fast_matmul for a short shared
dimension): right at every edge, float64 and long products left to matmul, the same
result on every run, and its vector operations refuse what they cannot handle."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from solutions import kernels

# (m, k, n): whole 6 x 16 tiles, rows and columns left over, no tile at all, k = 0,
# the ConvNet's short products, and one just past SHORT_K (matmul's).
SHAPES = [
    (6, 9, 16),
    (7, 5, 3),
    (13, 17, 35),
    (97, 10, 97),
    (12, 0, 20),
    (1, 1, 1),
    (32, 9, 784),
    (64, 128, 3136),
    (3136, 64, 128),
    (200, 64, 288),
    (5, kernels.SHORT_K + 1, 7),
]


def exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) @ b.astype(np.float64)


@pytest.mark.parametrize("shape", SHAPES, ids=["{}x{}x{}".format(*s) for s in SHAPES])
def test_fast_matmul_is_the_product(shape):
    m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    got = kernels.fast_matmul(a, b)
    assert got.shape == (m, n) and got.dtype == np.float32
    tolerance = 8 * np.finfo(np.float32).eps * np.sqrt(max(k, 1)) * (np.abs(a) @ np.abs(b)) + 1e-30
    assert (np.abs(got - exact(a, b)) <= tolerance).all()


def test_views_float64_and_mixed_dtypes():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((40, 70), np.float32).T  # (70, 40), a transposed view
    b = rng.standard_normal((40, 50), np.float32)
    np.testing.assert_allclose(kernels.fast_matmul(a, b), exact(a, b), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(kernels.fast_matmul(b.T, a.T), exact(b.T, a.T), rtol=1e-4, atol=1e-4)
    a64 = rng.standard_normal((30, 20))
    assert kernels.fast_matmul(a64, a64.T).dtype == np.float64  # matmul's float64 path
    assert kernels.fast_matmul(a64.astype(np.float32), a64.T).dtype == np.float64


def test_wrong_shapes_are_named():
    with pytest.raises(ValueError, match=r"\(3, 4\) and \(5, 2\)"):
        kernels.fast_matmul(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32))


def test_every_run_gives_the_same_bits():
    """Each parallel task owns its block of C: no run can differ from another."""
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((1000, 64), np.float32), rng.standard_normal((64, 300), np.float32)
    first = kernels.fast_matmul(a, b)
    for _ in range(10):
        assert np.array_equal(kernels.fast_matmul(a, b), first)


def test_vector_operations_refuse_other_arrays():
    @njit
    def copy_lanes(array):  # array[1, 0:8] = array[0, 0:8]
        kernels.vstore(array, 1, 0, kernels.vload(array, 0, 0))

    fine = np.arange(16, dtype=np.float32).reshape(2, 8)
    copy_lanes(fine)  # a C-contiguous float32 matrix
    assert np.array_equal(fine[1], fine[0])
    for wrong in (np.ones((2, 8)), np.ones((2, 16), np.float32)[:, ::2], np.ones(8, np.float32)):
        with pytest.raises(TypingError):
            copy_lanes(wrong)
