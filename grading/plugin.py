"""The pytest plugin behind `pytest chapters/NN`: picks what to grade, then prints a score table.

What is graded (the `KINDLING_IMPL` variable that `import kindling` reads, set here from
the command line; a KINDLING_IMPL already in your shell is ignored, and the table says so):
    pytest chapters/03               chapter 03 in isolation: your chapters/03 over the answer key
    pytest chapters/03 --own-stack   chapter 03 on your own chapters 01 and 02
    pytest chapters --own-stack      several chapters at once always use your own stack
    pytest chapters/03 --reference   the answer key itself (what a finished learner sees)

Each grader test carries `@pytest.mark.exercise("3.2")`. An exercise's status:
    PASS   every test passed
    TODO   every failure is a stub's NotImplementedError("Exercise N.M: ...")
    FAIL   a test found a wrong value, shape or dtype, or a missing error
    ERROR  your code raised some other exception, a test timed out, or your code ended or
           crashed the grading process (os._exit, a segfault in a Numba kernel, ...)

The plugin plays two parts. In the process you start (the supervisor), it collects nothing
and imports none of your code: grading/supervisor.py runs the graders in a worker process
(grading/worker.py), replays the worker's test reports here, and contains what the worker
cannot survive. In the worker, this plugin gives each test its time limit and each report
its exercise, status and a one-line reason (grading/classify.py). The score table is built
in the supervisor from the replayed reports, so a run always ends in it.
"""

from __future__ import annotations

import ctypes.util
import functools
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grading import integrity
from grading.classify import classify
from grading.manifest import CHAPTERS_DIR, Chapter, load_chapter

# How long one grader test may run before it counts as an ERROR (an endless loop, say):
# the chapter manifest's `timeout`. The course's own tests set KINDLING_TIMEOUT instead.
TIMEOUT_OVERRIDE = os.environ.get("KINDLING_TIMEOUT")
SEVERITY = {"PASS": 0, "TODO": 1, "FAIL": 2, "ERROR": 3}
# The graders of the CUDA exercises, which need a GPU or numba-cuda's simulator.
CUDA_GRADERS = "test_gpu.py"


@functools.cache  # it asks the system's linker, a tenth of a second
def _has_nvidia_driver() -> bool:
    return any(ctypes.util.find_library(name) for name in ("cuda", "nvcuda"))


# CUDA kernels (chapter 05's GPU part) run on numba-cuda's simulator when this computer
# has no NVIDIA driver. Numba reads the variable once, when first imported: so it is set
# here, before any grader imports numba. Set it yourself to choose (1: simulator, 0: GPU).
if "NUMBA_ENABLE_CUDASIM" not in os.environ and "numba" not in sys.modules:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "0" if _has_nvidia_driver() else "1"
CUDA_SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
CUDA_MISSING_REASON = (
    "no NVIDIA GPU found (NUMBA_ENABLE_CUDASIM=0): these kernels could not run; "
    "unset the variable to use the simulator"
)
# Why the CUDA exercises cannot run here ("" when they can).
CUDA_MISSING = "" if CUDA_SIMULATED or _has_nvidia_driver() else CUDA_MISSING_REASON


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
    # Why a chapter's graders could not all be collected ("optim.py does not import: ...").
    collect_errors: dict[str, str] = field(default_factory=dict)
    # Lines printed under each chapter's heading: a KINDLING_IMPL that was ignored, say.
    notes: list[str] = field(default_factory=list)

    def record(self, key: tuple[str, str], result: TestResult) -> None:
        self.results.setdefault(key, []).append(result)

    def exercise_status(self, chapter: str, exercise_id: str) -> tuple[str, str, int, int]:
        """(status, detail, tests passed, tests run) for one exercise."""
        every = self.results.get((chapter, exercise_id), [])
        results = [r for r in every if r.status != "SKIP"]
        skipped = [r for r in every if r.status == "SKIP"]
        if not results and chapter in self.collect_errors:
            return "ERROR", self.collect_errors[chapter], 0, 0
        if not results:
            reason = skipped[0].detail if skipped else "no grader test ran for this exercise"
            return "NOT RUN", reason, 0, 0
        passed = sum(r.status == "PASS" for r in results)
        worst = max(results, key=lambda r: SEVERITY[r.status])
        if worst.status == "PASS" and skipped:  # a part not graded earns nothing
            return "NOT RUN", skipped[0].detail, passed, len(results)
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
TIMED_OUT = pytest.StashKey[set]()  # in the worker: exercises with a test that timed out


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


def in_worker(config: pytest.Config) -> bool:
    """True in the worker process that runs the graders, False in the supervisor."""
    return config.pluginmanager.has_plugin("grading.worker")


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
    """From the command line only: a KINDLING_IMPL left in the shell must not change a grade."""
    if config.getoption("reference"):
        return "reference"
    if config.getoption("own_stack") or len(chapters) != 1:
        return "mine"
    return f"isolate:{chapters[0]}"


