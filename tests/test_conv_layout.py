"""The answer key's convolution layout: `kernels.im2col_transposed` is im2col's matrix
transposed, built from the images directly (the weight's gradient reads it by rows)."""

from __future__ import annotations

import numpy as np
import pytest

from solutions import kernels


@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "padding"),
    [
        ((2, 3, 7, 6), (3, 3), 1, 1),
        ((2, 3, 7, 6), (3, 3), 2, 1),
        ((1, 2, 5, 9), (2, 4), 3, 0),
        ((3, 1, 4, 4), (4, 4), 1, 2),
        ((2, 2, 6, 5), (1, 1), 2, 0),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_transposed_is_im2col_transposed(shape, kernel, stride, padding, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    expected = kernels.im2col(x, *kernel, stride, padding).T
    got = kernels.im2col_transposed(x, *kernel, stride, padding)
    assert got.dtype == dtype and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)


def test_padding_is_zero_not_left_over_memory():
    """The rows start from np.empty: every padded position must be written as 0. A 3x3
    image of ones, a 3x3 kernel, padding 1: 9 positions x 9 offsets, 49 of them inside."""
    for _ in range(3):  # fresh memory from earlier calls is not zero
        np.full((9, 9), np.nan, dtype=np.float32)
        cols_t = kernels.im2col_transposed(np.ones((1, 1, 3, 3), np.float32), 3, 3, 1, 1)
        assert cols_t.shape == (9, 9)
        assert (cols_t == 1).sum() == 49 and (cols_t == 0).sum() == 32
