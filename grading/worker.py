"""The grading worker: runs the grader tests for the supervisor and streams what happens.

`pytest chapters/NN` does not run the graders in its own process: it starts this one
(see grading/supervisor.py),

    python -m pytest <your arguments> -p grading.worker --kindling-events FILE

which collects and runs the graders as pytest always does, and appends to FILE one JSON
object per line, flushed at once, so that the supervisor knows what ran even if this
process dies in the middle of a test:

    {"event": "collected", "items": [{"nodeid", "location", "chapter", "exercise", "timeout"}]}
    {"event": "deselected", "nodeids": [...]}     tests that -k or -m left out
    {"event": "collectreport", "report": {...}}  a test file that could not be collected
    {"event": "start", "nodeid": ..., "location": ...}
    {"event": "report", "report": {...}}         the setup, call and teardown of each test
    {"event": "finish", "nodeid": ..., "location": ...}
    {"event": "warnings", "lines": [...]}        grading code replaced while the graders ran
    {"event": "done", "exitstatus": 0}

What a test can do to a process and still be graded is contained here: a KeyboardInterrupt
it raises, a thread it leaves running, a huge allocation, a flood of output. What it can do
to end a process (a segfault, os._exit, an endless loop in machine code) is the supervisor's
part.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import pytest

from grading.classify import classify
from grading.simulator import use_a_short_switch_interval

# Memory the worker may take, so that a runaway allocation is a quick MemoryError instead of
# minutes of swapping. Chapter 05 on the answer key peaks at 2 to 3 GiB, most of it the
# stacks of the CUDA simulator's threads (one Python thread per simulated CUDA thread).
MEMORY_LIMIT = 12 * 2**30
# Output one test may print. More is an ERROR (a print left in a loop); of what it printed,
# the report keeps the first and the last OUTPUT_SHOWN characters.
OUTPUT_LIMIT = 1_000_000
OUTPUT_SHOWN = 2_000
# How long a thread the test started may take to end after the test did.
THREAD_GRACE_S = 1.0

EVENTS: TextIO | None = None
CONFIG: pytest.Config | None = None
SKIP: set[str] = set()  # tests that an earlier worker already ran
THREADS_BEFORE: set[threading.Thread] = set()  # alive when the running test started
THREADS_LEFT_BY: set[str | None] = set()  # the exercises whose tests left a thread running
EXIT_STATUS = 0
GRADING_SNAPSHOT: Any = None  # integrity.snapshot(), taken before your code is imported


class InterruptedByTheCode(Exception):
    """The code under test raised KeyboardInterrupt itself (a real Ctrl-C never gets here)."""


class ThreadLeftRunning(Exception):
    """The test returned while a thread it started still runs: it would keep a program alive."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kindling")
    group.addoption("--kindling-events", help=argparse.SUPPRESS)
    group.addoption("--kindling-skip", help=argparse.SUPPRESS)
    group.addoption("--kindling-log", help=argparse.SUPPRESS)
    group.addoption("--kindling-share", choices=("first", "second"), help=argparse.SUPPRESS)


def emit(event: str, **fields: Any) -> None:
    """One line to the supervisor, flushed: it must be on disk before anything can go wrong."""
    assert EVENTS is not None
    EVENTS.write(json.dumps({"event": event, **fields}, default=str) + "\n")
    EVENTS.flush()


def serialize(report: pytest.TestReport | pytest.CollectReport) -> dict:
    assert CONFIG is not None
    return CONFIG.hook.pytest_report_to_serializable(config=CONFIG, report=report)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global EVENTS, CONFIG
    CONFIG = config
    EVENTS = open(config.getoption("kindling_events"), "a", encoding="utf-8")  # noqa: SIM115
    skip_file = config.getoption("kindling_skip")
    if skip_file:
        SKIP.update(json.loads(Path(skip_file).read_text(encoding="utf-8")))
    # A test file that does not import is an ERROR for its exercises, not the end of the run.
    config.option.continue_on_collection_errors = True
    limit_memory()
    leave_when_the_supervisor_does()
    parse_each_source_once()
    use_a_short_switch_interval()
    if config.getoption("kindling_log"):  # -s: your prints go to the terminal, pytest's to a log
        sys.stdout = open(config.getoption("kindling_log"), "w", encoding="utf-8")  # noqa: SIM115
    watch_the_grading_code()


