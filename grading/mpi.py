"""Chapter 07's code runs as an MPI job: P processes, started together by `mpiexec`.

A mistake there often ends in a deadlock rather than an exception: a send whose receive
never comes, a collective one rank skips. Such a job waits forever, so each rank runs under
a watchdog,

    python -m grading.mpi LIMIT_S FOLDER <what python would run: -m module ... or file ...>

which, when the rank is still running after LIMIT_S, writes where each of its threads is
(Python's faulthandler, which reads the frames even while the rank waits inside MPI) to
FOLDER/stuck-RANK.txt. `run` then ends the job and reports the ranks that were stuck, each
with the line it was waiting on.

Chapter 07's graders run their checks this way: the grader file itself is the target, and
`serve_checks` (on each rank) records how the check ended, in FOLDER/result-RANK.json;
`raise_for` (in the grader) turns a job's results into the exception that the score table
classifies, as if the check had run in the grader's own process: a stub's
NotImplementedError is TODO, a check that did not hold is FAIL, anything else ERROR.
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import json
import linecache
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Where the launcher tells each process its rank (MPICH and Intel MPI, Open MPI, PMIx).
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
# After the limit: time for every stuck rank to write where it is, before the job is ended.
GRACE_S = 3.0
# Tells the target where its job's folder is, for serve_checks's results.
FOLDER_VARIABLE = "KINDLING_MPI_FOLDER"
INSTALL_HINT = "pip install mpi4py mpich (Windows: pip install mpi4py impi-rt; an Intel Mac: brew install mpich)"


def mpiexec() -> str | None:
    """The MPI launcher of this environment: the mpich or impi-rt wheel puts it beside Python."""
    beside = Path(sys.executable).parent / ("mpiexec.exe" if os.name == "nt" else "mpiexec")
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def missing() -> str | None:
    """One line saying what to install, or None when MPI jobs can run here."""
    try:
        from mpi4py import MPI  # noqa: F401  (fails where no MPI library is installed)
    except (ImportError, RuntimeError):
        return f"MPI is not installed: {INSTALL_HINT}"
    if mpiexec() is None:
        return f"mpiexec was not found: {INSTALL_HINT}"
    return None


@functools.cache
def _oversubscribe(launcher: str) -> list[str]:
    """Open MPI refuses more ranks than cores unless told; MPICH and Intel MPI just share."""
    try:
        version = subprocess.run(
            [launcher, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return ["--oversubscribe"] if "Open MPI" in version or "OpenRTE" in version else []


@dataclass
class Job:
    """How an MPI job ended: its exit code (None: ended at its time limit), what its ranks
    printed, and for each rank still running at the limit, where it was waiting."""

    ranks: int
    returncode: int | None
    output: str
    stuck: dict[int, str] = field(default_factory=dict)
    results: dict[int, dict] = field(default_factory=dict)  # written by serve_checks

    def describe(self, limit_s: float) -> str:
        if self.returncode is not None:
            return f"the job of {self.ranks} ranks ended with exit code {self.returncode}"
        if not self.stuck:
            return f"the job of {self.ranks} ranks ran past its {limit_s:g} s limit"
        waiting = "; ".join(f"rank {rank} at {where}" for rank, where in sorted(self.stuck.items()))
        done = sorted(set(range(self.ranks)) - set(self.stuck))
        finished = f" (rank(s) {', '.join(map(str, done))} had finished)" if done else ""
        return (
            f"the job of {self.ranks} ranks ran past its {limit_s:g} s limit, still waiting: "
            f"{waiting}{finished}. A deadlock? Every send needs its receive, and every rank "
            "must call each collective."
        )


def run(
    ranks: int, target: list[str], limit_s: float, cwd: Path, env: dict[str, str] | None = None
) -> Job:
    """Run `python <target>` as `ranks` MPI processes, ended after `limit_s` (+ GRACE_S)."""
    launcher = mpiexec()
    if launcher is None:
        raise RuntimeError(f"mpiexec was not found: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="kindling-mpi-") as folder:
        command = [launcher, "-n", str(ranks), *_oversubscribe(launcher)]
        command += [sys.executable, "-m", "grading.mpi"]
        command += [str(limit_s), folder, *target]
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=os.name == "posix",  # its own group: the whole job can be ended
        )
        try:
            output, _ = process.communicate(timeout=limit_s + GRACE_S)
            returncode: int | None = process.returncode
        except subprocess.TimeoutExpired:
            _end(process)
            output, _ = process.communicate()
            returncode = None
        stuck = {}
        for dump in Path(folder).glob("stuck-*.txt"):
            text = dump.read_text(encoding="utf-8", errors="replace")
            if text.strip():
                stuck[int(dump.stem.split("-")[1])] = where_waiting(text, Path(cwd))
        results = {
            int(path.stem.split("-")[1]): json.loads(path.read_text(encoding="utf-8"))
            for path in Path(folder).glob("result-*.json")
        }
    return Job(ranks, returncode, output, stuck if returncode is None else {}, results)


def _end(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()


FRAME = re.compile(r'^\s+File "(?P<file>.+)", line (?P<line>\d+) in (?P<function>\S+)')


def where_waiting(dump: str, root: Path) -> str:
    """Where the main thread of a faulthandler dump waits, as `file:line in function (the
    line's code)`: its innermost frame in a chapter's module (your code) if it has one,
    else its innermost frame. The main thread is the one that started here (_rank_main)."""
    threads = [
        [match for line in block.splitlines() if (match := FRAME.match(line))]
        for block in re.split(r"\n(?=\S)", dump.strip())
    ]
    threads = [frames for frames in threads if frames]
    main = [f for f in threads if Path(f[-1]["file"]).parts[-2:] == ("grading", "mpi.py")]
    frames = (main or threads or [[]])[0]
    from grading.classify import _is_learner_module

    learner = [f for f in frames if _is_learner_module(Path(f["file"]).resolve())]
    if learner or frames:
        return _describe((learner or frames)[0], root)
    return "an unknown place (no Python frame)"


def _describe(frame: re.Match, root: Path) -> str:
    """`file:line in function (code)`, the file relative to `root` when it is inside it."""
    path, line = Path(frame["file"]), int(frame["line"])
    with contextlib.suppress(ValueError):
        path = path.relative_to(root.resolve())
    code = linecache.getline(frame["file"], line).strip()
    return f"{path.as_posix()}:{line} in {frame['function']}" + (f" ({code})" if code else "")


def _rank_main(argv: list[str]) -> None:
    """One rank: arm the watchdog, then run the target as `python <target>` would."""
    limit_s, folder, *target = argv
    os.environ[FOLDER_VARIABLE] = folder
    rank = next((os.environ[name] for name in RANK_VARIABLES if name in os.environ), "0")
    dump = open(Path(folder) / f"stuck-{int(rank)}.txt", "w")  # noqa: SIM115 (read by run)
    faulthandler.dump_traceback_later(float(limit_s), file=dump)
    try:
        if target[0] == "-m":
            sys.argv = target[1:]
            runpy.run_module(target[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = target
            sys.path.insert(0, str(Path(target[0]).resolve().parent))  # as python puts it
            runpy.run_path(target[0], run_name="__main__")
    finally:
        faulthandler.cancel_dump_traceback_later()


# Chapter 07's graders: checks that run on every rank of a job.


class Deadlock(Exception):
    """An MPI job still running at its time limit (its message says where each rank waits)."""

    where_known = True


def on_ranks(check: Callable[[], None], ranks: int, limit_s: float) -> None:
    """In a grader: run `check`, a function of the grader's file, on `ranks` MPI processes
    (with one thread each: the ranks already share the cores), and raise what went wrong;
    skip with what to install when MPI is missing."""
    import inspect

    import pytest

    from grading.manifest import ROOT

    if (reason := missing()) is not None:
        pytest.skip(reason)
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    grader = str(Path(inspect.getfile(check)).resolve())
    raise_for(run(ranks, [grader, check.__name__], limit_s, cwd=ROOT, env=env), limit_s)


def serve_checks(checks: Mapping[str, Callable[[], None]]) -> None:
    """On each rank: run the check named by the first argument and record how it ended. An
    exception ends the whole job (MPI's Abort): the other ranks may be waiting for this one."""
    from mpi4py import MPI

    world = MPI.COMM_WORLD
    try:
        checks[sys.argv[1]]()
        result = {"kind": "passed"}
    except BaseException as error:  # whatever it is, the grader reports it
        result = _describe_error(error)
    _record(world.Get_rank(), result)
    if result["kind"] != "passed":
        world.Abort(1)
        os._exit(1)  # Abort may return while another rank's Abort is ending the job


def _record(rank: int, result: dict) -> None:
    path = Path(os.environ[FOLDER_VARIABLE]) / f"result-{rank}.json"
    # Whole or not at all: another rank's Abort can end this one at any moment.
    path.with_suffix(".part").write_text(json.dumps(result), encoding="utf-8")
    path.with_suffix(".part").replace(path)


def _describe_error(error: BaseException) -> dict:
    """kind (todo, failed, error), the exception's type and message, and where it came from."""
    from grading.classify import EXERCISE_STUB, _is_grader, _is_learner_module

    frames = traceback.extract_tb(error.__traceback__)
    message = str(error).strip()
    first_line = (message.splitlines() or [""])[0]
    learner = [f for f in frames if _is_learner_module(Path(f.filename).resolve())]
    grader = [f for f in frames if _is_grader(Path(f.filename).resolve())]
    raised_by_learner = bool(frames) and _is_learner_module(Path(frames[-1].filename).resolve())
    if isinstance(error, NotImplementedError) and EXERCISE_STUB.match(first_line):
        kind = "todo"
    elif isinstance(error, AssertionError) and not raised_by_learner:
        kind = "failed"
    else:
        kind = "error"
    where = []
    if learner:
        frame = learner[-1]
        where.append(
            f"at {_relative(frame.filename)}:{frame.lineno} in {frame.name}: `{frame.line}`"
        )
    if grader and kind == "error":
        where.append(f"the grader called `{grader[-1].line}`")
    return {"kind": kind, "type": type(error).__name__, "message": message, "where": where}


def _relative(filename: str) -> str:
    from grading.manifest import ROOT

    path = Path(filename).resolve()
    with contextlib.suppress(ValueError):
        return path.relative_to(ROOT).as_posix()
    return path.as_posix()


def raise_for(job: Job, limit_s: float) -> None:
    """In the grader: nothing when every rank passed its check; otherwise the exception that
    tells what went wrong, on which rank (the lowest one that failed), and where."""
    import pytest

    failed = {rank: r for rank, r in sorted(job.results.items()) if r["kind"] != "passed"}
    if failed:
        rank, result = next(iter(failed.items()))
        on_rank = f"rank {rank} of {job.ranks}"
        if result["kind"] == "todo":
            raise NotImplementedError(result["message"])
        if result["kind"] == "failed":
            pytest.fail(f"{on_rank}: {result['message']}", pytrace=False)
        where = "; ".join([on_rank, *result["where"]])
        first, _, rest = result["message"].partition("\n")
        error_type = type(
            result["type"], (Exception,), {"__module__": "builtins", "where_known": True}
        )
        raise error_type(f"{first} ({where})" + (f"\n{rest}" if rest else ""))
    if job.returncode is None:
        raise Deadlock(job.describe(limit_s))
    if job.returncode != 0 or len(job.results) != job.ranks:
        missing = sorted(set(range(job.ranks)) - set(job.results))
        ended = (
            f", rank(s) {', '.join(map(str, missing))} ended without a result" if missing else ""
        )
        last = job.output.strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"{job.describe(limit_s)}{ended}: {last[0][:200]}")


if __name__ == "__main__":
    _rank_main(sys.argv[1:])
