"""The grading plugin itself: TODO details, ERROR for exceptions and timeouts, and the modes
selected by the command line (shown on chapter 01)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.workspace import Planted

# Each test grades chapter 01 in a subprocess: 5 to 21 s on a loaded 2-core EPYC.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ALL_EXERCISES = [f"1.{n}" for n in range(1, 10)]


def test_todo_says_which_exercise_is_missing(workspace):
    grades = workspace("01").grade()
    assert grades.statuses == dict.fromkeys(ALL_EXERCISES, "TODO"), grades.details
    assert grades.details["1.1"] == "not started"
    assert grades.details["1.2"] == "waiting on Exercise 1.1: The Tensor"  # 1.2 builds Tensors
    assert "Chapter 01: Autograd" in grades.output


def test_error_and_timeout_are_reported_as_error(workspace):
    ws = workspace("01")
    ws.use_answer_key()
    exp_raises = Planted(
        "1.5",
        "Exp raises",
        "autograd.py",
        "        out = np.exp(a)\n",
        "        out = np.exp(a, axis=0)\n",
    )
    endless = Planted("1.7", "endless loop", "autograd.py",
                      "        ctx.shape = a.shape\n        return a.reshape(shape)",
                      "        while True:\n            pass")  # fmt: skip
    ws.plant(exp_raises)
    ws.plant(endless)
    # The endless loop costs this limit. 1.8's big product takes 0.9 s beside a mutation run
    # (loadavg 14, 2 cores): 10 s leaves 10x for every other grader.
    grades = ws.grade(timeout_s=10)
    assert grades.statuses["1.5"] == "ERROR"
    assert (
        grades.details["1.5"].startswith("TypeError")
        and "chapters/01/autograd.py" in grades.details["1.5"]
    )
    assert grades.statuses["1.7"] == "ERROR"
    assert grades.details["1.7"].startswith("Timeout")
    assert [s for e, s in grades.statuses.items() if e not in {"1.5", "1.7"}] == ["PASS"] * 7


@pytest.mark.parametrize(
    ("options", "impl"),
    [((), "isolate:01"), (("--own-stack",), "mine"), (("--reference",), "reference")],
)
def test_grading_mode_follows_the_options(workspace, options, impl):
    grades = workspace("01").grade(*options)
    assert grades.impl == impl
    assert f"(KINDLING_IMPL={impl})" in grades.output


def test_a_pytest_without_the_course_packages_says_so_in_one_line():
    """A pytest from outside .venv lacks pytest-timeout (simulated with -p no:timeout)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "chapters/03", "-p", "no:timeout"],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("ERROR: pytest-timeout missing from the Python"), message
    assert ".venv" in message and 'pip install -e ".[dev]"' in message, message
    assert "INTERNALERROR" not in done.stdout + done.stderr
