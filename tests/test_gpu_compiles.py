"""Every CUDA kernel compiles for a real GPU, not only on the simulator.

The simulator runs kernels as Python and checks no types: a kernel that passes there
can still fail to compile for a GPU. grading/ptx.py (`python -m kindling check-gpu`)
compiles each kernel of the answer key and of the learner's stub file to PTX for an
H100, with NVVM and NVRTC from pip (`pip install -e ".[ptx]"`); no GPU is needed. The
register-blocked matmul must also keep its 4 x 4 sums in registers (no local memory).

Skipped where NVVM or NVRTC is missing, except with KINDLING_REQUIRE_PTX=1 (CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grading import ptx

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compile_ptx():
    try:
        return ptx.ptx_compiler()
    except ptx.NoCompiler as missing:
        if os.environ.get("KINDLING_REQUIRE_PTX") == "1":
            pytest.fail(str(missing))
        pytest.skip(str(missing))


def test_every_kernel_of_the_answer_key_compiles_for_a_gpu(compile_ptx):
    results = {r.kernel: r for r in ptx.compile_kernels(ROOT / "solutions/gpu.py", compile_ptx)}
    assert set(results) == set(ptx.kernel_signatures())
    for name, result in results.items():
        assert result.status == "compiles", f"{name}: {result.status} {result.detail}"
        assert ".entry" in result.ptx, f"{name} produced no kernel entry"
    assert ".local" not in results["matmul_kernel"].ptx, "matmul_kernel spills to local memory"


def test_the_stubs_kernels_compile_or_are_not_started(compile_ptx):
    results = ptx.compile_kernels(ROOT / "chapters/05/gpu.py", compile_ptx)
    statuses = {r.kernel: (r.status, r.detail) for r in results}
    assert statuses["block_sum_kernel"] == ("not started", "Exercise 5.11")
    assert statuses["matmul_kernel"][0] == "compiles"  # given, not an exercise
    assert all(status != "does not compile" for status, _ in statuses.values()), statuses


def test_check_gpu_names_a_kernel_that_does_not_compile(compile_ptx, tmp_path):
    source = (ROOT / "solutions/gpu.py").read_text(encoding="utf-8")
    broken = source.replace(  # a host function called in a kernel: fine on the simulator
        "    total = float32(0)\n    for start in range(0, k, TILE):\n",
        "    total = float32(0)\n    _check_product(a, b)\n    for start in range(0, k, TILE):\n",
    )
    assert broken != source
    (tmp_path / "gpu.py").write_text(broken, encoding="utf-8")
    code = f"import sys; from grading import ptx; sys.exit(ptx.check_gpu(ptx.Path({str(tmp_path / 'gpu.py')!r})))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.split() == ["scale_add_kernel", "compiles"] for line in lines), done.stdout
    assert any(line.split()[:2] == ["matmul_tiled_kernel", "does"] for line in lines), done.stdout
    assert "_check_product" in done.stdout, done.stdout  # the compiler's reason