def watch_the_grading_code() -> None:
    """Note what the grading code is now, before your code is imported (integrity.py)."""
    global GRADING_SNAPSHOT
    from grading import integrity

    for module in ("grading.check", "grading.kernel_checks"):  # watched if imported by now
        importlib.import_module(module)

    GRADING_SNAPSHOT = integrity.snapshot()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    sys.stdout = sys.__stdout__  # pytest's terminal writer keeps the log it was created with


def parse_each_source_once() -> None:
    """pytest parses a file again for every failure it shows (its cache of parsed files lives
    for one failure): with a bug that fails 60 tests, that was 40% of chapter 05's grading.
    The files do not change while the graders run, so one cache serves the whole run."""
    from _pytest._code.code import TracebackEntry

    getsource = TracebackEntry.getsource
    if "astcache" not in inspect.signature(getsource).parameters:
        return  # another pytest: keep its own way
    parsed: dict = {}

    def getsource_parsed_once(self: TracebackEntry, astcache: dict | None = None) -> Any:
        return getsource(self, parsed if astcache is not None else None)

    TracebackEntry.getsource = getsource_parsed_once  # type: ignore[method-assign]


def limit_memory() -> None:
    """Cap this process's memory (POSIX only), so that a 20 GiB array fails at once."""
    try:
        import resource
    except ImportError:  # Windows
        return
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "0":
        return  # a real GPU: the CUDA driver reserves far more address space than it uses
    # On Linux RLIMIT_DATA counts the memory a process can write to, not the address space
    # that libraries merely reserve (malloc's per-thread arenas); elsewhere RLIMIT_AS is
    # what there is.
    kind = resource.RLIMIT_DATA if sys.platform.startswith("linux") else resource.RLIMIT_AS
    soft, hard = resource.getrlimit(kind)
    if soft != resource.RLIM_INFINITY and soft <= MEMORY_LIMIT:
        return  # already lower: keep it
    limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
    with contextlib.suppress(ValueError, OSError):  # refused: the supervisor's time limit remains
        resource.setrlimit(kind, (limit, hard))


