"""Your Numba kernels, compiled in a second process while the graders compile the answer key's.

Chapter 05's graders compile the answer key's kernels and yours before the first test
(chapters/05/test_cnn.py). Numba compiles one function at a time in a process, so on a
first run that was two waits one after the other (a finished chapter 05: 53 to 59 s on a
2-core AMD EPYC, 27 s now). Here a second process compiles yours meanwhile, and leaves the
machine code in Numba's cache on disk (`cache=True`), where the graders then find it.

Nothing of yours runs: only the compiler reads your kernels. A kernel that does not compile
is left to the tests that use it, which say what is wrong.

    python -m grading.precompile kindling.kernels
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import warnings
from typing import Any

from numba import float32, float64, int64
from numba.core.dispatcher import Dispatcher

# How long the graders wait for the second process before they compile what is left.
WAIT_S = 240.0

_i = int64
# The argument types each kernel is graded with: C-contiguous arrays, int64 sizes.
# tests/test_precompile.py checks that they are the answer key's own after the graders' warm-up.
KERNELS = {
    "_matmul_2d": [(float32[:, ::1],) * 3, (float64[:, ::1],) * 3],
    "_matmul_outer": [(float32[:, ::1],) * 3],
    "_transpose_3d": [(float32[:, :, ::1],), (float64[:, :, ::1],)],
    "im2col": [(float32[:, :, :, ::1], _i, _i, _i, _i)],
    "im2col_transposed": [(float32[:, :, :, ::1], _i, _i, _i, _i)],
    "col2im": [(float32[:, ::1], _i, _i, _i, _i, _i, _i, _i, _i)],
    "max_pool2d_forward": [(float32[:, :, :, ::1], _i, _i, _i)],
    "max_pool2d_backward": [(float32[:, :, :, ::1], int64[:, :, :, ::1], _i, _i)],
}
# Yours, and the answer key's (the course's own tests compile those before they copy them).
SIGNATURES: dict[str, dict[str, list[tuple[Any, ...]]]] = {
    "kindling.kernels": KERNELS,
    "solutions.kernels": KERNELS,
}


def kernels_of(module: Any, name: str) -> list[tuple[Dispatcher, tuple[Any, ...]]]:
    """Each (compiled function, argument types) of `module` (imported as `name`) to compile."""
    found = []
    for function, signatures in SIGNATURES[name].items():
        kernel = getattr(module, function, None)
        if isinstance(kernel, Dispatcher):
            found += [(kernel, signature) for signature in signatures]
    return found


def on_disk(kernel: Dispatcher, signature: tuple[Any, ...]) -> bool:
    """Whether Numba's cache holds `kernel` compiled for `signature`. Numba keeps a file's
    cache only while the file is unchanged, so one kernel tells for its whole module."""
    try:
        return kernel._cache.load_overload(signature, kernel.targetctx) is not None
    except Exception:  # another numba: assume not
        return False


def start_beside(module: Any, name: str) -> subprocess.Popen | None:
    """Start compiling `module`'s kernels in a second process, unless they are on disk."""
    kernels = kernels_of(module, name)
    if not kernels or on_disk(*kernels[0]):
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "grading.precompile", name],
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(process: subprocess.Popen | None) -> None:
    """Wait for the second process; past WAIT_S, end it (the graders compile the rest)."""
    if process is None:
        return
    try:
        process.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def compile_all(name: str) -> None:
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kernel, signature in kernels_of(module, name):
            with contextlib.suppress(Exception):
                kernel.compile(signature)


if __name__ == "__main__":
    compile_all(sys.argv[1])
