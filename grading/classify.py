"""How a failed grader test becomes TODO, FAIL or ERROR, with a one-line reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grading.manifest import CHAPTERS_DIR, ROOT

# How every stub's NotImplementedError begins; the CUDA simulator puts the thread's
# indices in front ("tid=[3, 0, 0] ctaid=[0, 0, 0]: Exercise 5.11: ...").
EXERCISE_STUB = re.compile(r"^(?:tid=\[[\d, ]*\] ctaid=\[[\d, ]*\]: )?(Exercise (\d+\.\d+): .*)")


def classify(excinfo: pytest.ExceptionInfo | None, exercise_id: str) -> tuple[str, str]:
    """Decide TODO, FAIL or ERROR from an exception, with a one-line explanation."""
    if excinfo is None:
        return "ERROR", "the test failed without an exception"
    error = excinfo.value
    first_line = (str(error).strip().splitlines() or [""])[0]
    raised_at = Path(str(excinfo.traceback[-1].path)) if excinfo.traceback else None
    in_chapter = raised_at is not None and CHAPTERS_DIR in raised_at.resolve().parents
    # A stub says which exercise it belongs to. The message decides, not the frame it was
    # raised in: a Numba-compiled stub raises from machine code, which has no Python frame.
    stub = EXERCISE_STUB.match(first_line)
    if isinstance(error, NotImplementedError) and stub:
        if stub.group(2) == exercise_id:
            return "TODO", "not started"
        return "TODO", f"waiting on {stub.group(1)}"
    if isinstance(error, (AssertionError, pytest.fail.Exception)):
        if first_line.startswith("Timeout"):
            return "ERROR", f"Timeout: {first_line} (an endless loop?)"
        return "FAIL", first_line or "a check failed"
    where = ""
    if in_chapter and raised_at is not None:
        entry = excinfo.traceback[-1]
        where = f" (at {raised_at.resolve().relative_to(ROOT)}:{entry.lineno + 1} in {entry.name})"
    return "ERROR", f"{type(error).__name__}: {first_line}{where}"
