"""Shared fixtures for the course's own tests (run with `pytest` from the repository root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from tests.workspace import Workspace

# tests/gpu runs only on numba-cuda's simulator, in a process of its own (see
# tests/test_gpu_simulator.py): numba reads NUMBA_ENABLE_CUDASIM once, when imported.
collect_ignore = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["gpu"]

# Reproducible property tests: the same examples on every run and every machine.
settings.register_profile("kindling", derandomize=True, deadline=None, max_examples=60)
settings.load_profile("kindling")


@pytest.fixture
def workspace(tmp_path: Path):
    """`workspace("01")` makes a fresh copy of the course holding chapter 01."""
    return lambda chapter: Workspace(tmp_path / f"course-{chapter}", chapter)