def _ignored_impl_note(impl: str) -> str:
    """The header line for a KINDLING_IMPL in the environment that grading does not follow."""
    found = os.environ.get("KINDLING_IMPL")
    if found is None or found == impl:
        return ""
    return (
        f"KINDLING_IMPL={found} in your environment is ignored while grading "
        "(use --reference or --own-stack to choose what is graded)"
    )


def _check_grade_json(path: str | None) -> None:
    """Create --grade-json's folder now, so that a path that cannot be written fails at once."""
    if not path:
        return
    target = Path(path)
    if target.is_dir():
        raise pytest.UsageError(f"--grade-json {path}: that is a folder, not a file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise pytest.UsageError(
            f"--grade-json {path}: cannot create the folder {target.parent}: "
            f"{error.strerror or error}"
        ) from None
    if not os.access(target.parent, os.W_OK):
        raise pytest.UsageError(f"--grade-json {path}: the folder {target.parent} is not writable")


def _skip_hypothesis_summary(config: pytest.Config) -> None:
    """Hypothesis's end-of-run summary imports all of Hypothesis, a second or more that no
    grader needs (they do not use Hypothesis): it runs only when its statistics are asked for."""
    hypothesis = config.pluginmanager.get_plugin("hypothesispytest")
    wanted = config.getoption("--hypothesis-show-statistics", default=False)
    if hypothesis is not None and not wanted:
        config.pluginmanager.unregister(hypothesis)


def _check_environment(config: pytest.Config) -> None:
    """The graders need the course's packages: a pytest from another Python (a system one,
    with .venv not active) lacks them, and would fail in a way that names none of them."""
    missing = [] if config.pluginmanager.hasplugin("timeout") else ["pytest-timeout"]
    missing += [name for name in ("numpy", "numba") if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)} missing from the Python that runs pytest ({sys.executable}): "
            "activate the course's environment (source .venv/bin/activate, or "
            '.venv\\Scripts\\activate on Windows) or install it with pip install -e ".[dev]"'
        )


def pytest_configure(config: pytest.Config) -> None:
    _check_environment(config)
    chapters = _chapters_in_args(config.args)
    impl = _choose_impl(config, chapters)
    loaded = sys.modules.get("kindling")
    if loaded is not None and getattr(loaded, "IMPL", impl) != impl:
        raise pytest.UsageError(
            f"kindling was imported (KINDLING_IMPL={loaded.IMPL}) before grading could "
            f"select {impl!r}: run pytest on the chapter folders only"
        )
    book = Gradebook(impl, {n: load_chapter(n) for n in chapters})
    config.stash[GRADEBOOK] = book
    if not in_worker(config):
        _check_grade_json(config.getoption("grade_json"))
        if note := _ignored_impl_note(impl):
            book.notes.append(note)
        if impl != "reference":  # your files: do they take a shortcut? (integrity.py)
            for number in chapters:
                book.notes += integrity.scan_chapter(CHAPTERS_DIR / number)
        config.pluginmanager.register(Supervising(config), "kindling-supervising")
    _skip_hypothesis_summary(config)
    os.environ["KINDLING_IMPL"] = impl  # the worker inherits it
    config.stash[TIMED_OUT] = set()
    # The score table is the summary: keep pytest's own failure output short.
    if config.option.tbstyle == "auto":
        config.option.tbstyle = "short"
    if config.option.reportchars == "fE":  # pytest's default: a line per failed test
        config.option.reportchars = ""


def item_key(item: pytest.Item) -> tuple[str, str] | None:
    """(chapter, exercise id) of a grader test, from its folder and its exercise mark."""
    marker = item.get_closest_marker("exercise")
    chapter = chapter_of(str(item.path))
    if marker is None or chapter is None:
        return None
    return chapter, str(marker.args[0])


@functools.cache  # resolving a path is slow, and every test asks several times
def chapter_of(path: str) -> str | None:
    """'03' for a file in chapters/03/, None for a file elsewhere."""
    resolved = Path(path).resolve()
    if CHAPTERS_DIR not in resolved.parents:
        return None
    return resolved.relative_to(CHAPTERS_DIR).parts[0]


# The worker: time limits, and a status and a reason on every report.


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    book = config.stash[GRADEBOOK]
    for item in items:
        key = item_key(item)
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
    key = item_key(item)
    if key is not None and key in item.config.stash[TIMED_OUT]:
        pytest.skip(f"not run: an earlier test of exercise {key[1]} timed out")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Label the report with its exercise, status and reason: they travel to the supervisor."""
    report = yield
    key = item_key(item)
    if key is None:
        return report
    report.kindling_chapter, report.kindling_exercise = key
    if report.skipped and CUDA_MISSING and item.path.name == CUDA_GRADERS:
        report.outcome, report.longrepr = "failed", CUDA_MISSING  # not a silent skip
        report.kindling_status, report.kindling_detail = "ERROR", CUDA_MISSING
    elif report.failed:
        status, detail = classify(call.excinfo, key[1], item.nodeid)
        if "Timeout" in detail and status == "ERROR":
            item.config.stash[TIMED_OUT].add(key)
        report.kindling_status, report.kindling_detail = status, detail
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A grader file that does not import: say which of your files, and why, in one line."""
    report = yield
    path = Path(str(collector.path)).resolve()
    call = report.__dict__.get("call")  # pytest keeps it there for pytest_exception_interact
    if report.failed and CHAPTERS_DIR in path.parents and call is not None and call.excinfo:
        report.kindling_chapter = path.relative_to(CHAPTERS_DIR).parts[0]
        report.kindling_detail = describe_import_failure(call.excinfo.value, path)
    return report


