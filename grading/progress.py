"""`python -m kindling progress`: every chapter graded, one line each.

Each chapter is graded in isolation (your chapters/NN over the answer key), by the
same `pytest chapters/NN` that you run yourself, in a subprocess; its score table
is read back from --grade-json. The line says how many exercises pass, the points,
and the first exercise that does not pass yet; below the table, that exercise's hint
for the first chapter not finished.

A grade is kept in .kindling/progress.json with a fingerprint of everything that decides
it: the chapter's files (yours and its graders), the answer key, the grading code, the
spine, and the versions of Python and the packages. When the fingerprint is unchanged,
the row comes from there ("cached"); the chapters that changed are graded again, several
at once. `--no-cache` grades everything.

A chapter whose grading gives no grade (pytest itself failed, or it ran past
CHAPTER_LIMIT_S) gets a "crashed: <why>" row, is not kept, and the other chapters are
graded as usual.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
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
    cached: bool = False  # the grade came from .kindling/progress.json


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
    lines = [f"{'chapter':<34}{'passed':>8}{'points':>10}{'graded':>9}  next", "-" * width]
    for row in rows:
        name = f"{row.number} {row.title}"
        graded = "cached" if row.cached else f"{row.seconds:.1f} s"
        if row.crashed:
            lines.append(
                f"{name:<34}{'':>8}{f'0/{row.total}':>10}{graded:>9}  crashed: {row.crashed}"
            )
            continue
        if row.next_up is None:
            upcoming = "done"
        else:
            upcoming = f"{row.next_up['id']} {row.next_up['title']} ({row.next_up['status']})"
        points = f"{row.earned}/{row.total}"
        lines.append(
            f"{name:<34}{row.passed:>4}/{row.exercises:<3}{points:>10}{graded:>9}  {upcoming}"
        )
    earned, total = sum(r.earned for r in rows), sum(r.total for r in rows)
    lines += ["-" * width, f"{'total':<34}{'':>8}{f'{earned}/{total}':>10}"]
    if any(row.cached for row in rows):
        lines.append(
            "cached: unchanged since it was graded (python -m kindling progress --no-cache)"
        )
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


# What decides a chapter's grade, besides its own folder.
SHARED_INPUTS = ("solutions", "grading", "kindling", "chapters/conftest.py", "pyproject.toml")
PACKAGES = ("numpy", "numba", "numba-cuda", "pytest", "pytest-timeout")
# Environment variables that change what the graders run.
SETTINGS = ("KINDLING_DEVICE", "NUMBA_ENABLE_CUDASIM", "KINDLING_TIMEOUT", "NUMBA_NUM_THREADS")
CACHE_FILE = Path(".kindling") / "progress.json"


def fingerprint(chapter: str, root: Path = ROOT) -> str:
    """A hash of every file, version and setting that decides the chapter's grade."""
    digest = hashlib.sha256()
    files = sorted((root / "chapters" / chapter).rglob("*"))
    for name in SHARED_INPUTS:
        path = root / name
        files += sorted(path.rglob("*")) if path.is_dir() else [path]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".bak":
            digest.update(str(path.relative_to(root).as_posix()).encode())
            digest.update(path.read_bytes())
    versions = [f"python {platform.python_version()}"]
    for package in PACKAGES:
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} missing")
    versions += [f"{name}={os.environ.get(name, '')}" for name in SETTINGS]
    digest.update("\n".join(versions).encode())
    return digest.hexdigest()


def read_cache(root: Path) -> dict:
    try:
        return json.loads((root / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: grade again
        return {}


def write_cache(root: Path, cache: dict) -> None:
    path = root / CACHE_FILE
    try:
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(cache, indent=1), encoding="utf-8")
        temporary.replace(path)  # whole or not at all, even if interrupted
    except OSError:
        pass  # a read-only course still grades; it only forgets


class Ticker:
    """While chapters are graded: a line per chapter started and done, and, on a terminal,
    a status line with the elapsed time."""

    def __init__(self, write: Callable[[str], None], live: bool) -> None:
        self.write, self.live = write, live
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> Ticker:
        if self.live:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._clear()

    def started(self, chapter: str) -> None:
        with self.lock:
            self.running[chapter] = time.perf_counter()

    def done(self, row: ChapterProgress) -> None:
        with self.lock:
            self.running.pop(row.number, None)
            self._clear()
            result = f"crashed: {row.crashed}" if row.crashed else f"{row.passed}/{row.exercises}"
            self.write(f"  {row.number} {row.title}: {result} in {row.seconds:.1f} s\n")

    def _tick(self) -> None:
        while not self.stopped.wait(0.5):
            with self.lock:
                now = time.perf_counter()
                busy = ", ".join(f"{c} ({now - t:.0f} s)" for c, t in sorted(self.running.items()))
                if busy:
                    self.write(f"\r  grading {busy} ...\x1b[K")

    def _clear(self) -> None:
        if self.live:
            self.write("\r\x1b[K")


def progress(
    chapters: list[str] | None = None,
    root: Path = ROOT,
    use_cache: bool = True,
    write: Callable[[str], None] = lambda text: None,
    live: bool = False,
    workers: int | None = None,
) -> list[ChapterProgress]:
    """Each chapter's row: from the cache when nothing that decides it changed, otherwise
    graded, `workers` chapters at a time (default: one per CPU core)."""
    numbers = chapters or chapter_numbers(root / "chapters")
    cache = read_cache(root) if use_cache else {}
    keys = {number: fingerprint(number, root) for number in numbers}
    rows: dict[str, ChapterProgress] = {}
    for number in numbers:
        kept = cache.get(number)
        if kept and kept.get("fingerprint") == keys[number]:
            rows[number] = ChapterProgress(**{**kept["row"], "cached": True})
    to_grade = [number for number in numbers if number not in rows]
    if to_grade:
        write(f"grading {', '.join(to_grade)}, each in isolation ...\n")
        workers = workers or min(len(to_grade), os.cpu_count() or 1)
        with Ticker(write, live) as ticker, concurrent.futures.ThreadPoolExecutor(workers) as pool:

            def graded(number: str) -> ChapterProgress:
                ticker.started(number)
                row = grade(number, root)
                ticker.done(row)
                return row

            for row in pool.map(graded, to_grade):
                rows[row.number] = row
    fresh = read_cache(root) if use_cache else {}  # another run may have written meanwhile
    for number in to_grade:
        if not rows[number].crashed:  # a crash may not happen again: never kept
            fresh[number] = {"fingerprint": keys[number], "row": dataclasses.asdict(rows[number])}
    write_cache(root, fresh)
    return [rows[number] for number in numbers]
