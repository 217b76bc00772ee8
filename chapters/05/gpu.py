"""Chapter 05, part 2: gpu, CUDA kernels written in Python with numba-cuda.

A CUDA kernel is one function that thousands of GPU threads run at once, each on
its own piece of the data. Threads come in blocks (up to 1024 threads that can
share fast on-chip memory and wait for each other), and blocks in a grid. A
thread finds its piece from its indices: `cuda.grid(1)` is
blockIdx.x * blockDim.x + threadIdx.x. The launch `kernel[blocks, threads](...)`
says how many of each; the grid usually has more threads than elements, so every
kernel starts with a guard.

Without a GPU, numba-cuda's simulator (NUMBA_ENABLE_CUDASIM=1, set before numba
is imported) runs the same kernels on the CPU, one Python thread per CUDA thread:
the same answers, a thousand times slower, so it is for tiny sizes. The graders
switch it on by themselves when no NVIDIA driver is found.

The answer key runs its matrix products and convolutions here when the
environment says KINDLING_DEVICE=cuda (see kindling/__init__.py). Tensors stay
NumPy arrays in the computer's memory: each call copies its inputs to the GPU
and its result back.

This is YOUR file for chapter 05's GPU part. Each function that raises
NotImplementedError("Exercise 5.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's page "Chapter 05, part 2: the GPU"
explains the ideas. With no GPU, the graders run your kernels on numba-cuda's
simulator. Check your work with

    pytest chapters/05
"""

from __future__ import annotations

import numpy as np
from numba import cuda, float32

__all__ = [
    "THREADS",
    "TILE",
    "block_sum_kernel",
    "conv2d_backward",
    "conv2d_forward",
    "conv2d_kernel",
    "gpu_sum",
    "is_available",
    "matmul",
    "matmul_tiled",
    "matmul_tiled_kernel",
    "scale_add",
    "scale_add_kernel",
]

THREADS = 128  # threads per block of the 1-D kernels (a multiple of the 32-thread warp)
TILE = 16  # matmul_tiled_kernel's tile: TILE x TILE threads per block, one output each


def is_available() -> bool:
    """True when numba can run CUDA kernels here: an NVIDIA GPU with its driver, or
    the simulator (NUMBA_ENABLE_CUDASIM=1)."""
    return cuda.is_available()


