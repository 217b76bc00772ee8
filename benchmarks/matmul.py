"""kindling.kernels.matmul and fast_matmul (Numba) against numpy.matmul (OpenBLAS or the BLAS
NumPy was built with), float32, at 1024x1024x1024 and at the products the original tutorial's
ConvNet computes. `matmul` is Exercise 5.5's tiled kernel; `fast_matmul`, what the answer
key's layers call, sends a product whose shared dimension is at most kernels.SHORT_K to the
provided outer-product kernel and the others to `matmul`.

The ConvNet's products, batch 64, with the operands laid out as the answer key passes them
(a transposed operand is a NumPy view, as autograd hands it over; both sides get the same
arrays):

    fc1 forward       x @ W1^T          64x3136 @ 3136x128
    fc1 grad input    g @ W1            64x128 @ 128x3136
    fc1 grad weight   x^T @ g           3136x64 @ 64x128
    conv1 forward     W @ cols^T        32x9 @ 9x50176       (cols: im2col of 64x1x28x28, 3x3)
    conv1 grad weight g^T @ cols        32x50176 @ 50176x9   (cols^T from im2col_transposed)
    conv2 forward     W @ cols^T        64x288 @ 288x12544   (cols: im2col of 64x32x14x14)
    conv2 grad weight g^T @ cols        64x12544 @ 12544x288
    conv2 grad cols   g @ W             12544x64 @ 64x288

Numba compiles the kernel on its first call (or loads it from its cache): that time is
printed apart. Each product is then timed in `--rounds` rounds of `--repeats` calls in a
row, kindling and NumPy taking turns round by round, each settling first (untimed calls
for `--settle` seconds: see `settle`); the best call counts. The goal: at least 50% of
NumPy's throughput at 1024 (ratio >= 0.5), and every ConvNet product at least 45% with
fast_matmul.

    KINDLING_IMPL=reference python benchmarks/matmul.py
    KINDLING_IMPL=reference python benchmarks/matmul.py --quick

It prints a table and the ratios; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import time
from collections.abc import Callable

import numba
import numpy as np
import timing
from timing import settle

import kindling
from kindling import kernels


def best_seconds(
    functions: list[Callable[[], object]], repeats: int, rounds: int, settling: float
) -> list[float]:
    """Each function's fastest call: `rounds` rounds in which each function in turn settles,
    then is timed `repeats` times in a row. Taking turns round by round lets every function
    meet the same load from whatever else runs on the machine."""
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for index, function in enumerate(functions):
            settle(function, settling)
            for _ in range(repeats):
                start = time.perf_counter()
                function()
                times[index].append(time.perf_counter() - start)
    return [min(each) for each in times]


def blas_description() -> str:
    """NumPy's BLAS as built, and the CPU kernel OpenBLAS picked at run time, where it says."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        text = f"{blas['name']} {blas['version']}"
    except (KeyError, TypeError):  # an older NumPy, or a BLAS it does not describe
        return "(numpy.show_config does not describe it)"
    libraries = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*"))
    for path in (p for p in libraries if "openblas" in os.path.basename(p)):
        try:
            library = ctypes.CDLL(path)
            corename = library.scipy_openblas_get_corename64_
            threads = library.scipy_openblas_get_num_threads64_
        except (OSError, AttributeError):
            continue
        corename.restype = ctypes.c_char_p
        text += f", core {corename().decode()}, {threads()} threads"
    return text


def products(size: int, batch: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, a, b) for each product timed: the square one, then the ConvNet's."""
    rng = np.random.default_rng(0)

    def array(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    x, w1, g1 = array(batch, 3136), array(128, 3136), array(batch, 128)
    # A conv layer's output positions, one im2col row each; the answer key computes
    # W @ cols^T and g^T @ cols with cols^T a C-contiguous array (im2col_transposed).
    rows1, rows2 = batch * 28 * 28, batch * 14 * 14
    cols1, cols1_t, w1c, g1c_t = array(rows1, 9), array(9, rows1), array(32, 9), array(32, rows1)
    cols2, cols2_t = array(rows2, 32 * 3 * 3), array(32 * 3 * 3, rows2)
    w2, g2, g2_t = array(64, 32 * 3 * 3), array(rows2, 64), array(64, rows2)
    return [
        (f"square {size}", array(size, size), array(size, size)),
        ("fc1 forward", x, w1.T),
        ("fc1 grad input", g1, w1),
        ("fc1 grad weight", x.T, g1),
        ("conv1 forward", w1c, cols1.T),
        ("conv1 grad weight", g1c_t, cols1_t.T),
        ("conv2 forward", w2, cols2.T),
        ("conv2 grad weight", g2_t, cols2_t.T),
        ("conv2 grad cols", g2, w2),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="the square product's n (1024)")
    parser.add_argument("--batch", type=int, default=64, help="the ConvNet's batch (64)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per round (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, sides taking turns (3)")
    parser.add_argument(
        "--settle", type=float, default=0.3, help="untimed seconds before each block (0.3)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: only checks it runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.repeats, args.rounds, args.settle = 96, 2, 1, 1, 0.0

    print(f"numpy {np.__version__}: {blas_description()}")
    settings = ", ".join(
        f"{name}={os.environ.get(name, '(unset)')}"
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")
    )
    print(f"environment: {settings}")
    print(
        f"CPUs: {os.cpu_count()}, numba {numba.__version__} with {numba.get_num_threads()} "
        f"threads (kindling: KINDLING_IMPL={kindling.IMPL})"
    )
    start = time.perf_counter()
    kernels.matmul(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))
    print(f"first call (Numba compiles, or loads its cache): {time.perf_counter() - start:.2f}s")
    print(f"float32, best of {args.rounds} x {args.repeats} calls\n")

    header = f"{'product':<18} {'shape (m x k x n)':>19} {'matmul ms':>10} {'fast ms':>8}"
    print(f"{header} {'numpy ms':>9} {'fast GFLOP/s':>13} {'numpy GFLOP/s':>14} {'ratios':>12}")
    for label, a, b in products(args.size, args.batch):
        (m, k), n = a.shape, b.shape[1]
        for product in (kernels.matmul, kernels.fast_matmul):
            assert np.allclose(product(a, b), a @ b, rtol=1e-3, atol=1e-3 * np.sqrt(k))
        tiled, fast, theirs = best_seconds(
            [
                lambda a=a, b=b: kernels.matmul(a, b),
                lambda a=a, b=b: kernels.fast_matmul(a, b),
                lambda a=a, b=b: np.matmul(a, b),
            ],
            args.repeats,
            args.rounds,
            args.settle,
        )
        flops = 2 * m * k * n
        print(
            f"{label:<18} {f'{m}x{k}x{n}':>19} {tiled * 1e3:>10.2f} {fast * 1e3:>8.2f} "
            f"{theirs * 1e3:>9.2f} {flops / fast / 1e9:>13.1f} {flops / theirs / 1e9:>14.1f} "
            f"{theirs / tiled:>5.2f} {theirs / fast:>6.2f}"
        )
    print(
        "\nratios: matmul's and fast_matmul's throughput over NumPy's (1 = as fast; the goals: "
        f"matmul >= 0.50 at {args.size}x{args.size}x{args.size}, fast_matmul >= 0.45 on every "
        "ConvNet product)"
    )


if __name__ == "__main__":
    timing.run(main)
