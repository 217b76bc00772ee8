"""The CUDA side of the course, checked without a GPU.

tests/gpu/ runs in its own pytest process with NUMBA_ENABLE_CUDASIM=1 (numba reads it
once, at import, so this process, which has numba loaded already, cannot). Asking the
answer key for the GPU where there is none is a clear error, not a silent fallback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# 88 s on an idle 2-core AMD EPYC (AVX2), 53 s on a 2-core Xeon: far over the suite's
# 60 s default. Its own limits leave 5x headroom; the subprocess's is the shorter, so a
# slow run ends with the simulator's output rather than pytest-timeout's stack dump.
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cuda_kernels_pass_on_the_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/gpu", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]


def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    probe = python("from numba import cuda; print(cuda.is_available())", NUMBA_ENABLE_CUDASIM="0")
    if probe.stdout.strip() == "True":
        pytest.skip("this machine has a GPU: KINDLING_DEVICE=cuda works here")
    done = python("import kindling", KINDLING_DEVICE="cuda", NUMBA_ENABLE_CUDASIM="0")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: KINDLING_DEVICE=cuda asks for the GPU"), last
    assert "Unset KINDLING_DEVICE" in last


def test_an_unknown_device_is_named():
    done = python("import kindling", KINDLING_DEVICE="gpu")
    assert "KINDLING_DEVICE='gpu' is not understood: use 'cpu' or 'cuda'" in done.stderr