def _as_float32(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype != np.float32:
        raise TypeError(f"{name} must be float32 for the GPU kernels, got {array.dtype}")
    return np.ascontiguousarray(array)


def _blocks(count: int, threads: int = THREADS) -> int:
    """Enough blocks of `threads` to give every one of `count` elements a thread."""
    return max(1, (count + threads - 1) // threads)


# --8<-- [start:map]
# ---------------------------------------------------------------------------
# Exercise 5.10: a first kernel
# ---------------------------------------------------------------------------


@cuda.jit
def scale_add_kernel(alpha, x, y, out):
    """out[i] = alpha * x[i] + y[i], one thread per element i.

    i = cuda.grid(1) is this thread's index in the whole grid. The grid has whole
    blocks, so it can hold more threads than out has elements: guard with
    `if i < out.shape[0]` and let the others do nothing.
    """
    raise NotImplementedError("Exercise 5.10: A first CUDA kernel")


def scale_add(alpha: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return alpha * x + y for two 1-D float32 arrays of one length, computed on the GPU.

    1. ValueError when x is not 1-D or y's shape differs from x's (name both shapes).
    2. out = cuda.device_array(x.shape, dtype=np.float32) (memory on the GPU).
    3. blocks = enough blocks of THREADS threads to cover every element (round UP:
       the provided _blocks(count) does it).
    4. Launch scale_add_kernel[blocks, THREADS](np.float32(alpha), x, y, out);
       numba copies NumPy arguments to the GPU (pass them through _as_float32,
       which checks the dtype and makes them contiguous).
    5. Return out.copy_to_host().
    """
    raise NotImplementedError("Exercise 5.10: A first CUDA kernel")


# --8<-- [end:map]


# --8<-- [start:reduce]
# ---------------------------------------------------------------------------
# Exercise 5.11: a reduction in shared memory
# ---------------------------------------------------------------------------


@cuda.jit
def block_sum_kernel(x, partial):
    """partial[b] = the sum of block b's share of x (blocks of THREADS threads).

    1. sums = cuda.shared.array(THREADS, float32): one slot per thread of the block,
       shared by them all (declare each shared array on its own line: the
       simulator tells them apart by their line).
    2. t = cuda.threadIdx.x. Each thread adds up x[i] for i = cuda.grid(1),
       cuda.grid(1) + G, cuda.grid(1) + 2G, ... below x.shape[0], where
       G = cuda.gridsize(1) (a grid-stride loop), and stores it in sums[t].
    3. cuda.syncthreads(): wait until every thread has stored its sum.
    4. Tree: half = THREADS // 2; while half > 0: threads t < half do
       sums[t] += sums[t + half]; then everyone syncthreads(); half //= 2.
       (Every thread must reach each syncthreads, so keep it outside the `if`.)
    5. Thread 0 writes sums[0] to partial[cuda.blockIdx.x].
    """
    raise NotImplementedError("Exercise 5.11: A reduction in shared memory")


# --8<-- [end:reduce]


def gpu_sum(x: np.ndarray, blocks: int = 64) -> float:
    """The sum of a 1-D float32 array: `blocks` partial sums, then one block adds those."""
    if x.ndim != 1:
        raise ValueError(f"gpu_sum needs a 1-D array, got shape {x.shape}")
    partial = cuda.device_array(blocks, dtype=np.float32)
    block_sum_kernel[blocks, THREADS](_as_float32(x, "x"), partial)
    total = cuda.device_array(1, dtype=np.float32)
    block_sum_kernel[1, THREADS](partial, total)
    return float(total.copy_to_host()[0])


# --8<-- [start:tiled]
# ---------------------------------------------------------------------------
# Exercise 5.12: a matrix product in shared-memory tiles
# ---------------------------------------------------------------------------


@cuda.jit
def matmul_tiled_kernel(a, b, c):
    """c = a @ b: each block computes a TILE x TILE square of c, one thread per element.

    The thread (tx, ty) = cuda.threadIdx.x, .y owns c[row, col] with
    row = cuda.blockIdx.y * TILE + ty and col = cuda.blockIdx.x * TILE + tx.
    1. Two shared arrays of (TILE, TILE) float32, a_tile and b_tile, each declared
       on its own line.
    2. For start in range(0, k, TILE):
       a_tile[ty, tx] = a[row, start + tx], b_tile[ty, tx] = b[start + ty, col],
       each 0 when its index falls outside a or b; cuda.syncthreads();
       add a_tile[ty, q] * b_tile[q, tx] for q in range(TILE) to a float32 sum;
       cuda.syncthreads() again, before the next round overwrites the tiles.
    3. If row < m and col < n: c[row, col] = the sum.
    Every thread of the block must reach both syncthreads calls: no early return.
    """
    raise NotImplementedError("Exercise 5.12: A tiled matrix product")


# --8<-- [end:tiled]


def _check_product(a: np.ndarray, b: np.ndarray) -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs (m, k) and (k, n) arrays, got {a.shape} and {b.shape}")


def _product(kernel, a: np.ndarray, b: np.ndarray, square: int, threads: tuple) -> np.ndarray:
    """a @ b with a kernel whose blocks of `threads` each compute a `square` x `square` of c."""
    _check_product(a, b)
    c = cuda.device_array((a.shape[0], b.shape[1]), dtype=np.float32)
    grid = (_blocks(b.shape[1], square), _blocks(a.shape[0], square))
    kernel[grid, threads](_as_float32(a, "a"), _as_float32(b, "b"), c)
    return c.copy_to_host()


def matmul_tiled(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D float32 arrays with `matmul_tiled_kernel`."""
    return _product(matmul_tiled_kernel, a, b, TILE, (TILE, TILE))


# --8<-- [start:conv]
# ---------------------------------------------------------------------------
# Exercise 5.13: a convolution kernel
# ---------------------------------------------------------------------------


@cuda.jit
def conv2d_kernel(x, weight, bias, out, stride, padding):
    """out = conv2d(x, weight) + bias, one thread per output element.

    x: (N, C, H, W); weight: (F, C, kh, kw); bias: (F,); out: (N, F, OH, OW).
    1. i = cuda.grid(1); return when i >= out.size (N * F * OH * OW).
    2. Unravel i as NumPy's C order does: ox = i % OW, oy = (i // OW) % OH,
       f = (i // (OW * OH)) % F, n = i // (OW * OH * F).
    3. Start from bias[f]; for every channel c and kernel offset (p, q), with
       y = oy * stride - padding + p and xx = ox * stride - padding + q, add
       weight[f, c, p, q] * x[n, c, y, xx] when (y, xx) is inside the image
       (positions in the padding count as 0).
    4. out[n, f, oy, ox] = the sum.
    """
    raise NotImplementedError("Exercise 5.13: A convolution kernel")


# --8<-- [end:conv]


def conv2d_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding: int
) -> np.ndarray:
    """conv2d of float32 NCHW arrays on the GPU with `conv2d_kernel` (bias None: zeros)."""
    n, _, h, w = x.shape
    filters, _, kernel_h, kernel_w = weight.shape
    out_h = (h + 2 * padding - kernel_h) // stride + 1
    out_w = (w + 2 * padding - kernel_w) // stride + 1
    bias = np.zeros(filters, np.float32) if bias is None else bias
    out = cuda.device_array((n, filters, out_h, out_w), dtype=np.float32)
    conv2d_kernel[_blocks(out.size), THREADS](
        _as_float32(x, "x"),
        _as_float32(weight, "weight"),
        _as_float32(bias, "bias"),
        out,
        stride,
        padding,
    )
    return out.copy_to_host()


# ---------------------------------------------------------------------------
# Provided: the answer key's fast kernels. Spoiler: matmul_kernel uses the pattern
# that exercise 5.12 asks for (tiles zero-filled past the edges, one barrier after
# loading them and one after using them), so write 5.12 before reading on.
# ---------------------------------------------------------------------------

BLOCK = 64  # matmul_kernel: each block computes a BLOCK x BLOCK square of c ...
STEP = 16  # ... walking the shared dimension STEP at a time ...
SPAN = 4  # ... and each of its SIDE x SIDE threads computes SPAN x SPAN outputs
SIDE = BLOCK // SPAN


@cuda.jit
def matmul_kernel(a, b, c):
    """c = a @ b, register-blocked: each thread keeps a 4 x 4 block of c in registers.

    The block's 256 threads stage a 64 x 16 tile of a and a 16 x 64 tile of b in
    shared memory (4 elements of each per thread, consecutive threads reading
    consecutive addresses). For each of the 16 steps, a thread reads 4 values of a
    and 4 of b from shared memory into registers and does 16 multiply-adds with
    them: four times the arithmetic per shared-memory read of the 1-output tile.
    Thread (tx, ty) owns rows ty, ty+16, ty+32, ty+48 and the same columns from tx,
    so a warp writes c in whole contiguous rows.
    """
    a_tile = cuda.shared.array((BLOCK, STEP), float32)
    b_tile = cuda.shared.array((STEP, BLOCK), float32)
    sums = cuda.local.array((SPAN, SPAN), float32)
    a_regs = cuda.local.array(SPAN, float32)
    b_regs = cuda.local.array(SPAN, float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    thread = ty * SIDE + tx
    row0, col0 = cuda.blockIdx.y * BLOCK, cuda.blockIdx.x * BLOCK
    m, k = a.shape
    n = b.shape[1]
    for r in range(SPAN):
        for s in range(SPAN):
            sums[r, s] = 0
    for start in range(0, k, STEP):
        for r in range(SPAN):
            e = thread + r * SIDE * SIDE
            ar, ac = e // STEP, e % STEP
            a_tile[ar, ac] = a[row0 + ar, start + ac] if row0 + ar < m and start + ac < k else 0
            br, bc = e // BLOCK, e % BLOCK
            b_tile[br, bc] = b[start + br, col0 + bc] if start + br < k and col0 + bc < n else 0
        cuda.syncthreads()
        for q in range(STEP):
            for r in range(SPAN):
                a_regs[r] = a_tile[ty + SIDE * r, q]
            for s in range(SPAN):
                b_regs[s] = b_tile[q, tx + SIDE * s]
            for r in range(SPAN):
                for s in range(SPAN):
                    sums[r, s] += a_regs[r] * b_regs[s]
        cuda.syncthreads()
    for r in range(SPAN):
        for s in range(SPAN):
            row, col = row0 + ty + SIDE * r, col0 + tx + SIDE * s
            if row < m and col < n:
                c[row, col] = sums[r, s]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D float32 arrays with the register-blocked `matmul_kernel`."""
    return _product(matmul_kernel, a, b, BLOCK, (SIDE, SIDE))


@cuda.jit
def conv2d_grad_input_kernel(grad_out, weight, grad_x, stride, padding):
    """grad_x[n, c, y, x] = the sum of grad_out[n, f, oy, ox] * weight[f, c, p, q] over
    every output position whose window put weight[., ., p, q] on pixel (y, x):
    oy * stride - padding + p = y. One thread per input pixel, so no two threads add
    to the same place."""
    i = cuda.grid(1)
    n_images, channels, height, width = grad_x.shape
    if i >= n_images * channels * height * width:
        return
    xx = i % width
    y = (i // width) % height
    c = (i // (width * height)) % channels
    n = i // (width * height * channels)
    filters, out_h, out_w = grad_out.shape[1], grad_out.shape[2], grad_out.shape[3]
    total = float32(0)
    for p in range(weight.shape[2]):
        dy = y + padding - p
        oy = dy // stride
        if dy >= 0 and dy % stride == 0 and oy < out_h:
            for q in range(weight.shape[3]):
                dx = xx + padding - q
                ox = dx // stride
                if dx >= 0 and dx % stride == 0 and ox < out_w:
                    for f in range(filters):
                        total += grad_out[n, f, oy, ox] * weight[f, c, p, q]
    grad_x[n, c, y, xx] = total


@cuda.jit
def conv2d_grad_weight_kernel(grad_out, x, grad_w, stride, padding):
    """grad_w[f, c, p, q] += the sum over oy, ox of grad_out[n, f, oy, ox] * x[n, c,
    oy*stride - padding + p, ox*stride - padding + q], for image n = blockIdx.y.

    One thread per (weight, image): the images' shares meet in grad_w through atomic
    adds (which never lose an update when threads add to one place at once), so
    grad_w must start at zero.
    """
    w = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    n = cuda.blockIdx.y
    filters, channels, kernel_h, kernel_w = grad_w.shape
    if w >= filters * channels * kernel_h * kernel_w:
        return
    q = w % kernel_w
    p = (w // kernel_w) % kernel_h
    c = (w // (kernel_w * kernel_h)) % channels
    f = w // (kernel_w * kernel_h * channels)
    height, width = x.shape[2], x.shape[3]
    total = float32(0)
    for oy in range(grad_out.shape[2]):
        y = oy * stride - padding + p
        if 0 <= y < height:
            for ox in range(grad_out.shape[3]):
                xx = ox * stride - padding + q
                if 0 <= xx < width:
                    total += grad_out[n, f, oy, ox] * x[n, c, y, xx]
    cuda.atomic.add(grad_w, (f, c, p, q), total)


def conv2d_backward(
    grad_output: np.ndarray,
    x: np.ndarray,
    weight: np.ndarray,
    stride: int,
    padding: int,
    need_input_grad: bool = True,
) -> tuple[np.ndarray | None, np.ndarray]:
    """(grad_x or None, grad_weight) of conv2d on the GPU; x and the gradients stay NCHW."""
    d_grad = cuda.to_device(_as_float32(grad_output, "grad_output"))
    d_x = cuda.to_device(_as_float32(x, "x"))
    d_weight = cuda.to_device(_as_float32(weight, "weight"))
    grad_w = cuda.to_device(np.zeros(weight.shape, dtype=np.float32))
    grid = (_blocks(weight.size), x.shape[0])
    conv2d_grad_weight_kernel[grid, THREADS](d_grad, d_x, grad_w, stride, padding)
    if not need_input_grad:
        return None, grad_w.copy_to_host()
    grad_x = cuda.device_array(x.shape, dtype=np.float32)
    conv2d_grad_input_kernel[_blocks(x.size), THREADS](d_grad, d_weight, grad_x, stride, padding)
    return grad_x.copy_to_host(), grad_w.copy_to_host()


def conv2d_function_backward(ctx, grad_output: np.ndarray) -> tuple:
    """The answer key's Conv2dFunction.backward (cnn.py) when its forward ran on the GPU
    (KINDLING_DEVICE=cuda): that forward saved x and the weight, and ctx.geometry =
    (stride, padding, has_bias)."""
    x, weight = ctx.saved_tensors
    stride, padding, has_bias = ctx.geometry
    need_x = not ctx.inputs or ctx.inputs[0].requires_grad
    grad_x, grad_weight = conv2d_backward(grad_output, x, weight, stride, padding, need_x)
    grad_bias = grad_output.sum(axis=(0, 2, 3)) if has_bias else None
    return grad_x, grad_weight, grad_bias, None, None