def describe_import_failure(error: BaseException, grader: Path) -> str:
    """'optim.py does not import: SyntaxError at line 412', from a grader file's import error."""
    while isinstance(error, pytest.Collector.CollectError) and error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, SyntaxError) and error.filename:
        return (
            f"{Path(error.filename).name} does not import: {type(error).__name__} "
            f"at line {error.lineno}"
        )
    culprit, line = grader, None
    frame = error.__traceback__
    while frame is not None:  # the innermost frame in a chapter's file names the culprit
        frame_path = Path(frame.tb_frame.f_code.co_filename).resolve()
        if CHAPTERS_DIR in frame_path.parents:
            culprit, line = frame_path, frame.tb_lineno
        frame = frame.tb_next
    message = (str(error).strip().splitlines() or [""])[0]
    where = f" at line {line}" if line else ""
    return f"{culprit.name} does not import: {type(error).__name__}{where}: {message}"


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """Count not-started tests as `todo`: no traceback into an untouched stub, no red F."""
    if getattr(report, "kindling_status", None) == "TODO":
        return "todo", "T", "TODO"
    return None


# The supervisor: it collects nothing (the worker does) and builds the table from the reports.


class Supervising:
    """Registered in the supervisor only: runs the worker(s) and fills the gradebook."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.book = config.stash[GRADEBOOK]
        self.session: pytest.Session | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        self.session = session
        return True  # your code is imported in the worker only

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        from grading.supervisor import Supervisor

        supervisor = Supervisor(self.config, session, sorted(self.book.chapters))
        supervisor.run()
        self.book.notes += supervisor.warnings
        if session.shouldfail:  # -x or --maxfail, said as pytest's own loop says it
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        return True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A replayed report goes into the gradebook, as the worker labelled it."""
        chapter = getattr(report, "kindling_chapter", None)
        exercise = getattr(report, "kindling_exercise", None)
        if chapter is None or exercise is None:
            return
        if chapter not in self.book.chapters:
            self.book.chapters[chapter] = load_chapter(chapter)
        key = (chapter, exercise)
        if report.skipped:
            if report.when != "teardown":
                self.book.record(key, TestResult(report.nodeid, "SKIP", _skip_reason(report)))
        elif report.failed:
            result = TestResult(report.nodeid, report.kindling_status, report.kindling_detail)
            self.book.record(key, result)
        elif report.when == "call":
            self.book.record(key, TestResult(report.nodeid, "PASS"))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A grader file that did not import: its chapter's exercises that never ran are ERROR."""
        chapter = getattr(report, "kindling_chapter", None)
        if report.failed and chapter is not None:
            self.book.collect_errors.setdefault(chapter, report.kindling_detail)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for number, chapter in sorted(self.book.chapters.items()):
            write_table(terminalreporter, self.book, number, chapter)
        path = self.config.getoption("grade_json")
        if not path:
            return
        try:
            Path(path).write_text(json.dumps(self.book.as_json(), indent=2), encoding="utf-8")
        except OSError as error:
            message = f"could not write --grade-json {path}: {error.strerror or error}"
            terminalreporter.write_line(message, red=True)
            if self.session is not None:
                self.session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def _skip_reason(report: pytest.TestReport) -> str:
    """Why a test was skipped, without pytest's location and "Skipped: " prefix."""
    longrepr = report.longrepr  # (file, line, reason); a list once replayed from the worker
    reason = longrepr[2] if isinstance(longrepr, (tuple, list)) else str(longrepr)
    return str(reason).removeprefix("Skipped: ")


def _describe_impl(impl: str) -> str:
    if impl == "reference":
        return "the answer key (solutions/)"
    if impl == "mine":
        return "your own code for every chapter"
    chapter = impl.removeprefix("isolate:")
    return f"chapters/{chapter} over the answer key"


def _cuda_line() -> str:
    if CUDA_MISSING:
        return f"CUDA exercises: {CUDA_MISSING}"
    where = "numba-cuda's simulator, on the CPU" if CUDA_SIMULATED else "the GPU"
    return f"CUDA kernels ran on {where} (NUMBA_ENABLE_CUDASIM={int(CUDA_SIMULATED)})"


def write_table(terminalreporter, book: Gradebook, number: str, chapter: Chapter) -> None:
    """One chapter's score table: a row per exercise, then the total."""
    write = terminalreporter.write_line
    terminalreporter.section(f"Chapter {number}: {chapter.title}", sep="=")
    write(f"graded: {_describe_impl(book.impl)}  (KINDLING_IMPL={book.impl})")
    for note in book.notes:
        write(note, yellow=True)
    if "gpu" in chapter.modules:
        write(_cuda_line(), **({"red": True} if CUDA_MISSING else {}))
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
