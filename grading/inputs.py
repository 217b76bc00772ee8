"""`--show-inputs`: the exact input of a failed grader test, written out in full.

A failure line shows small inputs by value; larger ones by shape, dtype and seed,
followed by the command that rebuilds them:

    pytest "chapters/01/test_autograd.py::test_binary_functions[Div]" --show-inputs

which grades that one test again and writes each input it described (with
`grading.check.describe`) to `kindling-inputs/<test>.txt`, every value printed, and
to `<test>.npz`, for `np.load`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

FOLDER = Path("kindling-inputs")
ENABLED = False


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("kindling").addoption(
        "--show-inputs",
        action="store_true",
        help="write the full inputs of each failed grader test to kindling-inputs/",
    )


def pytest_configure(config: pytest.Config) -> None:
    global ENABLED
    ENABLED = bool(config.getoption("show_inputs"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Each test starts with no recorded inputs (graders record them as they describe them)."""
    check = sys.modules.get("grading.check")
    if check is not None:
        check.RECORDED_INPUTS.clear()


def rerun_command(nodeid: str) -> str:
    return f'pytest "{nodeid}" --show-inputs'


def save(nodeid: str) -> Path | None:
    """Write the running test's recorded inputs; the .txt file's path, or None if none."""
    import numpy as np

    from grading.check import RECORDED_INPUTS

    if not RECORDED_INPUTS:
        return None
    FOLDER.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9.-]+", "_", nodeid.split("/")[-1]).strip("_")[:120]
    np.savez(FOLDER / f"{stem}.npz", **RECORDED_INPUTS)
    with np.printoptions(threshold=sys.maxsize, floatmode="unique", linewidth=120):
        text = "".join(
            f"{name}: shape {value.shape}, dtype {value.dtype}\n{value!r}\n\n"
            for name, value in RECORDED_INPUTS.items()
        )
    path = FOLDER / f"{stem}.txt"
    path.write_text(f"inputs of {nodeid}\n\n{text}", encoding="utf-8")
    return path
