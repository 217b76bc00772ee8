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


def describe(
    arrays: Mapping[str, Any], seed: int | None = None, options: Mapping[str, Any] | None = None
) -> str:
    """`a: (2, 3) float32, b: (3,) float32 non-contiguous, dim=1; seed 4`: arrays by shape
    and dtype, options (a dim, an index) by value."""
    parts = []
    for name, value in arrays.items():
        if isinstance(value, np.ndarray):
            layout = "" if value.flags.c_contiguous or value.ndim < 2 else " non-contiguous"
            parts.append(f"{name}: {value.shape} {value.dtype}{layout}")
        else:
            parts.append(f"{name}={value!r}")
    for name, value in (options or {}).items():
        shown = value.tolist() if isinstance(value, np.ndarray) else value
        parts.append(f"{name}={shown!r}")
    text = ", ".join(parts) if parts else "no inputs"
    return f"{text}; seed {seed}" if seed is not None else text


def _format(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, (float, np.floating)) else repr(value)


def assert_same_array(got: Any, expected: np.ndarray, what: str, inputs: str) -> None:
    """`got` must be an ndarray of `expected`'s shape and dtype, with close values."""
    if not isinstance(got, np.ndarray):
        fail(f"{what}: expected a NumPy array, got {type(got).__name__} ({inputs})")
    if got.shape != expected.shape:
        fail(f"{what} has shape {got.shape}, expected {expected.shape} ({inputs})")
    if got.dtype != expected.dtype:
        fail(f"{what} has dtype {got.dtype}, expected {expected.dtype} ({inputs})")
    if expected.dtype.kind == "f":
        close = np.isclose(
            got,
            expected,
            rtol=RTOL.get(expected.dtype, 1e-4),
            atol=ATOL.get(expected.dtype, 1e-5),
            equal_nan=True,
        )
    else:
        close = got == expected
    if not np.all(close):
        wrong = np.argwhere(~np.asarray(close))
        index = tuple(int(i) for i in wrong[0])
        fail(
            f"{what} differs at index {index}: expected {_format(expected[index])}, "
            f"got {_format(got[index])} ({len(wrong)} of {expected.size} elements differ; {inputs})"
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
    line. Any other exception (a stub's NotImplementedError too) passes through."""
    try:
        function(*args, **kwargs)
    except error as caught:
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
