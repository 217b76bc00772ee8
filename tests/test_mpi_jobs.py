"""grading/mpi.py: an MPI job that deadlocks ends at its limit, naming who waited where."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from grading import mpi
from tests.planted_bugs import CHAPTER_07

# A job that ends by itself takes under a second (2-core EPYC), a stuck one LIMIT_S + GRACE_S.
# The ranks start (Python, NumPy, MPI) in about 0.5 s: well inside LIMIT_S, so the watchdog
# finds them waiting where the test says, not still starting, on a machine 5 times slower.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
LIMIT_S = 5.0
ENDS_S = 60.0  # the limit of the jobs that end by themselves
HEADER = """\
import numpy as np
from mpi4py import MPI

world = MPI.COMM_WORLD
rank, size = world.Get_rank(), world.Get_size()
"""


@pytest.fixture(autouse=True)
def needs_mpi():
    if (reason := mpi.missing()) is not None:
        pytest.skip(reason)


def job(tmp_path: Path, ranks: int, body: str, limit_s: float = LIMIT_S) -> mpi.Job:
    script = tmp_path / "job.py"
    script.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return mpi.run(ranks, [str(script)], limit_s, cwd=tmp_path)


def test_a_job_that_ends_reports_its_output(tmp_path):
    done = job(tmp_path, 3, "print(f'rank {rank} of {size}', flush=True)\n", ENDS_S)
    assert done.returncode == 0, done.output
    assert all(f"rank {r} of 3" in done.output for r in range(3)), done.output
    assert done.stuck == {}


def test_an_exception_is_an_exit_code_not_a_deadlock(tmp_path):
    done = job(tmp_path, 2, "if rank == 1:\n    raise ValueError('planted')\n", ENDS_S)
    assert done.returncode not in (0, None)
    assert "ValueError: planted" in done.output
    assert done.stuck == {}


def test_a_receive_without_its_send_names_the_waiting_ranks(tmp_path):
    body = """\
    buffer = np.zeros(4)
    if rank != 0:
        world.Recv(buffer, source=0)  # rank 0 never sends
    """
    stuck = job(tmp_path, 3, body)
    assert stuck.returncode is None
    assert sorted(stuck.stuck) == [1, 2]
    assert (
        stuck.stuck[1]
        == "job.py:8 in <module> (world.Recv(buffer, source=0)  # rank 0 never sends)"
    )
    message = stuck.describe(LIMIT_S)
    assert "rank 1 at job.py:8" in message and "rank 2 at job.py:8" in message, message
    assert "rank(s) 0 had finished" in message, message


def test_every_rank_sending_first_deadlocks_on_large_messages(tmp_path):
    """A ring written with blocking Send before Recv: small messages slip through MPI's
    buffers, 8 MB ones wait for their receive, which never starts."""
    body = """\
    out, into = np.ones(1 << 20), np.empty(1 << 20)
    world.Send(out, dest=(rank + 1) % size)
    world.Recv(into, source=(rank - 1) % size)
    """
    stuck = job(tmp_path, 2, body)
    assert stuck.returncode is None
    assert {rank: where.split(" (")[0] for rank, where in stuck.stuck.items()} == {
        0: "job.py:7 in <module>",
        1: "job.py:7 in <module>",
    }


def test_chapter_07_without_mpi_says_what_to_install(workspace):
    """Where MPI is missing, the exercises that need a job are NOT RUN, each saying what to
    install, and earn nothing: 7.2's chunk_bounds passing does not give 7.2 its points."""
    ws = workspace("07")
    ws.use_answer_key()
    hidden = ws.root / "mpi4py"  # found first on the path: `import mpi4py` fails as without it
    hidden.mkdir()
    (hidden / "__init__.py").write_text('raise ImportError("mpi4py hidden by the test")\n')
    grades = ws.grade()
    assert grades.statuses == {
        "7.1": "NOT RUN", "7.2": "NOT RUN", "7.3": "NOT RUN",
        "7.4": "PASS", "7.5": "NOT RUN", "7.6": "NOT RUN",
    }, grades.details  # fmt: skip
    for exercise, status in grades.statuses.items():
        if status == "NOT RUN":
            assert grades.details[exercise].startswith(
                "MPI is not installed: pip install mpi4py mpich"
            )
    assert grades.earned == 15


def test_an_error_on_a_rank_names_the_rank_the_line_and_the_graders_call(workspace):
    """What the score table says when a learner's code raises on a rank of a grader's job."""
    bug = next(b for b in CHAPTER_07 if b.name == "broadcast hands MPI the Tensor, not its array")
    ws = workspace("07")
    ws.use_answer_key()
    ws.plant(bug)
    grades = ws.grade()
    assert grades.statuses["7.1"] == "ERROR"
    detail = grades.details["7.1"]
    assert detail.startswith("TypeError: "), detail
    # Whichever rank raised first ends the job: every rank raises here.
    assert re.search(r"\(rank [0-3] of 4; at chapters/07/distributed\.py:\d+ ", detail), detail
    assert "in broadcast: `_group().Bcast(tensor, root=src)`" in detail, detail
    assert detail.endswith("; the grader called `my_dist.broadcast(tensor, src=size - 1)`)"), detail
