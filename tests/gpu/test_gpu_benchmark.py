"""benchmarks/gpu.py --quick runs on the simulator: every check says ok, and the step
comparison prints its ratio (the times mean nothing there)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM") != "1", reason="needs NUMBA_ENABLE_CUDASIM=1"
)


# 43 s on an idle 2-core AMD EPYC (every kernel on the simulator), over 60 s with the
# machine loaded: its own limit, with the subprocess's shorter so that its output shows.
@pytest.mark.timeout(300)
def test_gpu_check_script_runs_quick():
    env = {**os.environ, "KINDLING_IMPL": "reference", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu.py", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    checks = re.findall(r"= \d\.\de[-+]\d\d  (\w+)$", done.stdout, flags=re.MULTILINE)
    assert checks == ["ok"] * 7, done.stdout
    assert re.search(r"ratio GPU / CPU: \d+\.\d\d", done.stdout), done.stdout
