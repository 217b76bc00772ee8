"""Chapter 07's code runs as an MPI job: P processes, started together by `mpiexec`.

A mistake there often ends in a deadlock rather than an exception: a send whose receive
never comes, a collective one rank skips. Such a job waits forever, so each rank runs under
a watchdog,

    python -m grading.mpi LIMIT_S FOLDER <what python would run: -m module ... or file ...>

which, when the rank is still running after LIMIT_S, writes where each of its threads is
(Python's faulthandler, which reads the frames even while the rank waits inside MPI) to
FOLDER/stuck-RANK.txt. `run` then ends the job and reports the ranks that were stuck, each
with the line it was waiting on.
"""

from __future__ import annotations

import contextlib
import faulthandler
import linecache
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Where the launcher tells each process its rank (MPICH and Intel MPI, Open MPI, PMIx).
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
# After the limit: time for every stuck rank to write where it is, before the job is ended.
GRACE_S = 3.0
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


@dataclass
class Job:
    """How an MPI job ended: its exit code (None: ended at its time limit), what its ranks
    printed, and for each rank still running at the limit, where it was waiting."""

    ranks: int
    returncode: int | None
    output: str
    stuck: dict[int, str] = field(default_factory=dict)

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
        command = [launcher, "-n", str(ranks), sys.executable, "-m", "grading.mpi"]
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
    return Job(ranks, returncode, output, stuck if returncode is None else {})


def _end(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()


FRAME = re.compile(r'^\s+File "(?P<file>.+)", line (?P<line>\d+) in (?P<function>\S+)')


def where_waiting(dump: str, root: Path) -> str:
    """The innermost frame of the main thread in a faulthandler dump, as `file:line in
    function (the line's code)`. The main thread is the one that started here (_rank_main)."""
    threads = [
        [match for line in block.splitlines() if (match := FRAME.match(line))]
        for block in re.split(r"\n(?=\S)", dump.strip())
    ]
    threads = [frames for frames in threads if frames]
    main = [f for f in threads if Path(f[-1]["file"]).parts[-2:] == ("grading", "mpi.py")]
    frames = (main or threads or [[]])[0]
    return _describe(frames[0], root) if frames else "an unknown place (no Python frame)"


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
    rank = next((os.environ[name] for name in RANK_VARIABLES if name in os.environ), "0")
    dump = open(Path(folder) / f"stuck-{int(rank)}.txt", "w")  # noqa: SIM115 (read by run)
    faulthandler.dump_traceback_later(float(limit_s), file=dump)
    try:
        if target[0] == "-m":
            sys.argv = target[1:]
            runpy.run_module(target[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = target
            runpy.run_path(target[0], run_name="__main__")
    finally:
        faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    _rank_main(sys.argv[1:])
