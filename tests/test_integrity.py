"""The integrity warnings: a chapter file that imports the answer key or PyTorch is named with
its line, and grading code replaced while the graders ran is reported; honest work gives
no warning at all."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

# Imported so that they are watched, as they are while the graders run.
import grading.check
import grading.classify
import grading.inputs
import grading.kernel_checks
from grading import integrity
from grading.manifest import CHAPTERS_DIR, ROOT

SHORTCUTS_IN_A_CHAPTER_FILE = '''\
"""Mentioning solutions or `import torch` in a docstring is fine."""
import math
import solutions.optim
from solutions import optim as key
from .autograd import Tensor
import importlib
reference = importlib.import_module("solutions.optim")
import torch
from torch.optim import SGD
numbers = __import__("torch.nn")
name = "solutions"
'''

ANSWER_KEY = "the grade would be the answer key's, not yours"
PYTORCH = "the grade would be PyTorch's, not yours"


def chapter_folder(tmp_path: Path, number: str = "03") -> Path:
    folder = tmp_path / "chapters" / number
    folder.mkdir(parents=True)
    return folder


def test_each_import_of_the_answer_key_or_torch_is_named_with_its_line(tmp_path):
    folder = chapter_folder(tmp_path)
    (folder / "optim.py").write_text(SHORTCUTS_IN_A_CHAPTER_FILE, encoding="utf-8")
    assert integrity.scan_chapter(folder) == [
        f"chapters/03/optim.py:3 imports solutions: {ANSWER_KEY}",
        f"chapters/03/optim.py:4 imports solutions: {ANSWER_KEY}",
        f"chapters/03/optim.py:7 imports solutions: {ANSWER_KEY}",
        f"chapters/03/optim.py:8 imports torch: {PYTORCH}",
        f"chapters/03/optim.py:9 imports torch: {PYTORCH}",
        f"chapters/03/optim.py:10 imports torch: {PYTORCH}",
    ]


def test_graders_and_files_that_do_not_parse_give_no_warning(tmp_path):
    folder = chapter_folder(tmp_path)
    (folder / "test_optim.py").write_text("import solutions.optim\n", encoding="utf-8")
    (folder / "conftest.py").write_text("import torch\n", encoding="utf-8")
    (folder / "optim.py").write_text("import torch\ndef step(:\n", encoding="utf-8")
    assert integrity.scan_chapter(folder) == []


@pytest.mark.parametrize("number", ["01", "02", "03", "04", "05", "06"])
def test_the_pristine_stubs_give_no_warning(number):
    assert integrity.scan_chapter(CHAPTERS_DIR / number) == []


def test_the_answer_key_copied_in_as_a_learners_files_gives_no_warning(tmp_path):
    folder = chapter_folder(tmp_path, "01")
    for module in (ROOT / "solutions").glob("*.py"):
        if module.name != "__init__.py":
            shutil.copy(module, folder / module.name)
    assert len(list(folder.glob("*.py"))) > 5
    assert integrity.scan_chapter(folder) == []


def test_nothing_patched_nothing_reported():
    before = integrity.snapshot()
    assert integrity.changed_since(before) == []


def test_a_replaced_grading_function_is_reported(monkeypatch):
    before = integrity.snapshot()
    monkeypatch.setattr(grading.check, "assert_same_array", lambda *args: None)
    assert integrity.changed_since(before) == [
        "grading.check.assert_same_array was replaced while the graders ran"
    ]
    monkeypatch.undo()
    assert integrity.changed_since(before) == []


def test_a_loosened_tolerance_a_swapped_code_and_a_replaced_comparison_are_reported(
    monkeypatch,
):
    before = integrity.snapshot()
    monkeypatch.setitem(grading.check.RTOL, np.dtype(np.float32), 1.0)
    monkeypatch.setattr(grading.classify.classify, "__code__", (lambda *args: None).__code__)
    monkeypatch.setattr(pytest, "approx", lambda expected, **options: expected)
    assert integrity.changed_since(before) == [
        "grading.check.RTOL was modified while the graders ran",
        "grading.classify.classify was modified while the graders ran",
        "pytest.approx was replaced while the graders ran",
    ]


def test_a_grading_module_replaced_in_sys_modules_is_reported_once(monkeypatch):
    before = integrity.snapshot()
    monkeypatch.delitem(sys.modules, "grading.check")
    assert integrity.changed_since(before) == ["grading.check was replaced while the graders ran"]


def test_a_snapshot_and_a_check_cost_well_under_10_ms():
    assert "grading.kernel_checks" in integrity.snapshot().modules  # the largest is watched
    fastest = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        integrity.changed_since(integrity.snapshot())
        fastest = min(fastest, time.perf_counter() - start)
    assert fastest < 0.010, f"{fastest * 1000:.1f} ms"


@pytest.mark.timeout(150)  # one grading of chapter 03, about 8 s on a busy 2-core EPYC
def test_the_score_table_shows_both_warnings(workspace):
    ws = workspace("03")
    ws.use_answer_key()
    optim = ws.root / "chapters" / "03" / "optim.py"
    source = optim.read_text(encoding="utf-8")
    line = source.count("\n") + 4  # after a blank line, the first import and another blank
    optim.write_text(
        source + "\nimport grading.check as check\n\n"
        "import solutions.optim\n\n"
        "check.assert_same_array = lambda *args, **kwargs: None\n",
        encoding="utf-8",
    )
    grades = ws.grade()
    warnings = [w for w in grades.output.splitlines() if "imports" in w or "replaced" in w]
    assert warnings == [
        f"chapters/03/optim.py:{line} imports solutions: the grade would be the answer key's, "
        "not yours",
        "grading.check.assert_same_array was replaced while the graders ran",
    ], grades.output[-3000:]
