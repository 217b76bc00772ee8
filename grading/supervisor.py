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
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from grading.manifest import ROOT

# How often the worker's events are read while it runs.
POLL_S = 0.01
# Collecting imports the chapter's code (Numba may compile there); past this, it is stuck.
COLLECTION_LIMIT_S = 300.0
# Between two tests, or after the last one, the worker has nothing slow left to do.
IDLE_LIMIT_S = 60.0


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

    def __init__(self, config: pytest.Config, folder: Path, number: int, skip: set[str]):
        self.events_path = folder / f"events-{number}.jsonl"
        self.log_path = folder / f"worker-{number}.log"
        self.events_path.touch()
        args = [*config.invocation_params.args, "-p", "grading.worker"]
        args += ["--kindling-events", str(self.events_path)]
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


class Supervisor:
    """Runs the graders in workers, replays their reports, and contains their crashes."""

    def __init__(self, config: pytest.Config, session: pytest.Session, chapters: list[str]):
        self.config = config
        self.session = session
        self.hook = config.hook
        self.chapters = chapters
        self.plan: dict[str, PlannedTest] | None = None  # from the first worker's collection
        self.done: set[str] = set()  # tests finished, or given up on
        self.phase: dict[str, str] = {}  # the last phase (setup, call, ...) reported, by test
        self.collect_errors: set[str] = set()
        self.running: PlannedTest | None = None
        self.started_at = 0.0  # when the running test started
        self.finished = False
        self.warnings: list[str] = []  # grading code replaced while the graders ran

    def run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="kindling-grading-") as folder:
            number = 0
            while True:
                number += 1
                done_before = len(self.done)
                worker = WorkerProcess(self.config, Path(folder), number, self.done)
                try:
                    self.follow(worker)
                except WorkerDied as death:
                    self.after_death(worker, death, progressed=len(self.done) > done_before)
                finally:
                    worker.close(wait_s=10.0 if self.finished else 0.0)
                if self.finished or not self.tests_left() or self.should_stop():
                    return

    def tests_left(self) -> list[PlannedTest]:
        if self.plan is None:
            return []
        return [test for nodeid, test in self.plan.items() if nodeid not in self.done]

    def should_stop(self) -> bool:  # -x, --maxfail
        return bool(self.session.shouldfail or self.session.shouldstop)

    def follow(self, worker: WorkerProcess) -> None:
        """Replay the worker's events until it is done; WorkerDied if it dies or overruns."""
        self.running = None
        since = time.monotonic()
        while True:
            events = worker.read_events()
            for event in events:
                self.handle(event)
            if events:
                since = time.monotonic()
            if self.finished:
                return
            returncode = worker.process.poll()
            if returncode is not None:
                for event in worker.read_events():  # written just before it died
                    self.handle(event)
                if self.finished:
                    return
                raise WorkerDied(describe_exit(returncode, self.doing()))
            self.check_time(since)
            time.sleep(POLL_S)

    def doing(self) -> str:
        if self.running is not None:
            return f"running {self.running.name}"
        return "collecting the graders" if self.plan is None else "between two tests"

    def check_time(self, since: float) -> None:
        now = time.monotonic()
        test = self.running
        if test is not None and test.timeout > 0:
            elapsed = now - self.started_at
            if elapsed > test.timeout + grace_s(test.timeout):
                raise WorkerDied(
                    f"Timeout: {test.name} was still running after {elapsed:.0f} s (its limit "
                    f"is {test.timeout:g} s), so it was killed: an endless loop in a compiled "
                    "(Numba) kernel?"
                )
        elif test is None:
            limit = COLLECTION_LIMIT_S if self.plan is None else IDLE_LIMIT_S
            if now - since > limit:
                raise WorkerDied(
                    f"the grading process was stuck {self.doing()} for {limit:.0f} s, so it "
                    "was killed"
                )

    def handle(self, event: dict) -> None:
        kind = event["event"]
        if kind == "collected":
            if self.plan is None:  # a restarted worker collects the same tests again
                self.plan = {}
                for item in event["items"]:
                    item["location"] = tuple(item["location"])
                    self.plan[item["nodeid"]] = PlannedTest(**item)
                self.session.testscollected = len(self.plan)
        elif kind == "deselected":
            if self.plan is None:  # a restarted worker deselects the same tests again
                items = [SimpleNamespace(nodeid=nodeid) for nodeid in event["nodeids"]]
                self.hook.pytest_deselected(items=items)  # pytest's summary counts them
        elif kind == "collectreport":
            report = self.unserialize(event["report"])
            if report.nodeid not in self.collect_errors:
                self.collect_errors.add(report.nodeid)
                self.hook.pytest_collectreport(report=report)
        elif kind == "start":
            self.running = self.plan_for(event["nodeid"], event["location"])
            self.started_at = time.monotonic()
            self.hook.pytest_runtest_logstart(
                nodeid=event["nodeid"], location=tuple(event["location"])
            )
        elif kind == "report":
            report = self.unserialize(event["report"])
            self.phase[report.nodeid] = report.when
            self.hook.pytest_runtest_logreport(report=report)
        elif kind == "finish":
            self.hook.pytest_runtest_logfinish(
                nodeid=event["nodeid"], location=tuple(event["location"])
            )
            self.done.add(event["nodeid"])
            self.running = None
        elif kind == "warnings":  # a restarted worker may see the same again
            self.warnings += [line for line in event["lines"] if line not in self.warnings]
        elif kind == "done":
            self.finished = True

    def plan_for(self, nodeid: str, location: list) -> PlannedTest:
        if self.plan is not None and nodeid in self.plan:
            return self.plan[nodeid]
        return PlannedTest(nodeid, tuple(location), None, None, 0.0)

    def unserialize(self, data: dict) -> pytest.TestReport | pytest.CollectReport:
        return self.hook.pytest_report_from_serializable(config=self.config, data=data)

    def after_death(self, worker: WorkerProcess, death: WorkerDied, progressed: bool) -> None:
        """Record what the death cost; the loop in run() restarts for the tests left."""
        worker.kill()
        reason = str(death)
        test = self.running
        if test is not None:
            elapsed = time.monotonic() - self.started_at
            if 0 < test.timeout <= elapsed and not reason.startswith("Timeout"):
                # pytest-timeout's fallback (no SIGALRM on Windows) ends the process itself
                reason = f"Timeout: {test.name} ran past its limit of {test.timeout:g} s; {reason}"
            self.fail(test, reason, worker.log_excerpt())
            self.skip_rest_of_exercise(test)
        elif self.plan is None:
            self.fail_collection(reason, worker.log_excerpt())
        elif not progressed:  # it died between tests twice in a row: give up on the rest
            for test in self.tests_left():
                self.skip(test, f"not run: {reason}")

    def fail(self, test: PlannedTest, reason: str, log_excerpt: str) -> None:
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
        self.hook.pytest_runtest_logreport(report=report)
        self.hook.pytest_runtest_logfinish(nodeid=test.nodeid, location=test.location)
        self.done.add(test.nodeid)
        self.running = None

    def skip_rest_of_exercise(self, crashed: PlannedTest) -> None:
        if crashed.exercise is None:
            return
        for test in self.tests_left():
            if (test.chapter, test.exercise) == (crashed.chapter, crashed.exercise):
                self.skip(test, f"not run: {crashed.name} ended the grading process")

    def skip(self, test: PlannedTest, reason: str) -> None:
        path, line, _ = test.location
        self.hook.pytest_runtest_logstart(nodeid=test.nodeid, location=test.location)
        report = pytest.TestReport(
            test.nodeid, test.location, {}, "skipped", (path, (line or 0) + 1, f"Skipped: {reason}"),
            "setup", kindling_chapter=test.chapter, kindling_exercise=test.exercise,
        )  # fmt: skip
        self.hook.pytest_runtest_logreport(report=report)
        self.hook.pytest_runtest_logfinish(nodeid=test.nodeid, location=test.location)
        self.done.add(test.nodeid)

    def fail_collection(self, reason: str, tail: str) -> None:
        """No test was collected: every exercise of the chapters graded is an ERROR."""
        for number in self.chapters:
            report = pytest.CollectReport(
                f"chapters/{number}", "failed",
                reason + (f"\n\nWhat the grading process wrote:\n{tail}" if tail else ""),
                None, kindling_chapter=number, kindling_detail=reason,
            )  # fmt: skip
            self.hook.pytest_collectreport(report=report)
