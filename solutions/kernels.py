"""Chapter 05: kernels, the loops that do the heavy lifting, compiled by Numba.

`@njit` compiles a Python function to machine code the first time it is called
with given argument types; `parallel=True` with `prange` splits a loop across
the CPU's cores; `fastmath=True` lets the compiler reorder floating-point sums
(needed to vectorise a reduction); `cache=True` keeps the machine code on disk
so the next run starts fast. `boundscheck=False` (the default, spelled out)
means an out-of-range index is not caught: the callers check shapes first.

matmul is register-blocked: each step of its inner loop loads 4 values of A and
6 of B^T and does 24 multiply-adds with them, keeping the 24 partial sums in
CPU registers (4 and 3, and 12, where the CPU has 16 vector registers, not 32).
That ratio of arithmetic to memory traffic is what makes a matrix product fast; a
plain triple loop loads two values per multiply-add. For a short shared dimension
the provided fast_matmul takes an outer-product kernel instead (see its section).
"""

from __future__ import annotations

import platform

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.core import config as numba_config
from numba.extending import intrinsic, models, register_model

__all__ = [
    "col2im",
    "fast_matmul",
    "im2col",
    "im2col_transposed",
    "matmul",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "transpose",
]

JIT = {"fastmath": True, "cache": True, "boundscheck": False}

# --8<-- [start:matmul]
# ---------------------------------------------------------------------------
# Exercise 5.5: a parallel matrix product
# ---------------------------------------------------------------------------

BLOCK_ROWS, PANEL = 128, 48  # the block of C that one parallel task owns (measured best here)
DEPTH = 1024  # how much of the shared dimension one pass keeps in cache


def vector_registers() -> int:
    """How many vector registers the machine code Numba compiles here may use: 32 with
    AVX-512 or on 64-bit ARM (NEON), 16 with AVX2 or SSE. Numba compiles for this CPU
    unless NUMBA_CPU_NAME names another; then NUMBA_CPU_FEATURES says what it may use."""
    if platform.machine().lower() in {"arm64", "aarch64"}:
        return 32
    if numba_config.CPU_NAME:
        features = numba_config.CPU_FEATURES or ""
    else:
        features = llvm.get_host_cpu_features().flatten()
    return 32 if "+avx512f" in features.split(",") else 16


@njit(inline="always", **JIT)
def _tile_4x6(a, bt, c, i, j, p0, p1):
    """c[i:i+4, j:j+6] += a[i:i+4, p0:p1] @ bt[j:j+6, p0:p1].T, with 24 sums in registers."""
    a0, a1, a2, a3 = a[i, p0:p1], a[i + 1, p0:p1], a[i + 2, p0:p1], a[i + 3, p0:p1]
    b0, b1, b2 = bt[j, p0:p1], bt[j + 1, p0:p1], bt[j + 2, p0:p1]
    b3, b4, b5 = bt[j + 3, p0:p1], bt[j + 4, p0:p1], bt[j + 5, p0:p1]
    z = c.dtype.type(0)
    s00 = s01 = s02 = s03 = s04 = s05 = z
    s10 = s11 = s12 = s13 = s14 = s15 = z
    s20 = s21 = s22 = s23 = s24 = s25 = z
    s30 = s31 = s32 = s33 = s34 = s35 = z
    for p in range(p1 - p0):
        x0, x1, x2, x3 = a0[p], a1[p], a2[p], a3[p]
        y0, y1, y2, y3, y4, y5 = b0[p], b1[p], b2[p], b3[p], b4[p], b5[p]
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s03 += x0 * y3
        s04 += x0 * y4
        s05 += x0 * y5
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s13 += x1 * y3
        s14 += x1 * y4
        s15 += x1 * y5
        s20 += x2 * y0
        s21 += x2 * y1
        s22 += x2 * y2
        s23 += x2 * y3
        s24 += x2 * y4
        s25 += x2 * y5
        s30 += x3 * y0
        s31 += x3 * y1
        s32 += x3 * y2
        s33 += x3 * y3
        s34 += x3 * y4
        s35 += x3 * y5
    c[i, j] += s00
    c[i, j + 1] += s01
    c[i, j + 2] += s02
    c[i, j + 3] += s03
    c[i, j + 4] += s04
    c[i, j + 5] += s05
    c[i + 1, j] += s10
    c[i + 1, j + 1] += s11
    c[i + 1, j + 2] += s12
    c[i + 1, j + 3] += s13
    c[i + 1, j + 4] += s14
    c[i + 1, j + 5] += s15
    c[i + 2, j] += s20
    c[i + 2, j + 1] += s21
    c[i + 2, j + 2] += s22
    c[i + 2, j + 3] += s23
    c[i + 2, j + 4] += s24
    c[i + 2, j + 5] += s25
    c[i + 3, j] += s30
    c[i + 3, j + 1] += s31
    c[i + 3, j + 2] += s32
    c[i + 3, j + 3] += s33
    c[i + 3, j + 4] += s34
    c[i + 3, j + 5] += s35


