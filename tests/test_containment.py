"""A grading run always ends in the score table, with the right total.

Each case puts one bad thing in the learner's `clip_grad_norm_` (Exercise 3.7, 10 of
chapter 03's 100 points) in a copy of the answer key: that exercise is an ERROR that says
why, every other exercise passes, the total is 90/100, and the run ends in time. Then the
environment: a KINDLING_IMPL left in the shell, NUMBA_ENABLE_CUDASIM=0 with no GPU, and
--grade-json into a folder that does not exist yet or cannot exist; and `python -m kindling
progress` when a chapter's grading dies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from grading import plugin, progress
from tests.workspace import Workspace

# The start of clip_grad_norm_'s body in the answer key, where each bad thing goes.
BODY = "    (torch returns a 0-d tensor); 0.0 when no parameter has a gradient.\n    " + '"""\n'
# Compiled helpers a learner file may define: Numba runs them as machine code, where no
# Python-level timeout or exception can reach.
NUMBA_HELPERS = """

import numba


@numba.njit(boundscheck=False)
def _scribble(a):
    a[10**12] = 1.0  # far outside the array: a segfault, not an IndexError


@numba.njit
def _spin(a):
    while a[0] >= 0.0:  # a[0] stays 0: it never ends, and its stores keep it from being removed
        a[1] += 1.0
    return a[1]
"""
CHAPTER_03_POINTS = 100
EXERCISE_POINTS = 10  # Exercise 3.7


@dataclass
class Run:
    statuses: dict[str, str]
    details: dict[str, str]
    earned: int
    output: str
    returncode: int
    seconds: float


def grade(
    ws: Workspace, *options: str, env: dict[str, str] | None = None, target: str = "chapters/03"
) -> Run:
    """`pytest <target>` in the workspace, in a subprocess, with the given environment."""
    result_file = ws.root / "grades.json"
    environment = {k: v for k, v in os.environ.items() if k != "KINDLING_IMPL"}
    environment.update(env or {})
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", target, "-q", "--grade-json", str(result_file),
         *options],
        cwd=ws.root, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    seconds = time.monotonic() - start
    output = done.stdout + done.stderr
    assert result_file.exists(), f"grading wrote no JSON; pytest said:\n{output[-4000:]}"
    chapter = json.loads(result_file.read_text(encoding="utf-8"))["chapters"][ws.chapter]
    return Run(
        statuses={e["id"]: e["status"] for e in chapter["exercises"]},
        details={e["id"]: e["detail"] for e in chapter["exercises"]},
        earned=chapter["earned"],
        output=output,
        returncode=done.returncode,
        seconds=seconds,
    )


def answer_key_with(ws: Workspace, bad_code: str, helpers: str = "") -> Workspace:
    """The answer key in chapters/03, with `bad_code` at the start of clip_grad_norm_."""
    ws.use_answer_key()
    optim = ws.chapter_dir / "optim.py"
    text = optim.read_text(encoding="utf-8")
    assert text.count(BODY) == 1, "clip_grad_norm_'s docstring changed: update BODY"
    optim.write_text(text.replace(BODY, BODY + bad_code) + helpers, encoding="utf-8")
    return ws


def assert_only_3_7_errs(run: Run, *reason: str) -> None:
    others = {e: s for e, s in run.statuses.items() if e != "3.7"}
    assert others == dict.fromkeys(others, "PASS"), (run.details, run.output[-3000:])
    assert run.statuses["3.7"] == "ERROR", (run.details["3.7"], run.output[-3000:])
    for words in reason:
        assert words in run.details["3.7"], (run.details["3.7"], run.output[-3000:])
    assert run.earned == CHAPTER_03_POINTS - EXERCISE_POINTS
    assert f"total: {run.earned}/{CHAPTER_03_POINTS} points" in run.output, run.output[-3000:]
    assert run.returncode == 1, run.output[-3000:]


CASES = {
    "os._exit": ("    import os\n\n    os._exit(1)\n", "", ["exited with status 1", "os._exit"]),
    "segfault in a Numba kernel": (
        "    _scribble(np.zeros(4))\n",
        NUMBA_HELPERS,
        ["signal 11", "out-of-bounds"],
    ),
    "thread left running": (
        "    import threading\n    import time\n\n"
        "    threading.Thread(target=time.sleep, args=(3600,), name='sleeper').start()\n",
        "",
        ["ThreadLeftRunning", "sleeper", "daemon=True"],
    ),
    "KeyboardInterrupt": (
        "    raise KeyboardInterrupt\n",
        "",
        ["KeyboardInterrupt", "chapters/03/optim.py"],
    ),
    "20 GiB allocation": (
        "    np.ones(20 * 2**30, dtype=np.uint8)\n",
        "",
        ["MemoryError", "chapters/03/optim.py"],
    ),
    "10 MB of printing": ("    print('x' * 10_000_000)\n", "", ["printed 10.0 MB"]),
}


