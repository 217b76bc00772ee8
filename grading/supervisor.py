"""The supervisor: `pytest chapters/NN` runs the graders in a worker process and watches it.

Your code can end a process in ways no test can catch: a segfault in a Numba kernel that
writes out of bounds, `os._exit()`, an endless loop in compiled code that no Python-level
timeout can interrupt. So the process you start (this one) imports neither NumPy nor your
code: it starts a worker (grading/worker.py) that collects and runs the graders, and reads
what the worker reports, test by test. Each report is replayed here through pytest's own
hooks, so the progress dots, the counts and the exit code are pytest's as usual.

When the worker dies, or a test runs past its time limit plus a grace period, the worker is
killed (with any process it started), the test it was running becomes an ERROR that says
why, the rest of that exercise's tests are not run, and a new worker carries on with the
tests that have not run yet.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from grading.manifest import ROOT

# How often the worker's events are read while it runs.
POLL_S = 0.01
# Collecting imports the chapter's code (Numba may compile there); past this, it is stuck.
COLLECTION_LIMIT_S = 300.0
# Between two tests, or after the last one, the worker has nothing slow left to do.
IDLE_LIMIT_S = 60.0
# The graders that run on the CUDA simulator: Python threads on one core. When a run holds
# these and others, a second worker runs them beside the first (see Supervisor).
SECOND_WORKER_FILES = frozenset({"test_gpu.py"})


# The worker's own pytest-timeout stops a Python loop at the test's timeout and reports it;
# the supervisor kills the worker only later, for what that cannot stop.
def grace_s(timeout: float) -> float:
    return 5.0 + timeout / 4


# Windows reports a crash as an NTSTATUS exit code.
WINDOWS_CRASHES = {0xC0000005: "access violation", 0xC00000FD: "stack overflow"}
SIGNAL_HINTS = {
    "SIGSEGV": "an out-of-bounds write in a Numba kernel?",
    "SIGBUS": "an out-of-bounds access in a Numba kernel?",
    "SIGKILL": "killed from outside: did the computer run out of memory?",
    "SIGABRT": "a C library gave up (an assertion or a corrupted heap)",
}


@dataclass
class PlannedTest:
    """A test the worker collected, with its exercise and its time limit."""

    nodeid: str
    location: tuple[str, int | None, str]
    chapter: str | None
    exercise: str | None
    timeout: float

    @property
    def name(self) -> str:
        return self.nodeid.split("::", 1)[-1]


class WorkerDied(Exception):
    """The worker ended, or was killed, before it was done: the message says how, in one line."""


def describe_exit(returncode: int, doing: str) -> str:
    """How the worker ended, in one line: 'died with signal 11 (segmentation fault) while ...'."""
    hint = "os._exit() or sys.exit() in your code?"
    how = f"exited with status {returncode}"
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        how = f"died with signal {number} ({(signal.strsignal(number) or name).lower()})"
        hint = SIGNAL_HINTS.get(name, "")
    elif returncode & 0xFFFFFFFF in WINDOWS_CRASHES:
        how = f"crashed ({WINDOWS_CRASHES[returncode & 0xFFFFFFFF]}, code {returncode & 0xFFFFFFFF:#x})"
        hint = "an out-of-bounds access in a Numba kernel?"
    return f"the grading process {how} while {doing}" + (f": {hint}" if hint else "")


class WorkerProcess:
    """One worker: `python -m pytest <your arguments> -p grading.worker`, in its own group."""

    def __init__(
        self, config: pytest.Config, folder: Path, number: int, skip: set[str], share: str | None
    ):
        self.events_path = folder / f"events-{number}.jsonl"
        self.log_path = folder / f"worker-{number}.log"
        self.events_path.touch()
        args = [*config.invocation_params.args, "-p", "grading.worker"]
        args += ["--kindling-events", str(self.events_path)]
        if share is not None:
            args += ["--kindling-share", share]
        if skip:
            skip_path = folder / f"skip-{number}.json"
            skip_path.write_text(json.dumps(sorted(skip)), encoding="utf-8")
            args += ["--kindling-skip", str(skip_path)]
        env = dict(os.environ)  # KINDLING_IMPL and NUMBA_ENABLE_CUDASIM, chosen by the plugin
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        passthrough = config.getoption("capture") == "no"  # -s: show your prints as they come
        if passthrough:
            args += ["--kindling-log", str(self.log_path)]
        self.log = None if passthrough else open(self.log_path, "wb")  # noqa: SIM115
        # Its own process group (POSIX) or console group (Windows): a Ctrl-C in the terminal
        # reaches only the supervisor, and killing the group ends what the worker started.
        group = (
            {"start_new_session": True}
            if os.name == "posix"
            else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *args],
            cwd=config.invocation_params.dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            **group,
        )
        self.events = open(self.events_path, encoding="utf-8")  # noqa: SIM115
        self.partial = ""

    def read_events(self) -> list[dict]:
        """The events written since the last call (a line still being written waits)."""
        self.partial += self.events.read()
        *lines, self.partial = self.partial.split("\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        """End the worker and everything it started."""
        if self.process.poll() is None:
            if os.name == "posix":
                with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                    os.killpg(self.process.pid, signal.SIGKILL)
            else:
                subprocess.run(
                    ["taskkill", "/F", "/T", "/PID", str(self.process.pid)],
                    capture_output=True, check=False,
                )  # fmt: skip
        self.process.wait()

    def close(self, wait_s: float = 10.0) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):  # then it is killed
            self.process.wait(timeout=wait_s)
        self.kill()
        self.events.close()
        if self.log is not None:
            self.log.close()

    def log_excerpt(self, lines: int = 15) -> str:
        """What the worker wrote itself that explains its end: for a crash, Python's report
        of where it happened (your file's lines in it); otherwise the last lines."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 20_000))
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        written = text.strip().splitlines()
        crash = [n for n, line in enumerate(written) if line.startswith("Fatal Python error")]
        if crash:  # faulthandler's report: the error, then the frames in chapters/
            report = written[crash[-1] :]
            return "\n".join(report[:1] + [line for line in report if "chapters" in line][:lines])
        return "\n".join(written[-lines:])


class Lane:
    """One worker's share of the graders: its worker (restarted after a death), the tests it
    collected, those done, the one running, and the replays it holds back (see Supervisor)."""

    def __init__(self, share: str | None) -> None:
        self.share = share  # None: all the graders; "first" or "second": SECOND_WORKER_FILES
        self.worker: WorkerProcess | None = None
        self.plan: dict[str, PlannedTest] | None = None  # from its first worker's collection
        self.done: set[str] = set()  # tests finished, or given up on
        self.done_before = 0  # len(done) when the current worker started
        self.running: PlannedTest | None = None
        self.started_at = 0.0  # when the running test started
        self.last_event_at = 0.0
        self.finished = False  # its worker said "done"
        self.live = False  # its replays reach pytest now; otherwise they wait in `held`
        self.held: list[tuple[Callable[..., Any], dict[str, Any]]] = []

    def tests_left(self) -> list[PlannedTest]:
        if self.plan is None:
            return []
        return [test for nodeid, test in self.plan.items() if nodeid not in self.done]

    def doing(self) -> str:
        if self.running is not None:
            return f"running {self.running.name}"
        return "collecting the graders" if self.plan is None else "between two tests"


class Supervisor:
    """Runs the graders in workers, replays their reports, and contains their crashes.

    Chapter 05's CUDA simulator graders run Python threads on one core while the other
    graders' Numba kernels use every core, so when a run holds both kinds, two workers run
    side by side, each collecting its share (SECOND_WORKER_FILES, or the rest). Their
    reports are replayed one worker after the other, so that pytest's output reads as from
    one process: the second worker's wait until the first is done."""

    def __init__(self, config: pytest.Config, session: pytest.Session, chapters: list[str]):
        self.config = config
        self.session = session
        self.hook = config.hook
        self.chapters = chapters
        self.phase: dict[str, str] = {}  # the last phase (setup, call, ...) reported, by test
        self.collect_errors: set[str] = set()
        self.workers_started = 0
        self.warnings: list[str] = []  # grading code replaced while the graders ran
        self.lanes = [Lane(share) for share in self.shares()]
        self.lanes[0].live = True

    def shares(self) -> list[str | None]:
        """Two shares when the run's folders hold simulator graders and others; else one.
        Also one with -x or --maxfail, which stop at the first failures in the order run."""
        if self.config.getoption("maxfail"):
            return [None]
        paths = [Path(arg.split("::")[0]) for arg in self.config.args]
        if not paths or any(not path.is_dir() for path in paths):  # files or tests named
            return [None]
        graders = {found.name for path in paths for found in path.rglob("test_*.py")}
        if graders & SECOND_WORKER_FILES and graders - SECOND_WORKER_FILES:
            return ["first", "second"]
        return [None]

    def run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="kindling-grading-") as folder:
            for lane in self.lanes:
                self.start_worker(lane, Path(folder))
            try:
                while any(lane.worker is not None for lane in self.lanes):
                    for lane in self.lanes:
                        if lane.worker is not None:
                            self.follow(lane, Path(folder))
                    self.pass_on_the_replays()
                    time.sleep(POLL_S)
            finally:
                for lane in self.lanes:
                    if lane.worker is not None:
                        lane.worker.close(wait_s=0.0)
            self.pass_on_the_replays()

    def start_worker(self, lane: Lane, folder: Path) -> None:
        self.workers_started += 1
        lane.worker = WorkerProcess(
            self.config, folder, self.workers_started, lane.done, lane.share
        )
        lane.done_before = len(lane.done)
        lane.running = None
        lane.last_event_at = time.monotonic()

    def should_stop(self) -> bool:  # -x, --maxfail
        return bool(self.session.shouldfail or self.session.shouldstop)

    def follow(self, lane: Lane, folder: Path) -> None:
        """Replay what the lane's worker wrote since the last look. A worker that is done is
        closed; one that died or overran is killed, and another takes the lane's tests left."""
        worker = lane.worker
        assert worker is not None
        died = False
        try:
            self.read(lane)
            if not lane.finished:
                returncode = worker.process.poll()
                if returncode is not None:
                    self.read(lane)  # written just before it died
                    if not lane.finished:
                        raise WorkerDied(describe_exit(returncode, lane.doing()))
                else:
                    self.check_time(lane)
        except WorkerDied as death:
            self.after_death(lane, death)
            died = True
        if lane.finished or died:
            worker.close(wait_s=10.0 if lane.finished else 0.0)
            lane.worker = None
        if died and lane.tests_left() and not self.should_stop():
            self.start_worker(lane, folder)
        if self.should_stop():  # -x or --maxfail: the other lanes stop too
            for other in self.lanes:
                if other.worker is not None:
                    other.worker.close(wait_s=0.0)
                    other.worker = None

    def read(self, lane: Lane) -> None:
        assert lane.worker is not None
        events = lane.worker.read_events()
        for event in events:
            self.handle(lane, event)
        if events:
            lane.last_event_at = time.monotonic()

    def check_time(self, lane: Lane) -> None:
        now = time.monotonic()
        test = lane.running
        if test is not None and test.timeout > 0:
            elapsed = now - lane.started_at
            if elapsed > test.timeout + grace_s(test.timeout):
                raise WorkerDied(
                    f"Timeout: {test.name} was still running after {elapsed:.0f} s (its limit "
                    f"is {test.timeout:g} s), so it was killed: an endless loop in a compiled "
                    "(Numba) kernel?"
                )
        elif test is None:
            limit = COLLECTION_LIMIT_S if lane.plan is None else IDLE_LIMIT_S
            if now - lane.last_event_at > limit:
                raise WorkerDied(
                    f"the grading process was stuck {lane.doing()} for {limit:.0f} s, so it "
                    "was killed"
                )

    def replay(self, lane: Lane, hook: Callable[..., Any], **kwargs: Any) -> None:
        """Pass a report on to pytest now, or when the lanes before this one are done."""
        if lane.live:
            hook(**kwargs)
        else:
            lane.held.append((hook, kwargs))

    def pass_on_the_replays(self) -> None:
        """When the live lane is done, the next one goes live, with what it held back."""
        for lane in self.lanes:
            if not lane.live:
                lane.live = True
                for hook, kwargs in lane.held:
                    hook(**kwargs)
                lane.held.clear()
            if lane.worker is not None:
                return

    def handle(self, lane: Lane, event: dict) -> None:
        kind = event["event"]
        if kind == "collected":
            if lane.plan is None:  # a restarted worker collects the same tests again
                lane.plan = {}
                for item in event["items"]:
                    item["location"] = tuple(item["location"])
                    lane.plan[item["nodeid"]] = PlannedTest(**item)
                self.session.testscollected = sum(len(one.plan or ()) for one in self.lanes)
        elif kind == "deselected":
            if lane.plan is None:  # a restarted worker deselects the same tests again
                items = [SimpleNamespace(nodeid=nodeid) for nodeid in event["nodeids"]]
                self.replay(lane, self.hook.pytest_deselected, items=items)  # pytest counts them
        elif kind == "collectreport":
            report = self.unserialize(event["report"])
            if report.nodeid not in self.collect_errors:
                self.collect_errors.add(report.nodeid)
                self.replay(lane, self.hook.pytest_collectreport, report=report)
        elif kind == "start":
            lane.running = self.plan_for(lane, event["nodeid"], event["location"])
            lane.started_at = time.monotonic()
            self.replay(
                lane, self.hook.pytest_runtest_logstart,
                nodeid=event["nodeid"], location=tuple(event["location"]),
            )  # fmt: skip
        elif kind == "report":
            report = self.unserialize(event["report"])
            self.phase[report.nodeid] = report.when
            self.replay(lane, self.hook.pytest_runtest_logreport, report=report)
        elif kind == "finish":
            self.replay(
                lane, self.hook.pytest_runtest_logfinish,
                nodeid=event["nodeid"], location=tuple(event["location"]),
            )  # fmt: skip
            lane.done.add(event["nodeid"])
            lane.running = None
        elif kind == "warnings":  # a restarted worker may see the same again
            self.warnings += [line for line in event["lines"] if line not in self.warnings]
        elif kind == "done":
            lane.finished = True

    def plan_for(self, lane: Lane, nodeid: str, location: list) -> PlannedTest:
        if lane.plan is not None and nodeid in lane.plan:
            return lane.plan[nodeid]
        return PlannedTest(nodeid, tuple(location), None, None, 0.0)

    def unserialize(self, data: dict) -> pytest.TestReport | pytest.CollectReport:
        return self.hook.pytest_report_from_serializable(config=self.config, data=data)

    def after_death(self, lane: Lane, death: WorkerDied) -> None:
        """Record what the death cost; follow() starts a worker for the tests left."""
        assert lane.worker is not None
        lane.worker.kill()
        reason = str(death)
        test = lane.running
        if test is not None:
            elapsed = time.monotonic() - lane.started_at
            if 0 < test.timeout <= elapsed and not reason.startswith("Timeout"):
                # pytest-timeout's fallback (no SIGALRM on Windows) ends the process itself
                reason = f"Timeout: {test.name} ran past its limit of {test.timeout:g} s; {reason}"
            self.fail(lane, test, reason, lane.worker.log_excerpt())
            self.skip_rest_of_exercise(lane, test)
        elif lane.plan is None:
            self.fail_collection(lane, reason, lane.worker.log_excerpt())
        elif len(lane.done) == lane.done_before:  # it died before finishing a test: give up
            for left in lane.tests_left():
                self.skip(lane, left, f"not run: {reason}")

    def fail(self, lane: Lane, test: PlannedTest, reason: str, log_excerpt: str) -> None:
        longrepr = reason
        if log_excerpt:
            longrepr += f"\n\nWhat the grading process wrote:\n{log_excerpt}"
        # The phase that was running when it ended: after setup, the test itself.
        when = {None: "setup", "setup": "call"}.get(self.phase.get(test.nodeid), "teardown")
        report = pytest.TestReport(
            test.nodeid, test.location, {}, "failed", longrepr,
            when,
            kindling_chapter=test.chapter, kindling_exercise=test.exercise,
            kindling_status="ERROR", kindling_detail=reason,
        )  # fmt: skip
        self.replay(lane, self.hook.pytest_runtest_logreport, report=report)
        self.replay(
            lane, self.hook.pytest_runtest_logfinish, nodeid=test.nodeid, location=test.location
        )
        lane.done.add(test.nodeid)
        lane.running = None

    def skip_rest_of_exercise(self, lane: Lane, crashed: PlannedTest) -> None:
        if crashed.exercise is None:
            return
        for test in lane.tests_left():
            if (test.chapter, test.exercise) == (crashed.chapter, crashed.exercise):
                self.skip(lane, test, f"not run: {crashed.name} ended the grading process")

    def skip(self, lane: Lane, test: PlannedTest, reason: str) -> None:
        path, line, _ = test.location
        self.replay(
            lane, self.hook.pytest_runtest_logstart, nodeid=test.nodeid, location=test.location
        )
        report = pytest.TestReport(
            test.nodeid, test.location, {}, "skipped", (path, (line or 0) + 1, f"Skipped: {reason}"),
            "setup", kindling_chapter=test.chapter, kindling_exercise=test.exercise,
        )  # fmt: skip
        self.replay(lane, self.hook.pytest_runtest_logreport, report=report)
        self.replay(
            lane, self.hook.pytest_runtest_logfinish, nodeid=test.nodeid, location=test.location
        )
        lane.done.add(test.nodeid)

    def fail_collection(self, lane: Lane, reason: str, tail: str) -> None:
        """No test was collected: every exercise of the chapters graded is an ERROR."""
        for number in self.chapters:
            nodeid = f"chapters/{number}"
            if nodeid in self.collect_errors:  # the other lane's worker died there too
                continue
            self.collect_errors.add(nodeid)
            report = pytest.CollectReport(
                nodeid, "failed",
                reason + (f"\n\nWhat the grading process wrote:\n{tail}" if tail else ""),
                None, kindling_chapter=number, kindling_detail=reason,
            )  # fmt: skip
            self.replay(lane, self.hook.pytest_collectreport, report=report)
