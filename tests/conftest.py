"""Shared fixtures for the course's own tests (run with `pytest` from the repository root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from grading.simulator import use_a_short_switch_interval
from tests.workspace import Workspace

# tests/gpu runs only on numba-cuda's simulator, in a process of its own (see
# tests/test_gpu_simulator.py): numba reads NUMBA_ENABLE_CUDASIM once, when imported.
collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["gpu"]
use_a_short_switch_interval()

# Reproducible property tests: the same examples on every run and every machine.
settings.register_profile("kindling", derandomize=True, deadline=None, max_examples=60)
settings.load_profile("kindling")


@pytest.fixture
def workspace(tmp_path: Path):
    """`workspace("01")` makes a fresh copy of the course holding chapter 01."""
    return lambda chapter: Workspace(tmp_path / f"course-{chapter}", chapter)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The book, built once per test run with `mkdocs build --strict`."""
    out = tmp_path_factory.mktemp("book") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return out


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, which may not be installed
def pytest_xdist_make_scheduler(config, log):
    """`pytest -n auto` hands out the tests by work stealing (unless `--dist` names another
    way): an idle worker takes tests queued for a busy one. With xdist's default, which deals
    them out in advance, one worker ended 88 s after the other in a 9.5-minute run on 2 cores
    (the long tests, up to a minute each, fell to one side); work stealing, 7 s."""
    if config.getvalue("dist") != "load":  # "load" is also what -n alone gives
        return None
    from xdist.scheduler import WorkStealingScheduling

    return WorkStealingScheduling(config, log)
