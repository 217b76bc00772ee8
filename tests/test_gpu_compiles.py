"""Every CUDA kernel compiles for a real GPU, not only on the simulator.

The simulator runs kernels as Python and checks no types: a kernel that passes there
can still fail to compile for a GPU. Here numba-cuda compiles each kernel of the
answer key and of the learner's stub file to PTX for an H100 (compute capability 9.0),
with NVVM and NVRTC from pip (`pip install -e ".[ptx]"`); no GPU is needed. The
register-blocked matmul must also keep its 4 x 4 sums in registers (no local memory).

Skipped where NVVM or NVRTC is missing, except with KINDLING_REQUIRE_PTX=1 (CI).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPABILITY = (9, 0)


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compile_ptx():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("the simulator is on: it compiles nothing")
    from numba import float32
    from numba.cuda import compile_ptx as compile_to_ptx

    def probe(x):
        x[0] = 1

    try:
        compile_to_ptx(probe, (float32[::1],), cc=CAPABILITY)
    except Exception as error:  # NVVM or NVRTC not found, or numba-cuda missing
        message = f"cannot compile CUDA here ({type(error).__name__}: {str(error)[:200]})"
        if os.environ.get("KINDLING_REQUIRE_PTX") == "1":
            pytest.fail(f'{message}; install them with pip install -e ".[ptx]"')
        pytest.skip(message)
    return compile_to_ptx


def signatures():
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


@pytest.mark.parametrize("file", ["solutions/gpu.py", "chapters/05/gpu.py"])
def test_every_kernel_compiles_for_a_gpu(compile_ptx, file):
    module = load(ROOT / file, f"gpu_under_test_{file.replace('/', '_')[:-3]}")
    kernels = {name for name, value in vars(module).items() if hasattr(value, "py_func")}
    table = signatures()
    assert kernels == set(table), f"kernels without a signature here: {kernels ^ set(table)}"
    for name, signature in table.items():
        ptx, _ = compile_ptx(getattr(module, name).py_func, signature, cc=CAPABILITY)
        assert ".entry" in ptx, f"{file}: {name} produced no kernel entry"
        if name == "matmul_kernel":
            assert ".local" not in ptx, "matmul_kernel spills its sums to local memory"