@njit(inline="always", **JIT)
def _tile_4x3(a, bt, c, i, j, p0, p1):
    """c[i:i+4, j:j+3] += a[i:i+4, p0:p1] @ bt[j:j+3, p0:p1].T, with 12 sums in registers."""
    a0, a1, a2, a3 = a[i, p0:p1], a[i + 1, p0:p1], a[i + 2, p0:p1], a[i + 3, p0:p1]
    b0, b1, b2 = bt[j, p0:p1], bt[j + 1, p0:p1], bt[j + 2, p0:p1]
    z = c.dtype.type(0)
    s00 = s01 = s02 = z
    s10 = s11 = s12 = z
    s20 = s21 = s22 = z
    s30 = s31 = s32 = z
    for p in range(p1 - p0):
        x0, x1, x2, x3 = a0[p], a1[p], a2[p], a3[p]
        y0, y1, y2 = b0[p], b1[p], b2[p]
        s00 += x0 * y0
        s01 += x0 * y1
        s02 += x0 * y2
        s10 += x1 * y0
        s11 += x1 * y1
        s12 += x1 * y2
        s20 += x2 * y0
        s21 += x2 * y1
        s22 += x2 * y2
        s30 += x3 * y0
        s31 += x3 * y1
        s32 += x3 * y2
    c[i, j] += s00
    c[i, j + 1] += s01
    c[i, j + 2] += s02
    c[i + 1, j] += s10
    c[i + 1, j + 1] += s11
    c[i + 1, j + 2] += s12
    c[i + 2, j] += s20
    c[i + 2, j + 1] += s21
    c[i + 2, j + 2] += s22
    c[i + 3, j] += s30
    c[i + 3, j + 1] += s31
    c[i + 3, j + 2] += s32


# The register tile: ROWS rows of A times COLS columns of B, as large as the vector
# registers hold. 4 x 6 needs 24 sums + 6 values of B + 1 of A = 31 registers; 4 x 3
# needs 12 + 3 + 1 = 16, all that AVX2 has (there 4 x 6 ran at half the speed of 4 x 3:
# the sums that do not fit go to memory and back at every step).
ROWS, COLS, _tile = (4, 6, _tile_4x6) if vector_registers() >= 32 else (4, 3, _tile_4x3)


@njit(inline="always", **JIT)
def _dot(a, bt, c, i, j, p0, p1):
    """c[i, j] += a[i, p0:p1] . bt[j, p0:p1]: the edges that do not fill a whole tile.

    The loop runs over two 1-D slices from index 0, as the tiles' loops do: written as
    `a[i, p]` for p in range(p0, p1), Numba must allow for a negative p (Python's
    wrap-around), and that check kept the loop from being vectorised: 8 to 40 times
    slower, enough to make a product with a few edge columns three times slower."""
    x, y = a[i, p0:p1], bt[j, p0:p1]
    total = c.dtype.type(0)
    for p in range(p1 - p0):
        total += x[p] * y[p]
    c[i, j] += total


