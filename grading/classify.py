"""How a failed grader test becomes TODO, FAIL or ERROR, with a one-line reason."""

from __future__ import annotations

import ast
import functools
import io
import linecache
import re
import sys
import textwrap
import tokenize
from pathlib import Path
from typing import Any

import pytest

from grading.manifest import CHAPTERS_DIR, ROOT

# How every stub's NotImplementedError begins; the CUDA simulator puts the thread's
# indices in front ("tid=[3, 0, 0] ctaid=[0, 0, 0]: Exercise 5.11: ...").
EXERCISE_STUB = re.compile(r"^(?:tid=\[[\d, ]*\] ctaid=\[[\d, ]*\]: )?(Exercise (\d+\.\d+): .*)")


def classify(
    excinfo: pytest.ExceptionInfo | None, exercise_id: str, nodeid: str = ""
) -> tuple[str, str]:
    """Decide TODO, FAIL or ERROR from an exception, with a one-line explanation.

    FAIL is a grader's check that did not hold; ERROR is an exception from the code under
    test (an `assert` of yours included), named with where it was raised and the grader's
    call that led there. `nodeid` is the failed test's pytest id, for a command that
    rebuilds its inputs."""
    if excinfo is None:
        return "ERROR", "the test failed without an exception"
    error = excinfo.value
    first_line = (str(error).strip().splitlines() or [""])[0]
    # A stub says which exercise it belongs to. The message decides, not the frame it was
    # raised in: a Numba-compiled stub raises from machine code, which has no Python frame.
    stub = EXERCISE_STUB.match(first_line)
    if isinstance(error, NotImplementedError) and stub:
        if stub.group(2) == exercise_id:
            return "TODO", "not started"
        return "TODO", f"waiting on {stub.group(1)}"
    checked = isinstance(error, (AssertionError, pytest.fail.Exception))
    if checked and first_line.startswith("Timeout"):
        return "ERROR", f"Timeout: {first_line} (an endless loop?)"
    if checked and not _raised_in_learner_code(excinfo):
        return "FAIL", (first_line or "a check failed") + _how_to_rebuild(nodeid)
    # An error from an MPI rank already says where it was raised (grading/mpi.py).
    where = "" if getattr(error, "where_known", False) else _where(excinfo)
    return "ERROR", f"{type(error).__name__}{': ' if first_line else ''}{first_line}{where}"


def _is_learner_module(path: Path) -> bool:
    """A chapter's module (chapters/03/optim.py), not one of its graders (test_optim.py)."""
    return CHAPTERS_DIR in path.parents and not path.name.startswith(("test_", "conftest"))


def _is_grader(path: Path) -> bool:
    return CHAPTERS_DIR in path.parents and path.name.startswith("test_")


def _raised_in_learner_code(excinfo: pytest.ExceptionInfo) -> bool:
    return bool(excinfo.traceback) and _is_learner_module(_path(excinfo.traceback[-1]))


def _path(entry: Any) -> Path:
    return Path(str(entry.path)).resolve()


def _statement(entry: Any) -> str:
    """The source statement of a traceback entry, on one line ('' when there is no source)."""
    span = _statement_span(str(entry.path), entry.lineno + 1)
    if span is None:  # no source (compiled code, a deleted file)
        return ""
    lines = linecache.getlines(str(entry.path))[span[0] - 1 : span[1]]
    source = textwrap.dedent("".join(lines))
    text = " ".join(line.strip() for line in _without_comments(source).splitlines())
    return text if len(text) <= 120 else text[:117] + "..."


def _statement_span(path: str, line: int) -> tuple[int, int] | None:
    """First and last line of the innermost statement at `line` of the file at `path`. For
    the head of a compound statement (`for ...:`), only the head, up to its body."""
    starts, spans = _statements(path)
    around = [(first, last) for first, last in spans if first <= line <= last]
    if not around:
        return None
    first, last = max(around)  # the innermost: the one that starts last
    later = [start for start in starts if start > line]
    return first, min([last, *(start - 1 for start in later[:1])])


@functools.cache  # parsing a file is slow, and a chapter's failures share a few files
def _statements(path: str) -> tuple[list[int], list[tuple[int, int]]]:
    """The line spans of every statement in a file (none when it cannot be read or parsed)."""
    try:
        tree = ast.parse("".join(linecache.getlines(path)))
    except (SyntaxError, ValueError):
        return [], []
    spans = [
        (node.lineno, node.end_lineno or node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt)
    ]
    return sorted(first for first, _ in spans), spans


def _without_comments(source: str) -> str:
    """The statement without its `# comments` (a `#` inside a string stays)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # not a whole statement: keep it as it is
        return source
    lines = source.splitlines()
    for token in tokens:
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column].rstrip()
    return "\n".join(line for line in lines if line.strip())


def _where(excinfo: pytest.ExceptionInfo) -> str:
    """` (at chapters/03/optim.py:120 in step: `x += 1`; the grader called `SGD([p2, p2])`)`."""
    entries = list(excinfo.traceback)
    parts = []
    learner = next((e for e in reversed(entries) if _is_learner_module(_path(e))), None)
    if learner is not None:
        statement = _statement(learner)
        code = f": `{statement}`" if statement else ""
        where = _path(learner).relative_to(ROOT).as_posix()
        parts.append(f"at {where}:{learner.lineno + 1} in {learner.name}{code}")
    grader = next((e for e in reversed(entries) if _is_grader(_path(e))), None)
    if grader is not None and (statement := _statement(grader)):
        parts.append(f"the grader called `{statement}`")
    return f" ({'; '.join(parts)})" if parts else ""


def _how_to_rebuild(nodeid: str) -> str:
    """For a failure whose inputs are too large for its line: the command that writes them."""
    check = sys.modules.get("grading.check")
    if not nodeid or check is None or not check.inputs_hidden():
        return ""
    from grading import inputs

    if inputs.ENABLED:
        saved = inputs.save(nodeid)
        return f" [inputs written to {saved.as_posix()}]" if saved else ""
    return f" [to see the inputs: {inputs.rerun_command(nodeid)}]"
