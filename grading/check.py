"""Comparison helpers for graders: each failure is one line that says what differs, where.

A grader gives the same inputs to your code and to the answer key and compares
the results with these helpers. The first line of every failure names what was
compared, the index of the first difference, the expected and the actual
value, and the inputs (shapes, dtypes, seed), so the score table can show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# float32 carries about 7 significant digits; these leave room for a different,
# equally correct order of operations.
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
ATOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


class GradingFailure(AssertionError):
    """A grader found a wrong result (shown as FAIL in the score table)."""


def fail(message: str) -> None:
    raise GradingFailure(message)


# The inputs that the running grader test described, so that a failure can be rebuilt:
# `pytest "<test id>" --show-inputs` prints them in full and saves them (grading/inputs.py).
RECORDED_INPUTS: dict[str, Any] = {}
# Arrays up to this many elements are shown by value in a failure line.
SHOWN_ELEMENTS = 6


def _show(value: np.ndarray) -> str:
    """A small array's values on one line, each with the digits its dtype needs."""
    if value.ndim == 0:
        return str(value[()])
    return "[" + ", ".join(_show(row) for row in value) + "]"


def plain(value: Any) -> str:
    """`value` as you would type it: 2 and [1, 2], not NumPy 2's np.int64(2)."""
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    if isinstance(value, (list, tuple)):
        items = [plain(item) for item in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return repr(value)


def describe(
    arrays: Mapping[str, Any], seed: int | None = None, options: Mapping[str, Any] | None = None
) -> str:
    """`a: (2, 3) float32, b: (2,) float32 = [0.5, -1.25], dim=1; seed 4`: arrays by shape and
    dtype (and by value when small), options (a dim, an index) by value.

    The arrays are also recorded, so that `--show-inputs` can print the exact input."""
    parts = []
    for name, value in arrays.items():
        if isinstance(value, np.ndarray):
            RECORDED_INPUTS[name] = value.copy()
            layout = "" if value.flags.c_contiguous or value.ndim < 2 else " non-contiguous"
            shown = f" = {_show(value)}" if value.size <= SHOWN_ELEMENTS else ""
            parts.append(f"{name}: {value.shape} {value.dtype}{layout}{shown}")
        else:
            parts.append(f"{name}={plain(value)}")
    for name, value in (options or {}).items():
        parts.append(f"{name}={plain(value)}")
    text = ", ".join(parts) if parts else "no inputs"
    return f"{text}; seed {seed}" if seed is not None else text


def inputs_hidden() -> bool:
    """Whether the running test described an input too large to show in its failure line."""
    return any(
        isinstance(value, np.ndarray) and value.size > SHOWN_ELEMENTS
        for value in RECORDED_INPUTS.values()
    )


def _format(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else repr(value)


def _format_pair(expected: Any, got: Any) -> tuple[str, str]:
    """Both values with as many digits as it takes to tell them apart (6 at least)."""
    if not isinstance(expected, (float, np.floating)) or not isinstance(got, (float, np.floating)):
        return _format(expected), _format(got)
    for digits in range(6, 18):
        shown = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return shown


def assert_same_array(got: Any, expected: np.ndarray, what: str, inputs: str) -> None:
    """`got` must be an ndarray of `expected`'s shape and dtype, with close values."""
    if not isinstance(got, np.ndarray):
        fail(f"{what}: expected a NumPy array, got {type(got).__name__} ({inputs})")
    if got.shape != expected.shape:
        fail(f"{what} has shape {got.shape}, expected {expected.shape} ({inputs})")
    if got.dtype != expected.dtype:
        fail(f"{what} has dtype {got.dtype}, expected {expected.dtype} ({inputs})")
    rtol, atol = RTOL.get(expected.dtype, 1e-4), ATOL.get(expected.dtype, 1e-5)
    if expected.dtype.kind == "f":
        close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = got == expected
    if not np.all(close):
        wrong = np.argwhere(~np.asarray(close))
        index = tuple(int(i) for i in wrong[0])
        want, have = _format_pair(expected[index], got[index])
        gap = ""
        if expected.dtype.kind == "f" and np.isfinite(expected[index]) and np.isfinite(got[index]):
            difference = abs(float(got[index]) - float(expected[index]))
            tolerance = atol + rtol * abs(float(expected[index]))
            gap = f", off by {difference:.2g} (tolerance {tolerance:.2g})"
        fail(
            f"{what}: expected {want} at index {index}, got {have}{gap} "
            f"({len(wrong)} of {expected.size} elements differ; {inputs})"
        )


def assert_unchanged(
    before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray], where: str
) -> None:
    """Inputs must not be modified in place by the code under test."""
    for name, original in before.items():
        if not np.array_equal(original, after[name], equal_nan=True):
            fail(f"{where} modified its input {name} in place; leave inputs unchanged")


def expect_error(
    error: type[BaseException], what: str, function: Any, *args: Any, **kwargs: Any
) -> BaseException:
    """`function(*args, **kwargs)` must raise `error`; the error is returned, so that a
    grader can check what its message names. `what` names the call, for the failure
    line. Any other exception passes through, and so does a stub's NotImplementedError
    even where `error` is RuntimeError, its base class: an exercise not written yet is
    TODO, not a wrong error."""
    try:
        function(*args, **kwargs)
    except error as caught:
        if isinstance(caught, NotImplementedError) and error is not NotImplementedError:
            raise
        return caught
    fail(f"{what}: expected {error.__name__}, nothing was raised")
    raise AssertionError  # not reached: fail raises


def expect_message_naming(error: BaseException, what: str, *names: str) -> None:
    """The error's message must mention each of `names` (a shape, a task, a file)."""
    message = str(error)
    missing = [name for name in names if name not in message]
    if missing:
        fail(
            f"{what} raised {type(error).__name__}({message!r}), which does not name "
            + ", ".join(missing)
        )