def leave_when_the_supervisor_does() -> None:
    """If the supervisor is killed, this process is handed to another parent: then exit.

    (POSIX only: on Windows a process keeps its dead parent's id.)"""
    if os.name != "posix":
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="kindling-watchdog", daemon=True).start()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """When the supervisor runs two workers side by side, each collects only its share:
    the second the files in SECOND_WORKER_FILES, the first all the others."""
    share = config.getoption("kindling_share")
    if share is None or not collection_path.name.startswith("test_"):
        return None
    from grading.supervisor import SECOND_WORKER_FILES

    in_second = collection_path.name in SECOND_WORKER_FILES
    return True if in_second != (share == "second") else None  # None: the others decide


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    done = [item for item in items if item.nodeid in SKIP]
    if done:
        items[:] = [item for item in items if item.nodeid not in SKIP]


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Tests left out by -k or -m: the supervisor counts them, as pytest does."""
    emit("deselected", nodeids=[item.nodeid for item in items])


def _timeout(item: pytest.Item, config: pytest.Config) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and (marker.args or "timeout" in marker.kwargs):
        return float(marker.args[0] if marker.args else marker.kwargs["timeout"])
    return float(config.getini("timeout") or 0)


def pytest_collection_finish(session: pytest.Session) -> None:
    from grading.plugin import item_key  # here: loaded first as a plugin, its asserts rewritten

    items = []
    for item in session.items:
        chapter, exercise = item_key(item) or (None, None)
        timeout = _timeout(item, session.config)
        items.append(
            {"nodeid": item.nodeid, "location": item.location, "chapter": chapter,
             "exercise": exercise, "timeout": timeout}
        )  # fmt: skip
    emit("collected", items=items)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed or report.skipped:
        emit("collectreport", report=serialize(report))


def pytest_runtest_logstart(nodeid: str, location: tuple) -> None:
    THREADS_BEFORE.clear()
    THREADS_BEFORE.update(threading.enumerate())
    emit("start", nodeid=nodeid, location=location)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    emit("report", report=serialize(report))


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    emit("finish", nodeid=nodeid, location=location)


def _an_interrupt_is_an_error():
    """Inside a test, KeyboardInterrupt comes from the code: pytest would stop the whole run."""
    try:
        return (yield)
    except KeyboardInterrupt as interrupt:
        raise InterruptedByTheCode(
            "your code raised KeyboardInterrupt (a real Ctrl-C stops the run instead)"
        ) from interrupt


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    return (yield from _an_interrupt_is_an_error())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    return (yield from _an_interrupt_is_an_error())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    result = yield from _an_interrupt_is_an_error()
    marker = item.get_closest_marker("exercise")
    check_no_thread_left_running(marker.args[0] if marker else None)
    return result


def check_no_thread_left_running(exercise: str | None) -> None:
    started = [
        thread
        for thread in threading.enumerate()
        if thread not in THREADS_BEFORE
        and not thread.daemon
        and not thread.name.startswith("pytest_timeout")  # pytest-timeout's own timer
    ]
    # Once an exercise has left a thread running it is an ERROR: its later tests need not
    # wait for theirs (20 tests, 20 s).
    grace = 0.0 if exercise in THREADS_LEFT_BY else THREAD_GRACE_S
    deadline = time.monotonic() + grace
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = [thread.name for thread in started if thread.is_alive()]
    if running:
        THREADS_LEFT_BY.add(exercise)
        raise ThreadLeftRunning(
            f"the test returned while {len(running)} thread(s) it started still run "
            f"({', '.join(running)}): join them before returning, or start them with daemon=True"
        )


def _shorten(text: str) -> str:
    if len(text) <= 2 * OUTPUT_SHOWN:
        return text
    cut = len(text) - 2 * OUTPUT_SHOWN
    return f"{text[:OUTPUT_SHOWN]}\n[... {cut} characters cut ...]\n{text[-OUTPUT_SHOWN:]}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep a report small; a test that printed a flood of output is an ERROR."""
    report = yield
    exercise = getattr(report, "kindling_exercise", None)
    error = call.excinfo.value if call.excinfo else None
    if exercise is not None and isinstance(error, InterruptedByTheCode):
        # Classified from the KeyboardInterrupt itself: its traceback shows where your code is.
        excinfo = pytest.ExceptionInfo.from_exception(error.__cause__)
        report.kindling_status, report.kindling_detail = classify(excinfo, exercise, item.nodeid)
    printed = sum(
        len(content)
        for title, content in report.sections
        if title.startswith("Captured") and title.endswith(f" {report.when}")
    )
    report.sections = [(title, _shorten(content)) for title, content in report.sections]
    if printed > OUTPUT_LIMIT and report.passed and exercise is not None:
        detail = (
            f"the test printed {printed / 1e6:.1f} MB (the limit is {OUTPUT_LIMIT / 1e6:g} MB): "
            "a print left in a loop?"
        )
        report.outcome = "failed"
        report.longrepr = detail
        report.kindling_status, report.kindling_detail = "ERROR", detail
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global EXIT_STATUS
    EXIT_STATUS = int(exitstatus)
    from grading import integrity

    if GRADING_SNAPSHOT is not None and (changed := integrity.changed_since(GRADING_SNAPSHOT)):
        emit("warnings", lines=changed)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Say so, then end at once: a thread a test left running cannot keep this process alive."""
    emit("done", exitstatus=EXIT_STATUS)
    assert EVENTS is not None
    EVENTS.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_STATUS)
