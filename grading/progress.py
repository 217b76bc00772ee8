"""`python -m kindling progress`: every chapter graded, one line each.

Each chapter is graded in isolation (your chapters/NN over the answer key), by the
same `pytest chapters/NN` that you run yourself, in a subprocess; its score table
is read back from --grade-json. The line says how many exercises pass, the points,
and the first exercise that does not pass yet; below the table, that exercise's hint
for the first chapter not finished.

A chapter whose grading gives no grade (pytest itself failed, or it ran past
CHAPTER_LIMIT_S) gets a "crashed: <why>" row, and the other chapters are graded as usual.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from grading.manifest import ROOT, chapter_numbers, load_chapter

# How long grading one chapter may take. The slowest, chapter 05 (its CUDA kernels on the
# simulator), took 50 s with the answer key on a busy 2-core machine: this is 12 times that.
CHAPTER_LIMIT_S = 600.0


@dataclass
class ChapterProgress:
    number: str
    title: str
    passed: int
    exercises: int
    earned: int
    total: int
    next_up: dict | None  # the first exercise not passed: id, title, status, detail, hint
    seconds: float
    crashed: str = ""  # why grading gave no grade, in one line ("" when it did)


def grade(chapter: str, root: Path = ROOT, limit_s: float = CHAPTER_LIMIT_S) -> ChapterProgress:
    """Run `pytest chapters/<chapter>` in isolation and summarise its grade."""
    manifest = load_chapter(chapter, root / "chapters")
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "grades.json"
        env = {key: value for key, value in os.environ.items() if key != "KINDLING_IMPL"}
        start = time.perf_counter()
        command = [sys.executable, "-m", "pytest", f"chapters/{chapter}", "-q"]
        command += ["-p", "no:cacheprovider", "--grade-json", str(report)]
        try:
            done = subprocess.run(
                command, cwd=root, env=env, capture_output=True, text=True, timeout=limit_s
            )
        except subprocess.TimeoutExpired:
            why = f"grading took longer than {limit_s:g} s, so it was stopped"
            return crashed(chapter, manifest.title, manifest.total_points, why, limit_s)
        seconds = time.perf_counter() - start
        if not report.exists():
            output = (done.stdout + done.stderr).strip().splitlines()
            why = output[-1] if output else f"pytest exited with status {done.returncode}"
            return crashed(chapter, manifest.title, manifest.total_points, why, seconds)
        grades = json.loads(report.read_text(encoding="utf-8"))["chapters"][chapter]
    exercises = grades["exercises"]
    next_up = next((e for e in exercises if e["status"] != "PASS"), None)
    return ChapterProgress(
        number=chapter,
        title=manifest.title,
        passed=sum(e["status"] == "PASS" for e in exercises),
        exercises=len(exercises),
        earned=grades["earned"],
        total=grades["total"],
        next_up=next_up,
        seconds=seconds,
    )


def crashed(chapter: str, title: str, total: int, why: str, seconds: float) -> ChapterProgress:
    """The row of a chapter whose grading gave no grade."""
    return ChapterProgress(chapter, title, 0, 0, 0, total, None, seconds, crashed=why.strip())


def render(rows: list[ChapterProgress], width: int = 100) -> str:
    """The progress table, then each unfinished chapter's next exercise and its hint."""
    lines = [f"{'chapter':<34}{'passed':>8}{'points':>10}  next", "-" * width]
    for row in rows:
        name = f"{row.number} {row.title}"
        if row.crashed:
            lines.append(f"{name:<34}{'':>8}{f'0/{row.total}':>10}  crashed: {row.crashed}")
            continue
        if row.next_up is None:
            upcoming = "done"
        else:
            upcoming = f"{row.next_up['id']} {row.next_up['title']} ({row.next_up['status']})"
        points = f"{row.earned}/{row.total}"
        lines.append(f"{name:<34}{row.passed:>4}/{row.exercises:<3}{points:>10}  {upcoming}")
    earned, total = sum(r.earned for r in rows), sum(r.total for r in rows)
    lines += ["-" * width, f"{'total':<34}{'':>8}{f'{earned}/{total}':>10}"]
    unfinished = [row for row in rows if row.next_up is not None]
    if unfinished:  # the first chapter not done: what to do there next
        row = unfinished[0]
        exercise = row.next_up
        detail = f": {exercise['detail']}" if exercise["detail"] else ""
        lines += [
            "",
            f"next: Exercise {exercise['id']}, {exercise['title']} ({exercise['status']}{detail})",
        ]
        lines += textwrap.wrap(
            f"hint: {exercise['hint']}", width, initial_indent="  ", subsequent_indent="  "
        )
        lines.append(f"  grade it with: pytest chapters/{row.number}")
    return "\n".join(lines)


def progress(chapters: list[str] | None = None, root: Path = ROOT) -> list[ChapterProgress]:
    numbers = chapters or chapter_numbers(root / "chapters")
    return [grade(number, root) for number in numbers]
