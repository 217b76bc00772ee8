"""Every benchmark still runs: each script, on a tiny size, on the answer key, exits 0 and
prints its ratio line (or says torch is missing). No timing is asserted: benchmarks print
ratios for people to read (see benchmarks/README.md).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each runs a benchmark in a subprocess that imports torch: the training step's took 32 s
# on a 2-core EPYC beside a mutation run, so each has its own limit.
pytestmark = pytest.mark.timeout(300)


def run_benchmark(script: str, *args: str) -> str:
    """Run benchmarks/<script> with KINDLING_IMPL=reference from the repository's root."""
    env = {**os.environ, "KINDLING_IMPL": "reference"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.mark.slow  # 2.7 s on the idle 2-core EPYC: a subprocess that imports torch
def test_data_loader_benchmark_runs_and_prints_its_ratio():
    output = run_benchmark("data_loader.py", "--samples", "2000", "--repeats", "1")
    assert re.search(r"^kindling\s+\d+\.\d+\s+[\d,]+$", output, flags=re.MULTILINE), output
    if importlib.util.find_spec("torch") is None:
        assert "torch is not installed" in output, output
    else:
        assert re.search(r"^ratio kindling/torch: \d+\.\d\d ", output, flags=re.MULTILINE), output


def test_matmul_benchmark_runs_and_prints_its_ratios():
    output = run_benchmark("matmul.py", "--quick")
    assert re.search(r"^numpy \d+\.\d+", output, flags=re.MULTILINE), output
    assert "OPENBLAS_CORETYPE=" in output and "first call (Numba" in output, output
    labels = ("square 96", "fc1 forward", "fc1 grad input", "fc1 grad weight", "conv1 forward")
    for label in (
        *labels,
        "conv1 grad weight",
        "conv2 forward",
        "conv2 grad weight",
        "conv2 grad cols",
    ):
        # matmul ms, fast_matmul ms, numpy ms, two GFLOP/s, then the two ratios
        row = rf"^{label}\s+\d+x\d+x\d+(\s+\d+\.\d+){{5}}\s+\d+\.\d\d\s+\d+\.\d\d$"
        assert re.search(row, output, flags=re.MULTILINE), f"no row for {label}:\n{output}"


@pytest.mark.slow  # 4.5 s on the idle 2-core EPYC: a subprocess that imports torch
def test_conv_benchmark_runs_and_prints_its_ratios():
    output = run_benchmark("conv.py", "--quick")
    torch_missing = importlib.util.find_spec("torch") is None
    for layer in ("conv1", "pool1", "conv2", "pool2"):
        numbers = 3 if torch_missing else 7
        row = rf"^{layer}\s+\S+(, \d+ 3x3 pad 1|, 2x2)(\s+\d+\.\d+){{{numbers}}}$"
        assert re.search(row, output, flags=re.MULTILINE), f"no row for {layer}:\n{output}"
    if torch_missing:
        assert "torch is not installed" in output, output
    for line in (
        "(fast_)?matmul\\(",
        "outside the kernels",
        "forward \\+ backward, the fastest round",
    ):
        assert re.search(rf"^  {line}.*\s\d+\.\d\d$", output, flags=re.MULTILINE), output


@pytest.mark.slow  # 5.8 s on the idle 2-core EPYC: a subprocess that imports torch
def test_train_step_benchmark_runs_and_prints_its_ratio():
    output = run_benchmark("train_step.py", "--quick")
    assert re.search(r"^kindling(\s+\d+\.\d){5}$", output, flags=re.MULTILINE), output
    if importlib.util.find_spec("torch") is None:
        assert "torch is not installed" in output, output
    else:
        assert "losses agree over the first " in output, output
        ratio = r"^ratio kindling/torch: \d+\.\d\d median, \d+\.\d\d best "
        assert re.search(ratio, output, flags=re.MULTILINE), output


@pytest.mark.slow  # 3.4 s on the idle 2-core EPYC: a subprocess that imports torch
def test_grading_benchmark_runs_and_prints_its_table():
    output = run_benchmark("learner_loop.py", "--chapters", "03", "--repeats", "1", "--no-progress")
    assert re.search(r"^CPU: .+, \d+ logical cores", output, flags=re.MULTILINE), output
    assert re.search(r"^03\s+\d+\.\d\s+\d+\.\d$", output, flags=re.MULTILINE), output


@pytest.mark.slow  # 1 s on the 2-core EPYC: two MPI ranks
def test_allreduce_benchmark_runs_and_prints_its_ratios():
    try:
        from mpi4py import MPI  # noqa: F401  (fails where no MPI library is installed)
    except (ImportError, RuntimeError):
        pytest.skip("MPI is not installed: pip install mpi4py mpich")
    output = run_benchmark("allreduce.py", "--quick")
    rows = re.findall(
        r"^\s+(\d+ [KM]B)\s+2\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+\.\d\d$",
        output,
        flags=re.MULTILINE,
    )
    assert rows == ["4 KB", "1 MB"], output


@pytest.mark.parametrize(
    ("script", "args", "exercise"),
    [("matmul.py", ["--quick"], "Exercise 5.5: A parallel matrix product"),
     ("data_loader.py", ["--samples", "10", "--repeats", "1"], "Exercise 4.4: The DataLoader")],
)  # fmt: skip
def test_a_benchmark_of_an_unwritten_exercise_says_so_in_one_line(script, args, exercise):
    """Benchmarks time your code by default: on a stub, one line, not a traceback (1-2 s)."""
    chapter = exercise.split()[1].split(".")[0].zfill(2)
    env = {**os.environ, "KINDLING_IMPL": f"isolate:{chapter}"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    # The last line (Numba may warn before it, compiling a stub with nothing parallel in it).
    assert result.stderr.strip().splitlines()[-1] == (
        f"benchmarks/{script} times your code (KINDLING_IMPL=isolate:{chapter}), and {exercise} "
        f"is not written yet: finish it, or time the answer key: KINDLING_IMPL=reference "
        f"python benchmarks/{script}"
    )
