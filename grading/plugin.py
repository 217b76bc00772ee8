"""The pytest plugin behind `pytest chapters/NN`: picks what to grade, then prints a score table.

What is graded (the `KINDLING_IMPL` variable that `import kindling` reads):
    pytest chapters/03               chapter 03 in isolation: your chapters/03 over the answer key
    pytest chapters/03 --own-stack   chapter 03 on your own chapters 01 and 02
    pytest chapters --own-stack      several chapters at once always use your own stack
    pytest chapters/03 --reference   the answer key itself (what a finished learner sees)

Each grader test carries `@pytest.mark.exercise("3.2")`. An exercise's status:
    PASS   every test passed
    TODO   every failure is a stub's NotImplementedError("Exercise N.M: ...")
    FAIL   a test found a wrong value, shape or dtype, or a missing error
    ERROR  your code raised some other exception, or a test timed out
"""

from __future__ import annotations

import ctypes.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grading.classify import classify
from grading.manifest import CHAPTERS_DIR, Chapter, load_chapter

# How long one grader test may run before it counts as an ERROR (an endless loop, say):
# the chapter manifest's `timeout`. The course's own tests set KINDLING_TIMEOUT instead.
TIMEOUT_OVERRIDE = os.environ.get("KINDLING_TIMEOUT")
SEVERITY = {"PASS": 0, "TODO": 1, "FAIL": 2, "ERROR": 3}


def _has_nvidia_driver() -> bool:
    return any(ctypes.util.find_library(name) for name in ("cuda", "nvcuda"))


# CUDA kernels (chapter 05's GPU part) run on numba-cuda's simulator when this computer
# has no NVIDIA driver. Numba reads the variable once, when first imported: so it is set
# here, before any grader imports numba. Set it yourself to choose (1: simulator, 0: GPU).
if "NUMBA_ENABLE_CUDASIM" not in os.environ and "numba" not in sys.modules:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "0" if _has_nvidia_driver() else "1"
CUDA_SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


@dataclass
class TestResult:
    nodeid: str
    status: str  # PASS, TODO, FAIL, ERROR or SKIP
    detail: str = ""


@dataclass
class Gradebook:
    impl: str
    chapters: dict[str, Chapter]
    results: dict[tuple[str, str], list[TestResult]] = field(default_factory=dict)
    timed_out: set[tuple[str, str]] = field(default_factory=set)

    def record(self, key: tuple[str, str], result: TestResult) -> None:
        self.results.setdefault(key, []).append(result)

    def exercise_status(self, chapter: str, exercise_id: str) -> tuple[str, str, int, int]:
        """(status, detail, tests passed, tests run) for one exercise."""
        results = [r for r in self.results.get((chapter, exercise_id), []) if r.status != "SKIP"]
        if not results:
            return "NOT RUN", "no grader test ran for this exercise", 0, 0
        passed = sum(r.status == "PASS" for r in results)
        worst = max(results, key=lambda r: SEVERITY[r.status])
        return worst.status, worst.detail, passed, len(results)

    def as_json(self) -> dict:
        chapters = {}
        for number, chapter in self.chapters.items():
            exercises = []
            for exercise in chapter.exercises:
                status, detail, passed, run = self.exercise_status(number, exercise.id)
                exercises.append(
                    {
                        "id": exercise.id,
                        "title": exercise.title,
                        "points": exercise.points,
                        "earned": exercise.points if status == "PASS" else 0,
                        "status": status,
                        "detail": detail,
                        "hint": exercise.hint,
                        "tests_passed": passed,
                        "tests_run": run,
                    }
                )
            chapters[number] = {
                "title": chapter.title,
                "earned": sum(e["earned"] for e in exercises),
                "total": chapter.total_points,
                "exercises": exercises,
            }
        return {"impl": self.impl, "chapters": chapters}


GRADEBOOK = pytest.StashKey[Gradebook]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindling", "Kindling grading")
    group.addoption(
        "--own-stack",
        action="store_true",
        help="grade on your own earlier chapters instead of the answer key's",
    )
    group.addoption(
        "--reference",
        action="store_true",
        help="grade the answer key (solutions/) instead of your code",
    )
    group.addoption("--grade-json", metavar="PATH", help="also write the grades to PATH as JSON")


def _chapters_in_args(args: list[str]) -> list[str]:
    """The chapter numbers that the command line's paths point into."""
    found: set[str] = set()
    for arg in args:
        path = Path(arg.split("::")[0]).resolve()
        if path == CHAPTERS_DIR:
            found.update(p.parent.name for p in CHAPTERS_DIR.glob("*/exercises.toml"))
        elif CHAPTERS_DIR in path.parents:
            found.add(path.relative_to(CHAPTERS_DIR).parts[0])
    return sorted(found)


def _choose_impl(config: pytest.Config, chapters: list[str]) -> str:
    if config.getoption("reference"):
        return "reference"
    if config.getoption("own_stack") or len(chapters) != 1:
        return "mine"
    if "KINDLING_IMPL" in os.environ:  # set by hand: respected, and shown in the table
        return os.environ["KINDLING_IMPL"]
    return f"isolate:{chapters[0]}"