@njit(parallel=True, **JIT)
def _matmul_2d(a, bt, c):
    """c = a @ bt.T for C-contiguous 2-D arrays; each parallel task owns a block of C."""
    m, k = a.shape
    n = bt.shape[0]
    row_blocks = (m + BLOCK_ROWS - 1) // BLOCK_ROWS
    panels = (n + PANEL - 1) // PANEL
    for task in prange(row_blocks * panels):
        i0, j0 = (task // panels) * BLOCK_ROWS, (task % panels) * PANEL
        i1, j1 = min(i0 + BLOCK_ROWS, m), min(j0 + PANEL, n)
        i_tiles = i0 + (i1 - i0) // ROWS * ROWS
        j_tiles = j0 + (j1 - j0) // COLS * COLS
        for i in range(i0, i1):
            for j in range(j0, j1):
                c[i, j] = 0
        for p0 in range(0, k, DEPTH):
            p1 = min(p0 + DEPTH, k)
            for i in range(i0, i_tiles, ROWS):
                for j in range(j0, j_tiles, COLS):
                    _tile(a, bt, c, i, j, p0, p1)
                for j in range(j_tiles, j1):
                    for r in range(ROWS):
                        _dot(a, bt, c, i + r, j, p0, p1)
            for i in range(i_tiles, i1):
                for j in range(j0, j1):
                    _dot(a, bt, c, i, j, p0, p1)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D float arrays, on every core.

    The kernel reads both operands along rows (contiguous memory), so it is given
    A and B transposed, each as a C-contiguous array: free when the array is
    already laid out that way (B is often a transposed weight), else one copy.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs (m, k) and (k, n) arrays, got {a.shape} and {b.shape}")
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    c = np.empty((a.shape[0], b.shape[1]), dtype=dtype)
    _matmul_2d(_row_major(a, dtype), _row_major(b.T, dtype), c)
    return c


# --8<-- [end:matmul]


# ---------------------------------------------------------------------------
# Provided: transposing in cache-sized blocks
# ---------------------------------------------------------------------------


@njit(parallel=True, **JIT)
def _transpose_3d(x):
    """out[b] = x[b].T for x of shape (B, M, N), 32 x 32 blocks at a time: both the
    reads and the writes then stay within a few cache lines per block. The inner loop
    writes along a row of `out` (contiguous) and reads down a column of `x`: measured
    four times faster at 1024 x 1024 than the other order, whose writes jump a whole
    row of `out` at each step. The loops index two 2-D slices from 0 (see `_dot`):
    two to three times faster than indexing `out[b, j, i]` from j0 and i0."""
    batch, m, n = x.shape
    out = np.empty((batch, n, m), dtype=x.dtype)
    row_blocks, col_blocks = (m + 31) // 32, (n + 31) // 32
    for task in prange(batch * row_blocks * col_blocks):
        b, block = task // (row_blocks * col_blocks), task % (row_blocks * col_blocks)
        i0, j0 = (block // col_blocks) * 32, (block % col_blocks) * 32
        source, target = x[b, i0 : i0 + 32, j0 : j0 + 32], out[b, j0 : j0 + 32, i0 : i0 + 32]
        for j in range(source.shape[1]):
            for i in range(source.shape[0]):
                target[j, i] = source[i, j]
    return out


def transpose(x: np.ndarray) -> np.ndarray:
    """The last two axes of a 2-D or 3-D array swapped, as a new C-contiguous array."""
    if x.ndim == 2:
        return _transpose_3d(np.ascontiguousarray(x)[np.newaxis])[0]
    return _transpose_3d(np.ascontiguousarray(x))


def _row_major(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """x as a C-contiguous array of dtype; a transposed view is copied by `transpose`."""
    x = x.astype(dtype, copy=False)
    if x.flags.c_contiguous:
        return x
    if x.T.flags.c_contiguous:
        return transpose(x.T)
    return np.ascontiguousarray(x)


# ---------------------------------------------------------------------------
# Provided: the outer-product kernel, for a short shared dimension
# ---------------------------------------------------------------------------
#
# The tiles above take dot products along p: each of their sums is a vector of
# partial sums whose lanes are added up at the end of the pass. With k = 64 that
# adding-up costs more than the multiply-adds. BLAS libraries use the other form:
# C[i:i+6, j:j+16] += (column p of A) times (row p of B), an outer product, with the
# 6 x 16 block of C in registers for the whole loop over p and nothing to add up at
# the end. LLVM does not find that form in plain loops (tried: the block as 96 scalars
# or as a small array stays in memory, at 12 to 65 GFLOP/s), so it is written here with
# vectors of 8 float32 values that Numba hands to LLVM as they are.

LANES = 8  # float32 values in a vector: one 256-bit AVX2 register, two 128-bit NEON ones
SHORT_K = 128  # fast_matmul takes the outer-product kernel up to this shared dimension
OUTER_ROWS, OUTER_PANEL = 96, 96  # the block of C that one parallel task owns


class Float32x8(types.Type):
    """Numba's name for LLVM's <8 x float>: 8 float32 values, one vector register."""

    def __init__(self) -> None:
        super().__init__(name="float32x8")


float32x8 = Float32x8()
_VECTOR = ir.VectorType(ir.FloatType(), LANES)


@register_model(Float32x8)
class _Float32x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VECTOR)


def _is_float32_matrix(array) -> bool:
    return isinstance(array, types.Array) and array.ndim == 2 and array.dtype == types.float32


def _lanes_at(context, builder, signature, args):
    """A pointer to array[i, j] read as a pointer to array[i, j:j+8] (no bounds check)."""
    array_type, array, (i, j) = signature.args[0], args[0], args[1:3]
    indices = [context.cast(builder, index, kind, types.intp)
               for index, kind in zip((i, j), signature.args[1:3], strict=True)]  # fmt: skip
    view = context.make_array(array_type)(context, builder, array)
    item = cgutils.get_item_pointer(context, builder, array_type, view, indices)
    return builder.bitcast(item, _VECTOR.as_pointer())


@intrinsic
def vzeros(typingctx):
    """A vector of zeros."""

    def codegen(context, builder, signature, args):
        return ir.Constant(_VECTOR, [0.0] * LANES)

    return float32x8(), codegen


@intrinsic
def vsplat(typingctx, x):
    """x (a float32) in every lane."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        lane0 = builder.insert_element(ir.Constant(_VECTOR, None), args[0], ir.IntType(32)(0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
        return builder.shuffle_vector(lane0, lane0, zeros)

    return float32x8(x), codegen


@intrinsic
def vload(typingctx, array, i, j):
    """array[i, j:j+8] of a C-contiguous 2-D float32 array, as a vector."""
    if not (_is_float32_matrix(array) and array.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        return builder.load(_lanes_at(context, builder, signature, args), align=4)

    return float32x8(array, i, j), codegen


@intrinsic
def vstore(typingctx, array, i, j, vector):
    """array[i, j:j+8] = vector."""
    if not (_is_float32_matrix(array) and array.layout == "C" and vector == float32x8):
        return None

    def codegen(context, builder, signature, args):
        builder.store(args[3], _lanes_at(context, builder, signature, args), align=4)
        return context.get_dummy_value()

    return types.none(array, i, j, vector), codegen


@intrinsic
def vfma(typingctx, x, y, total):
    """total + x * y in every lane (with fastmath, one fused multiply-add where the CPU has it)."""
    if not (x == y == total == float32x8):
        return None

    def codegen(context, builder, signature, args):
        return builder.fadd(args[2], builder.fmul(args[0], args[1]))

    return float32x8(x, y, total), codegen


# --8<-- [start:outer-tile]
@njit(inline="always", **JIT)
def _outer_tile_6x16(a, b, c, i, j):
    """c[i:i+6, j:j+16] = a[i:i+6] @ b[:, j:j+16]: 12 vectors of sums, 2 of B, 1 of A."""
    a0, a1, a2, a3, a4, a5 = a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5]
    s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = s40 = s41 = s50 = s51 = vzeros()
    for p in range(a.shape[1]):
        y0, y1 = vload(b, p, j), vload(b, p, j + LANES)
        x = vsplat(a0[p])
        s00, s01 = vfma(x, y0, s00), vfma(x, y1, s01)
        x = vsplat(a1[p])
        s10, s11 = vfma(x, y0, s10), vfma(x, y1, s11)
        x = vsplat(a2[p])
        s20, s21 = vfma(x, y0, s20), vfma(x, y1, s21)
        x = vsplat(a3[p])
        s30, s31 = vfma(x, y0, s30), vfma(x, y1, s31)
        x = vsplat(a4[p])
        s40, s41 = vfma(x, y0, s40), vfma(x, y1, s41)
        x = vsplat(a5[p])
        s50, s51 = vfma(x, y0, s50), vfma(x, y1, s51)
    vstore(c, i, j, s00)
    vstore(c, i, j + LANES, s01)
    vstore(c, i + 1, j, s10)
    vstore(c, i + 1, j + LANES, s11)
    vstore(c, i + 2, j, s20)
    vstore(c, i + 2, j + LANES, s21)
    vstore(c, i + 3, j, s30)
    vstore(c, i + 3, j + LANES, s31)
    vstore(c, i + 4, j, s40)
    vstore(c, i + 4, j + LANES, s41)
    vstore(c, i + 5, j, s50)
    vstore(c, i + 5, j + LANES, s51)


# --8<-- [end:outer-tile]


@njit(inline="always", **JIT)
def _outer_row_1x16(a, b, c, i, j):
    """c[i, j:j+16] = a[i] @ b[:, j:j+16]: the rows left below the last whole 6 x 16 tile."""
    row = a[i]
    s0 = s1 = vzeros()
    for p in range(a.shape[1]):
        x = vsplat(row[p])
        s0, s1 = vfma(x, vload(b, p, j), s0), vfma(x, vload(b, p, j + LANES), s1)
    vstore(c, i, j, s0)
    vstore(c, i, j + LANES, s1)


@njit(inline="always", **JIT)
def _outer_dot(a, b, c, i, j):
    """c[i, j] = a[i] . b[:, j]: the columns left right of the last whole tile."""
    row, total = a[i], c.dtype.type(0)
    for p in range(a.shape[1]):
        total += row[p] * b[p, j]
    c[i, j] = total


@njit(parallel=True, **JIT)
def _matmul_outer(a, b, c):
    """c = a @ b for C-contiguous float32 a (m, k), b (k, n) and c (m, n). Each task owns
    a block of C; inside it, each 16-column strip of B (k x 16, in cache) meets every
    6-row tile of A in turn."""
    m, n = c.shape
    row_blocks, panels = (m + OUTER_ROWS - 1) // OUTER_ROWS, (n + OUTER_PANEL - 1) // OUTER_PANEL
    for block in prange(row_blocks * panels):
        i0, j0 = (block // panels) * OUTER_ROWS, (block % panels) * OUTER_PANEL
        i1, j1 = min(i0 + OUTER_ROWS, m), min(j0 + OUTER_PANEL, n)
        i_tiles, j_tiles = i0 + (i1 - i0) // 6 * 6, j0 + (j1 - j0) // 16 * 16
        for j in range(j0, j_tiles, 16):
            for i in range(i0, i_tiles, 6):
                _outer_tile_6x16(a, b, c, i, j)
            for i in range(i_tiles, i1):
                _outer_row_1x16(a, b, c, i, j)
        for i in range(i0, i1):
            for j in range(j_tiles, j1):
                _outer_dot(a, b, c, i, j)


def fast_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D float arrays on the kernel that suits the shapes: the outer-product
    kernel when both are float32 and the shared dimension is at most SHORT_K (the tiles'
    sums would spend more on adding up their lanes than on multiply-adds), `matmul`
    otherwise. The answer key's layers call this; `matmul` is Exercise 5.5's, graded."""
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    short = a.ndim == b.ndim == 2 and a.shape[1] == b.shape[0] <= SHORT_K
    if not short or dtype != np.float32:
        return matmul(a, b)  # which also refuses shapes that do not multiply
    c = np.empty((a.shape[0], b.shape[1]), dtype=dtype)
    _matmul_outer(_row_major(a, dtype), _row_major(b, dtype), c)
    return c


# ---------------------------------------------------------------------------
# Provided: im2col's matrix transposed, for the weight's gradient
# ---------------------------------------------------------------------------


@njit(parallel=True, **JIT)
def im2col_transposed(x, kernel_h, kernel_w, stride, padding):
    """im2col(x, ...).T as a C-contiguous array, (C*kernel_h*kernel_w, N*OH*OW), built
    from x directly: row (c * kernel_h + i) * kernel_w + j holds, for every image and
    output position, the input pixel at kernel offset (i, j) of channel c.

    The weight's gradient, g^T @ cols, runs along the output positions, so the matrix
    product needs cols with its positions along rows: this layout. Each row is a copy
    of shifted image rows, written along memory; transposing im2col's matrix instead
    took twice as long for conv2 (14 MB read down its columns).
    """
    n, c, h, w = x.shape
    out_h = (h + 2 * padding - kernel_h) // stride + 1
    out_w = (w + 2 * padding - kernel_w) // stride + 1
    rows = c * kernel_h * kernel_w
    cols = np.empty((rows, n, out_h, out_w), dtype=x.dtype)
    for task in prange(rows * n):
        row, b = task // n, task % n
        ch, i, j = row // (kernel_h * kernel_w), row // kernel_w % kernel_h, row % kernel_w
        image, target = x[b, ch], cols[row, b]
        for oy in range(out_h):
            y, line = oy * stride - padding + i, target[oy]
            for ox in range(out_w):
                xx = ox * stride - padding + j
                line[ox] = image[y, xx] if 0 <= y < h and 0 <= xx < w else 0
    return cols.reshape(rows, n * out_h * out_w)


# --8<-- [start:im2col]
# ---------------------------------------------------------------------------
# Exercise 5.6: im2col and col2im, in parallel
# ---------------------------------------------------------------------------


@njit(parallel=True, **JIT)
def im2col(x, kernel_h, kernel_w, stride, padding):
    """Every receptive field of x (N, C, H, W) as one row of a matrix.

    Row (n * OH + oy) * OW + ox holds the C * kernel_h * kernel_w inputs that
    output position (oy, ox) of image n sees, in (c, i, j) order: the same order
    as a weight of shape (F, C, kernel_h, kernel_w) flattened to (F, C*kh*kw).
    Positions in the zero padding stay 0. Rows are independent: one task each.
    """
    n, c, h, w = x.shape
    out_h = (h + 2 * padding - kernel_h) // stride + 1
    out_w = (w + 2 * padding - kernel_w) // stride + 1
    cols = np.zeros((n * out_h * out_w, c * kernel_h * kernel_w), dtype=x.dtype)
    for image_row in prange(n * out_h):
        b, oy = image_row // out_h, image_row % out_h
        for ox in range(out_w):
            row = image_row * out_w + ox
            for ch in range(c):
                for i in range(kernel_h):
                    y = oy * stride - padding + i
                    if 0 <= y < h:
                        for j in range(kernel_w):
                            xx = ox * stride - padding + j
                            if 0 <= xx < w:
                                cols[row, (ch * kernel_h + i) * kernel_w + j] = x[b, ch, y, xx]
    return cols


@njit(parallel=True, **JIT)
def col2im(cols, n, c, h, w, kernel_h, kernel_w, stride, padding):
    """The adjoint of im2col: add each row's values back where they came from.

    An input pixel inside several receptive fields receives the sum of all its
    copies' gradients. Each image is one task, so no two tasks add to the same place.
    """
    out_h = (h + 2 * padding - kernel_h) // stride + 1
    out_w = (w + 2 * padding - kernel_w) // stride + 1
    grad = np.zeros((n, c, h, w), dtype=cols.dtype)
    for b in prange(n):
        for oy in range(out_h):
            for ox in range(out_w):
                row = (b * out_h + oy) * out_w + ox
                for ch in range(c):
                    for i in range(kernel_h):
                        y = oy * stride - padding + i
                        if 0 <= y < h:
                            for j in range(kernel_w):
                                xx = ox * stride - padding + j
                                if 0 <= xx < w:
                                    grad[b, ch, y, xx] += cols[
                                        row, (ch * kernel_h + i) * kernel_w + j
                                    ]
    return grad


# --8<-- [end:im2col]


# --8<-- [start:pool-kernels]
# ---------------------------------------------------------------------------
# Exercise 5.4: max pooling, forward with the winners' positions, and backward
# ---------------------------------------------------------------------------


@njit(parallel=True, **JIT)
def max_pool2d_forward(x, kernel, stride, padding):
    """(out, argmax): the max of each kernel x kernel window of x (N, C, H, W), and the
    flat index y * W + x of the first position holding it (the one backward routes to).

    Each task takes one plane, x[b, ch], as a 2-D slice, and each window scans only the
    rows and columns inside the image (the ranges are clipped, so no position needs a
    test for the padding): 2.4 times faster than indexing x[b, ch, y, xx] and testing
    every position, measured on the ConvNet's two pools."""
    n, c, h, w = x.shape
    out_h = (h + 2 * padding - kernel) // stride + 1
    out_w = (w + 2 * padding - kernel) // stride + 1
    out = np.empty((n, c, out_h, out_w), dtype=x.dtype)
    argmax = np.empty((n, c, out_h, out_w), dtype=np.int64)
    for plane in prange(n * c):
        b, ch = plane // c, plane % c
        image, best_of, winner_of = x[b, ch], out[b, ch], argmax[b, ch]
        for oy in range(out_h):
            top = oy * stride - padding
            for ox in range(out_w):
                left = ox * stride - padding
                # An all -inf window's max is at its first pixel inside the image (torch's).
                best, where = -np.inf, max(top, 0) * w + max(left, 0)
                for y in range(max(top, 0), min(top + kernel, h)):
                    row = image[y]
                    for xx in range(max(left, 0), min(left + kernel, w)):
                        if row[xx] > best:
                            best, where = row[xx], y * w + xx
                best_of[oy, ox] = best
                winner_of[oy, ox] = where
    return out, argmax


@njit(parallel=True, **JIT)
def max_pool2d_backward(grad_output, argmax, h, w):
    """Each window's gradient goes to its winner; windows that overlap may share one.
    A plane's gradient is kept flat, (h * w,), so the winner's index needs no division."""
    n, c, out_h, out_w = grad_output.shape
    grad = np.zeros((n, c, h * w), dtype=grad_output.dtype)
    for plane in prange(n * c):
        b, ch = plane // c, plane % c
        upstream, winner_of, target = grad_output[b, ch], argmax[b, ch], grad[b, ch]
        for oy in range(out_h):
            for ox in range(out_w):
                target[winner_of[oy, ox]] += upstream[oy, ox]
    return grad.reshape(n, c, h, w)


# --8<-- [end:pool-kernels]