# Each of exercise 3.7's tests starts a thread: 20 s when each waited a second for it, 2 s
# now that only the first does (grading/worker.py), still with the slow tests for the rest.
SLOW_CASES = {"thread left running"}


@pytest.mark.timeout(200)  # each took 8 to 30 s on a busy 2-core machine
@pytest.mark.parametrize(
    "case",
    [pytest.param(case, marks=pytest.mark.slow if case in SLOW_CASES else ()) for case in CASES],
)
def test_a_bad_exercise_is_one_error_row_and_the_rest_is_graded(workspace, case):
    bad_code, helpers, reason = CASES[case]
    run = grade(answer_key_with(workspace("03"), bad_code, helpers))
    assert_only_3_7_errs(run, *reason)
    assert len(run.output) < 200_000, "the printing reached the terminal"


@pytest.mark.slow  # about 20 s
@pytest.mark.timeout(150)
def test_an_endless_loop_in_a_numba_kernel_is_killed_after_its_time_limit(workspace):
    ws = answer_key_with(workspace("03"), "    _spin(np.zeros(2))\n", NUMBA_HELPERS)
    run = grade(ws, env={"KINDLING_TIMEOUT": "4"})  # killed at 4 s + a grace of 6 s
    assert_only_3_7_errs(run, "Timeout", "still running", "Numba")
    assert run.seconds < 60, f"the run took {run.seconds:.0f} s"


@pytest.mark.slow  # 20 to 40 s: chapter 05, graded by two workers side by side
@pytest.mark.timeout(300)
def test_a_crash_in_the_second_worker_costs_its_exercise_only(workspace):
    """Chapter 05's simulator graders run in a second worker beside the first (see
    grading/supervisor.py): a crash there is contained as in the first, and the output reads
    as from one process, one file after the other."""
    ws = workspace("05")
    ws.use_answer_key()
    gpu = ws.chapter_dir / "gpu.py"
    start = (
        '    """alpha * x + y for two 1-D float32 arrays of one length, computed on the GPU."""\n'
    )
    text = gpu.read_text(encoding="utf-8")
    assert text.count(start) == 1, "scale_add's docstring changed: update the test"
    gpu.write_text(text.replace(start, start + "    import os\n\n    os._exit(1)\n"), "utf-8")
    run = grade(ws, "-v", target="chapters/05")  # -q -v: pytest's default output, by file
    others = {e: s for e, s in run.statuses.items() if e != "5.10"}
    assert others == dict.fromkeys(others, "PASS"), (run.details, run.output[-3000:])
    assert run.statuses["5.10"] == "ERROR" and "exited with status 1" in run.details["5.10"]
    assert "total: 95/100 points" in run.output, run.output[-3000:]
    progress = [line for line in run.output.splitlines() if line.endswith("%]")]
    files = [line.split()[0] for line in progress if line.startswith("chapters/")]
    assert files == ["chapters/05/test_cnn.py", "chapters/05/test_gpu.py"], run.output[-3000:]


@pytest.mark.timeout(120)
def test_a_syntax_error_names_the_file_and_line(workspace):
    ws = workspace("03")
    ws.use_answer_key()
    optim = ws.chapter_dir / "optim.py"
    text = optim.read_text(encoding="utf-8").rstrip("\n") + "\n\n\ndef broken(:\n"
    optim.write_text(text, encoding="utf-8")
    run = grade(ws)
    reason = f"optim.py does not import: SyntaxError at line {text.count(chr(10))}"
    assert run.details == dict.fromkeys(run.details, reason), run.output[-3000:]
    assert set(run.statuses.values()) == {"ERROR"} and run.earned == 0
    assert reason in run.output and run.returncode != 0


