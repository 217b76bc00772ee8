"""How long the learner's loop takes: `pytest chapters/NN` per chapter, and `progress`.

For each chapter, the answer key is graded (`pytest chapters/NN --reference`) the way a
learner's finished chapter would be:

    first   once, in a fresh copy of the course, with no compiled code kept from before
            (Python's bytecode and Numba's cache start empty: a learner's first run);
    warm    then `--repeats` times in the repository itself; the median is shown.

Then `python -m kindling progress` in a copy of the course: once with nothing cached,
once with nothing changed, and once after one chapter's file changed (chapter 03).

    python benchmarks/learner_loop.py
    python benchmarks/learner_loop.py --chapters 01 05 --repeats 1

It prints a table of seconds; it asserts nothing about speed. The times are those of the
whole command, as a learner waits for it (start-up, collection, compilation, graders).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grading.manifest import chapter_numbers  # noqa: E402

# What a copy of the course needs to grade and to run `progress`: no caches of any kind.
COPIED = ("kindling", "solutions", "grading", "chapters", "pyproject.toml")
NO_CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", "*.bak")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(command: list[str], cwd: Path) -> float:
    env = {key: value for key, value in os.environ.items() if key != "KINDLING_IMPL"}
    env["PYTHONPATH"] = str(cwd)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some exercise not passed, which progress reports
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr}")
    return seconds


def fresh_copy(folder: Path) -> Path:
    root = folder / "course"
    root.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=NO_CACHES)
        else:
            shutil.copy(source, root / name)
    return root


def grade_command(chapter: str) -> list[str]:
    return [sys.executable, "-m", "pytest", f"chapters/{chapter}", "-q", "--reference"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="+", default=chapter_numbers(), metavar="NN")
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per chapter (3)")
    parser.add_argument("--no-progress", action="store_true", help="skip the progress timings")
    args = parser.parse_args(argv)

    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; Python {platform.python_version()}")
    print(f"{'chapter':<8}{'first':>8}{'warm':>8}   (seconds; warm: median of {args.repeats})")
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as folder:
        copy = fresh_copy(Path(folder))
        for chapter in args.chapters:
            first = timed(grade_command(chapter), copy)
            warm = [timed(grade_command(chapter), ROOT) for _ in range(args.repeats)]
            print(f"{chapter:<8}{first:>8.1f}{statistics.median(warm):>8.1f}")

    if args.no_progress:
        return
    progress = [sys.executable, "-m", "kindling", "progress"]
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as folder:
        copy = fresh_copy(Path(folder))
        nothing_cached = timed(progress, copy)
        unchanged = timed(progress, copy)
        optim = copy / "chapters" / "03" / "optim.py"
        optim.write_text(optim.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        one_changed = timed(progress, copy)
    print(f"\nprogress, {len(chapter_numbers())} chapters (learner's stubs), seconds:")
    print(f"  nothing cached (every chapter graded, first run) {nothing_cached:>7.1f}")
    print(f"  nothing changed since                            {unchanged:>7.1f}")
    print(f"  chapter 03 changed                               {one_changed:>7.1f}")


if __name__ == "__main__":
    main()
