"""`python -m kindling progress` and `python -m kindling reset NN`, run in throwaway copies
of the course; and the pristine stubs they restore match the stubs in the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading import pristine
from grading.manifest import chapter_numbers

ROOT = Path(__file__).resolve().parent.parent


def test_the_pristine_archive_holds_the_stubs_as_they_are_here():
    for chapter in chapter_numbers():
        for path in pristine.stub_paths(chapter):
            assert pristine.read(path) == (ROOT / path).read_text(encoding="utf-8"), (
                f"{path} differs from grading/pristine-stubs.zip: after changing a stub, "
                "run `python -m grading.pristine --update`"
            )


def course_copy(tmp_path: Path, chapters: list[str]) -> Path:
    root = tmp_path / "course"
    ignore = shutil.ignore_patterns("*.pyc", "*.bak")
    for folder in ("kindling", "solutions", "grading"):
        shutil.copytree(ROOT / folder, root / folder, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "chapters").mkdir()
    shutil.copy(ROOT / "chapters" / "conftest.py", root / "chapters" / "conftest.py")
    for chapter in chapters:
        shutil.copytree(ROOT / "chapters" / chapter, root / "chapters" / chapter, ignore=ignore)
    return root


def kindling_command(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "KINDLING_IMPL"}
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "kindling", *args], cwd=root, env=env, input=stdin,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_progress_grades_each_chapter_and_names_the_next_exercise(tmp_path):
    root = course_copy(tmp_path, ["02", "03"])
    shutil.copy(ROOT / "solutions" / "optim.py", root / "chapters" / "03" / "optim.py")
    done = kindling_command(root, "progress")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert re.search(r"^02 Modules and losses\s+0/9\s+0/100  2\.1 Registration by assignment \(TODO\)$",
                     done.stdout, re.MULTILINE), done.stdout  # fmt: skip
    assert re.search(r"^03 Optimizers\s+7/7\s+100/100  done$", done.stdout, re.MULTILINE), lines
    assert re.search(r"^total\s+100/200$", done.stdout, re.MULTILINE), lines
    assert "next: Exercise 2.1, Registration by assignment (TODO: not started)" in done.stdout
    assert "grade it with: pytest chapters/02" in done.stdout


@pytest.mark.slow
def test_progress_shows_a_failing_exercise(tmp_path):
    root = course_copy(tmp_path, ["03"])
    optim = root / "chapters" / "03" / "optim.py"
    answer = (ROOT / "solutions" / "optim.py").read_text(encoding="utf-8")
    buggy = answer.replace("bias_correction2 = 1 - beta2**step", "bias_correction2 = 1")
    assert buggy != answer
    optim.write_text(buggy, encoding="utf-8")
    done = kindling_command(root, "progress", "03")
    assert done.returncode == 0, done.stderr[-3000:]
    row = re.search(r"^03 Optimizers\s+(\d)/7\s+(\d+)/100  (\S+) (.*) \(FAIL\)$", done.stdout, re.M)
    assert row and int(row[1]) < 7, done.stdout
    assert f"next: Exercise {row[3]}, {row[4]} (FAIL: " in done.stdout


def test_reset_restores_the_stub_and_keeps_the_learners_file(tmp_path):
    root = course_copy(tmp_path, ["03"])
    optim = root / "chapters" / "03" / "optim.py"
    mine = optim.read_text(encoding="utf-8").replace(
        "raise NotImplementedError", "return None  #", 1
    )
    optim.write_text(mine, encoding="utf-8")

    refused = kindling_command(root, "reset", "03")  # no terminal, no --yes: nothing happens
    assert "run it again with --yes" in refused.stdout
    assert optim.read_text(encoding="utf-8") == mine

    confirmed = kindling_command(root, "reset", "03", "--yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "restored chapters/03/optim.py" in confirmed.stdout
    assert optim.read_text(encoding="utf-8") == pristine.read("chapters/03/optim.py")
    backups = list(optim.parent.glob("optim.py.*.bak"))
    assert len(backups) == 1 and backups[0].read_text(encoding="utf-8") == mine

    again = kindling_command(root, "reset", "03", "--yes")
    assert "already holds the stubs as shipped: nothing to reset" in again.stdout


def test_reset_asks_and_a_no_changes_nothing(tmp_path, monkeypatch):
    from grading import reset

    root = course_copy(tmp_path, ["03"])
    optim = root / "chapters" / "03" / "optim.py"
    optim.write_text("# my work\n", encoding="utf-8")
    questions: list[str] = []
    said: list[str] = []

    def answer_no(question: str) -> bool:
        questions.append(question)
        return False

    assert reset.reset("03", answer_no, root=root, say=said.append) == []
    assert "chapters/03/optim.py" in questions[0] and questions[0].endswith("Continue? [y/N] ")
    assert said == ["Nothing was changed."]
    assert optim.read_text(encoding="utf-8") == "# my work\n"
    backups = reset.reset("03", lambda question: True, root=root, say=said.append)
    assert [b.read_text(encoding="utf-8") for b in backups] == ["# my work\n"]


def test_unknown_chapters_are_refused():
    done = kindling_command(ROOT, "reset", "09", "--yes")
    assert done.returncode == 2 and "invalid choice: '09'" in done.stderr
