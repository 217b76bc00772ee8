"""Your CUDA kernels compiled for a real GPU, without one: `python -m kindling check-gpu`.

The simulator runs a kernel as Python and checks no types, so a kernel can pass every
grader there and still fail to compile for a GPU (a list, a `try`, a call to a Python
function). Here numba-cuda compiles each kernel of chapters/05/gpu.py to PTX, the GPU's
assembly language, for an H100 (compute capability 9.0), with NVIDIA's compiler
libraries from pip (`pip install -e ".[ptx]"`, Linux and Windows). No GPU is needed.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from grading.manifest import CHAPTERS_DIR, ROOT

CAPABILITY = (9, 0)  # an H100
LEARNER_FILE = CHAPTERS_DIR / "05" / "gpu.py"
INSTALL = 'pip install -e ".[ptx]"'
STUB = re.compile(r'NotImplementedError\("Exercise (\d+\.\d+)')
ANSI_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # Numba colours its messages


class NoCompiler(Exception):
    """NVIDIA's compiler libraries (NVVM, NVRTC) are missing: the message says what to do."""


@dataclass
class Compiled:
    """One kernel's outcome: `status` is "compiles", "not started" or "does not compile"."""

    kernel: str
    status: str
    detail: str = ""
    ptx: str = ""


def kernel_signatures() -> dict[str, tuple]:
    """Every kernel of gpu.py, with the argument types the course launches it with."""
    from numba import float32, int64

    vector, matrix, images = float32[::1], float32[:, ::1], float32[:, :, :, ::1]
    return {
        "scale_add_kernel": (float32, vector, vector, vector),
        "block_sum_kernel": (vector, vector),
        "matmul_tiled_kernel": (matrix, matrix, matrix),
        "matmul_kernel": (matrix, matrix, matrix),
        "conv2d_kernel": (images, images, vector, images, int64, int64),
        "conv2d_grad_input_kernel": (images, images, images, int64, int64),
        "conv2d_grad_weight_kernel": (images, images, images, int64, int64),
    }


def ptx_compiler() -> Callable:
    """numba-cuda's `compile_ptx`, once a tiny kernel proved that it works here."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        raise NoCompiler("NUMBA_ENABLE_CUDASIM=1: the simulator compiles nothing; unset it")
    try:
        from numba import float32
        from numba.cuda import compile_ptx

        def probe(x):
            x[0] = 1

        compile_ptx(probe, (float32[::1],), cc=CAPABILITY)
    except Exception as error:  # NVVM or NVRTC not found, or numba-cuda missing
        why = f"{type(error).__name__}: {str(error).strip().splitlines()[0][:200]}"
        raise NoCompiler(
            f"cannot compile CUDA here ({why}). Install NVIDIA's compiler libraries with "
            f"{INSTALL} (Linux and Windows; macOS has none)"
        ) from None
    return compile_ptx


def load(path: Path, name: str) -> ModuleType:
    """gpu.py as a module of its own (it imports nothing from kindling)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_kernels(path: Path, compile_ptx: Callable) -> list[Compiled]:
    """Compile each kernel of the file at `path`; a kernel the file lacks is reported too."""
    module = load(path, f"gpu_ptx_{abs(hash(str(path)))}")
    results = []
    for name, signature in kernel_signatures().items():
        kernel = getattr(module, name, None)
        if kernel is None or not hasattr(kernel, "py_func"):
            results.append(Compiled(name, "does not compile", "missing, or not a @cuda.jit"))
            continue
        if stub := STUB.search(inspect.getsource(kernel.py_func)):
            results.append(Compiled(name, "not started", f"Exercise {stub.group(1)}"))
            continue
        try:
            ptx, _ = compile_ptx(kernel.py_func, signature, cc=CAPABILITY)
        except Exception as error:  # the compiler's own message is the useful part
            results.append(Compiled(name, "does not compile", first_lines(error)))
            continue
        results.append(Compiled(name, "compiles", ptx=ptx))
    return results


def first_lines(error: Exception, lines: int = 8) -> str:
    """The start of a compiler error: Numba's messages put the cause and the line first."""
    text = ANSI_COLOURS.sub("", f"{type(error).__name__}: {error}")
    kept = [line for line in text.strip().splitlines() if line.strip()][:lines]
    return "\n".join(kept)


def check_gpu(path: Path = LEARNER_FILE) -> int:
    """Print a line per kernel; 0 when none fails to compile, 1 when one does, 2 without
    a compiler."""
    try:
        compile_ptx = ptx_compiler()
    except NoCompiler as missing:
        print(missing)
        return 2
    shown_path = path.relative_to(ROOT) if ROOT in path.resolve().parents else path
    print(f"compiling the kernels of {shown_path} to PTX for compute capability 9.0 (an H100):")
    results = compile_kernels(path, compile_ptx)
    width = max(len(result.kernel) for result in results)
    for result in results:
        status = result.status
        if status == "not started":
            status += f" ({result.detail})"
        print(f"  {result.kernel:<{width}}  {status}")
        if result.status == "does not compile":
            print("      " + result.detail.replace("\n", "\n      "))
    return 1 if any(result.status == "does not compile" for result in results) else 0