@pytest.mark.slow  # about 20 s: every stub's test runs
@pytest.mark.timeout(120)
def test_kindling_impl_in_the_environment_does_not_change_the_grade(workspace):
    run = grade(workspace("03"), env={"KINDLING_IMPL": "reference"})  # pristine stubs
    assert set(run.statuses.values()) == {"TODO"} and run.earned == 0, run.details
    assert "total: 0/100 points" in run.output
    assert (
        "KINDLING_IMPL=reference in your environment is ignored while grading "
        "(use --reference or --own-stack" in run.output
    ), run.output[-3000:]
    assert run.returncode == 1


@pytest.mark.skipif(plugin._has_nvidia_driver(), reason="this computer has an NVIDIA driver")
@pytest.mark.timeout(120)
def test_cuda_off_without_a_gpu_makes_the_cuda_rows_error_with_the_reason(workspace):
    ws = workspace("05")
    run = grade(ws, env={"NUMBA_ENABLE_CUDASIM": "0"}, target="chapters/05/test_gpu.py")
    cuda = {"5.10", "5.11", "5.12", "5.13"}
    assert {run.statuses[e] for e in cuda} == {"ERROR"}, run.details
    for exercise in cuda:
        assert run.details[exercise] == plugin.CUDA_MISSING_REASON, run.details[exercise]
    assert f"CUDA exercises: {plugin.CUDA_MISSING_REASON}" in run.output
    assert "no NVIDIA GPU found (NUMBA_ENABLE_CUDASIM=0)" in plugin.CUDA_MISSING_REASON


@pytest.mark.timeout(120)
def test_grade_json_creates_its_folder_or_says_why_it_cannot(workspace, tmp_path):
    ws = answer_key_with(workspace("03"), "")
    nested = tmp_path / "new" / "folder" / "grades.json"
    environment = {k: v for k, v in os.environ.items() if k != "KINDLING_IMPL"}
    command = [sys.executable, "-m", "pytest", "chapters/03", "-q", "-k", "zero_grad"]
    done = subprocess.run(
        [*command, "--grade-json", str(nested)],
        cwd=ws.root, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads(nested.read_text(encoding="utf-8"))["chapters"]["03"]["total"] == 100

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    refused = subprocess.run(
        [*command, "--grade-json", str(blocker / "grades.json")],
        cwd=ws.root, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert f"--grade-json {blocker / 'grades.json'}: cannot create the folder" in said, said
    assert "Traceback" not in said, said


@pytest.mark.timeout(120)
def test_progress_shows_a_crashed_chapter_and_grades_the_others(tmp_path):
    root = tmp_path / "course"
    Workspace(root, "03")  # the pristine stubs
    broken = root / "chapters" / "07"  # a chapter whose pytest run ends before any grade
    broken.mkdir()
    (broken / "exercises.toml").write_text(
        'chapter = "07"\ntitle = "Broken"\nmodules = []\nbook = "x.md"\n'
        '[[exercise]]\nid = "7.1"\ntitle = "t"\npoints = 5\nhint = "h"\n',
        encoding="utf-8",
    )
    (broken / "conftest.py").write_text("raise RuntimeError('broken on purpose')\n")
    rows = progress.progress(["03", "07"], root=root)
    assert [row.crashed for row in rows] == ["", rows[1].crashed] and rows[1].crashed
    assert rows[0].next_up is not None and rows[0].next_up["status"] == "TODO"
    table = progress.render(rows)
    assert "crashed: " in table and "broken on purpose" in rows[1].crashed, table

    stopped = progress.grade("03", root=root, limit_s=0.5)  # far too little to grade
    assert stopped.crashed == "grading took longer than 0.5 s, so it was stopped"


@pytest.mark.timeout(120)
def test_the_process_you_start_never_imports_your_code(workspace):
    """Only the worker imports the chapter's files: what they do cannot take the table down."""
    ws = answer_key_with(workspace("03"), "")
    optim = ws.chapter_dir / "optim.py"
    record = "\n\nimport os\n\nwith open('imported-by.txt', 'a') as f:\n    f.write(f'{os.getpid()}\\n')\n"
    optim.write_text(optim.read_text(encoding="utf-8") + record, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k != "KINDLING_IMPL"}
    pytest_run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "chapters/03", "-q", "-k", "zero_grad"],
        cwd=ws.root, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output, _ = pytest_run.communicate(timeout=60)
    assert pytest_run.returncode == 0, output[-3000:]
    importers = (ws.root / "imported-by.txt").read_text().split()
    assert importers and str(pytest_run.pid) not in importers, output[-3000:]
