"""A throwaway copy of the course, graded in a subprocess: how the graders are proven."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.numba_cache import carry_over

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Planted:
    """A realistic mistake planted in the answer key: `old` becomes `new` in `file`.

    It must fail `exercise`; `also_breaks` lists the other exercises whose graders
    run through the same code and may fail with it. Every other exercise must pass.
    """

    exercise: str
    name: str
    file: str
    old: str
    new: str
    also_breaks: frozenset[str] = frozenset()

    @property
    def chapter(self) -> str:
        return f"{int(self.exercise.split('.')[0]):02d}"


@dataclass
class Grades:
    statuses: dict[str, str]
    details: dict[str, str]
    earned: int
    total: int
    impl: str
    output: str


@functools.cache
def compile_the_answer_keys_kernels() -> None:
    """Put the answer key's Numba kernels in solutions/__pycache__ for the copies to take.

    A fresh clone has none: each copy of chapter 05 would compile them again, half a
    minute each. Once per process; a second or two when they are there already."""
    subprocess.run(
        [sys.executable, "-m", "grading.precompile", "solutions.kernels"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=600,
        check=True,
    )


class Workspace:
    """A throwaway copy of the course with one chapter, graded in a subprocess.

    It holds the spine, the grading plugin, the answer key, and chapters/NN with
    either the pristine stubs or the answer key's files copied in, optionally
    with one planted bug.
    """

    def __init__(self, root: Path, chapter: str) -> None:
        self.root = root
        self.chapter = chapter
        # Python's bytecode is left behind; Numba's on-disk cache (*.nbi, *.nbc) comes
        # along, with the sources' timestamps (copytree keeps them), so the copies reuse
        # compiled kernels instead of compiling them again in every workspace.
        if (ROOT / "chapters" / chapter / "kernels.py").exists():
            compile_the_answer_keys_kernels()
        skip_bytecode = shutil.ignore_patterns("*.pyc")
        for folder in ("kindling", "solutions", "grading"):
            shutil.copytree(ROOT / folder, root / folder, ignore=skip_bytecode)
        shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
        (root / "chapters").mkdir()
        shutil.copy(ROOT / "chapters" / "conftest.py", root / "chapters" / "conftest.py")
        shutil.copytree(
            ROOT / "chapters" / chapter, root / "chapters" / chapter, ignore=skip_bytecode
        )

    @property
    def chapter_dir(self) -> Path:
        return self.root / "chapters" / self.chapter

    def use_answer_key(self) -> None:
        """Replace the chapter's stubs with the answer key's modules (a finished learner)."""
        solutions = self.root / "solutions"
        for stub in self.chapter_dir.glob("*.py"):
            if not stub.name.startswith("test_") and (solutions / stub.name).exists():
                shutil.copy2(solutions / stub.name, stub)  # same timestamp: Numba's cache holds
                cache = self.chapter_dir / "__pycache__"
                for compiled in (solutions / "__pycache__").glob(f"{stub.stem}.*.nb[ic]"):
                    cache.mkdir(exist_ok=True)
                    shutil.copy2(compiled, cache / compiled.name)

    def plant(self, bug: Planted) -> None:
        path = self.chapter_dir / bug.file
        text = path.read_text(encoding="utf-8")
        count = text.count(bug.old)
        assert count == 1, (
            f"planted bug {bug.name!r}: {bug.old!r} occurs {count} times in {bug.file}"
        )
        before = path.with_name(path.name + ".before")
        shutil.copy2(path, before)
        path.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
        cache = self.chapter_dir / "__pycache__"
        try:
            if cache.is_dir():  # only the kernels the bug reaches compile again
                carry_over(before, path, cache)
        finally:
            before.unlink()

    def grade(
        self, *options: str, graders: list[str] | None = None, timeout_s: float | None = None
    ) -> Grades:
        """`pytest chapters/NN` in a subprocess, or only the grader files named in `graders`
        (the exercises of the others are then NOT RUN)."""
        result_file = self.root / "grades.json"
        folder = f"chapters/{self.chapter}"
        paths = [f"{folder}/{name}" for name in graders] if graders else [folder]
        env = {k: v for k, v in os.environ.items() if k != "KINDLING_IMPL"}
        if timeout_s is not None:  # otherwise each chapter's own timeout applies
            env["KINDLING_TIMEOUT"] = str(timeout_s)
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *paths,
                "-q",
                "--grade-json",
                str(result_file),
                *options,
            ],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = completed.stdout + completed.stderr
        assert result_file.exists(), f"grading wrote no JSON; pytest said:\n{output[-4000:]}"
        result = json.loads(result_file.read_text())
        chapter = result["chapters"][self.chapter]
        return Grades(
            statuses={e["id"]: e["status"] for e in chapter["exercises"]},
            details={e["id"]: e["detail"] for e in chapter["exercises"]},
            earned=chapter["earned"],
            total=chapter["total"],
            impl=result["impl"],
            output=output,
        )