def pytest_configure(config: pytest.Config) -> None:
    chapters = _chapters_in_args(config.args)
    impl = _choose_impl(config, chapters)
    loaded = sys.modules.get("kindling")
    if loaded is not None and getattr(loaded, "IMPL", impl) != impl:
        raise pytest.UsageError(
            f"kindling was imported (KINDLING_IMPL={loaded.IMPL}) before grading could "
            f"select {impl!r}: run pytest on the chapter folders only"
        )
    os.environ["KINDLING_IMPL"] = impl
    config.stash[GRADEBOOK] = Gradebook(impl, {n: load_chapter(n) for n in chapters})
    # The score table is the summary: keep pytest's own failure output short.
    if config.option.tbstyle == "auto":
        config.option.tbstyle = "short"
    if config.option.reportchars == "fE":  # pytest's default: a line per failed test
        config.option.reportchars = ""


def _item_key(item: pytest.Item) -> tuple[str, str] | None:
    """(chapter, exercise id) of a grader test, from its folder and its exercise mark."""
    marker = item.get_closest_marker("exercise")
    path = Path(str(item.path)).resolve()
    if marker is None or CHAPTERS_DIR not in path.parents:
        return None
    return path.relative_to(CHAPTERS_DIR).parts[0], str(marker.args[0])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    book = config.stash[GRADEBOOK]
    for item in items:
        key = _item_key(item)
        if key is None:
            continue
        chapter, exercise_id = key
        if chapter not in book.chapters:
            book.chapters[chapter] = load_chapter(chapter)
        book.chapters[chapter].exercise(exercise_id)  # an unknown id is an error, loudly
        if item.get_closest_marker("timeout") is None:
            seconds = float(TIMEOUT_OVERRIDE or book.chapters[chapter].timeout)
            item.add_marker(pytest.mark.timeout(seconds))


def pytest_runtest_setup(item: pytest.Item) -> None:
    key = _item_key(item)
    if key is not None and key in item.config.stash[GRADEBOOK].timed_out:
        pytest.skip(f"not run: an earlier test of exercise {key[1]} timed out")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    key = _item_key(item)
    if key is None:
        return report
    book = item.config.stash[GRADEBOOK]
    if report.skipped:
        if report.when != "teardown":
            book.record(key, TestResult(item.nodeid, "SKIP", str(report.longrepr)))
    elif report.failed:
        status, detail = classify(call.excinfo, key[1])
        if "Timeout" in detail and status == "ERROR":
            book.timed_out.add(key)
        report.kindling_todo = status == "TODO"
        book.record(key, TestResult(item.nodeid, status, detail))
    elif report.when == "call":
        book.record(key, TestResult(item.nodeid, "PASS"))
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """Count not-started tests as `todo`: no traceback into an untouched stub, no red F."""
    if getattr(report, "kindling_todo", False):
        return "todo", "T", "TODO"
    return None


def _describe_impl(impl: str) -> str:
    if impl == "reference":
        return "the answer key (solutions/)"
    if impl == "mine":
        return "your own code for every chapter"
    chapter = impl.removeprefix("isolate:")
    return f"chapters/{chapter} over the answer key"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    book = config.stash[GRADEBOOK]
    write = terminalreporter.write_line
    for number, chapter in sorted(book.chapters.items()):
        terminalreporter.section(f"Chapter {number}: {chapter.title}", sep="=")
        write(f"graded: {_describe_impl(book.impl)}  (KINDLING_IMPL={book.impl})")
        if "gpu" in chapter.modules:
            where = "numba-cuda's simulator, on the CPU" if CUDA_SIMULATED else "the GPU"
            write(f"CUDA kernels ran on {where} (NUMBA_ENABLE_CUDASIM={int(CUDA_SIMULATED)})")
        write(f" {'id':<5}{'exercise':<36}{'points':>7}  status")
        earned = passed = 0
        for exercise in chapter.exercises:
            status, detail, _, _ = book.exercise_status(number, exercise.id)
            points = exercise.points if status == "PASS" else 0
            earned += points
            passed += status == "PASS"
            score = f"{points}/{exercise.points}"
            line = f" {exercise.id:<5}{exercise.title[:35]:<36}{score:>7}  {status:<6}"
            markup = {"PASS": {"green": True}, "TODO": {"yellow": True}}.get(status, {"red": True})
            if status == "PASS":
                write(line, **markup)
                continue
            write(f"{line} {detail}", **markup)
            if status != "TODO" or detail == "not started":
                write(f" {'':<5}hint: {exercise.hint}")
        write(
            f" total: {earned}/{chapter.total_points} points, "
            f"{passed} of {len(chapter.exercises)} exercises passed",
            bold=True,
        )
    path = config.getoption("grade_json")
    if path:
        Path(path).write_text(json.dumps(book.as_json(), indent=2), encoding="utf-8")
