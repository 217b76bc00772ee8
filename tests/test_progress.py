"""`python -m kindling progress` and `python -m kindling reset NN`, run in throwaway copies
of the course; and the pristine stubs they restore match the stubs in the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grading import pristine, progress, reset
from grading.manifest import chapter_numbers

ROOT = Path(__file__).resolve().parent.parent


def test_the_pristine_archive_holds_the_stubs_as_they_are_here():
    for chapter in chapter_numbers():
        for path in pristine.stub_paths(chapter):
            assert pristine.read(path) == (ROOT / path).read_text(encoding="utf-8"), (
                f"{path} differs from grading/pristine-stubs.zip: after changing a stub, "
                "run `python -m grading.pristine --update`"
            )


def course_copy(tmp_path: Path, chapters: list[str]) -> Path:
    root = tmp_path / "course"
    ignore = shutil.ignore_patterns("*.pyc", "*.bak")
    for folder in ("kindling", "solutions", "grading"):
        shutil.copytree(ROOT / folder, root / folder, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "chapters").mkdir()
    shutil.copy(ROOT / "chapters" / "conftest.py", root / "chapters" / "conftest.py")
    for chapter in chapters:
        shutil.copytree(ROOT / "chapters" / chapter, root / "chapters" / chapter, ignore=ignore)
    return root


def kindling_command(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "KINDLING_IMPL"}
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [sys.executable, "-m", "kindling", *args], cwd=root, env=env, input=stdin,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(300)  # grades chapters in subprocesses: up to 21 s under load
def test_progress_grades_each_chapter_and_names_the_next_exercise(tmp_path):
    root = course_copy(tmp_path, ["02", "03"])
    shutil.copy(ROOT / "solutions" / "optim.py", root / "chapters" / "03" / "optim.py")
    done = kindling_command(root, "progress")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert re.search(r"^02 Modules and losses\s+0/9\s+0/100\s+[\d.]+ s  2\.1 Registration by assignment \(TODO\)$",
                     done.stdout, re.MULTILINE), done.stdout  # fmt: skip
    assert re.search(r"^03 Optimizers\s+7/7\s+100/100\s+[\d.]+ s  done$", done.stdout, re.M), lines
    assert re.search(r"^  03 Optimizers: 7/7 in [\d.]+ s$", done.stdout, re.MULTILINE), lines
    assert re.search(r"^total\s+100/200$", done.stdout, re.MULTILINE), lines
    assert "next: Exercise 2.1, Registration by assignment (TODO: not started)" in done.stdout
    assert "grade it with: pytest chapters/02" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)  # grades chapters in subprocesses: up to 21 s under load
def test_progress_shows_a_failing_exercise(tmp_path):
    root = course_copy(tmp_path, ["03"])
    optim = root / "chapters" / "03" / "optim.py"
    answer = (ROOT / "solutions" / "optim.py").read_text(encoding="utf-8")
    buggy = answer.replace("bias_correction2 = 1 - beta2**step", "bias_correction2 = 1")
    assert buggy != answer
    optim.write_text(buggy, encoding="utf-8")
    done = kindling_command(root, "progress", "03")
    assert done.returncode == 0, done.stderr[-3000:]
    row = re.search(r"^03 Optimizers\s+(\d)/7\s+(\d+)/100\s+[\d.]+ s  (\S+) (.*) \(FAIL\)$",
                    done.stdout, re.M)  # fmt: skip
    assert row and int(row[1]) < 7, done.stdout
    assert f"next: Exercise {row[3]}, {row[4]} (FAIL: " in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)  # grades chapters in subprocesses: up to 21 s under load
def test_progress_regrades_only_what_changed(tmp_path):
    root = course_copy(tmp_path, ["02", "03"])
    first = kindling_command(root, "progress")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "grading 02, 03, each in isolation" in first.stdout
    assert "cached" not in first.stdout

    again = kindling_command(root, "progress")  # nothing changed: nothing graded
    assert "grading" not in again.stdout.splitlines()[0], again.stdout
    assert re.search(r"^02 Modules and losses\s+0/9\s+0/100\s+cached  2\.1", again.stdout, re.M)
    assert re.search(r"^03 Optimizers\s+0/7\s+0/100\s+cached  3\.1", again.stdout, re.M)
    assert "cached: unchanged since it was graded" in again.stdout

    shutil.copy(ROOT / "solutions" / "optim.py", root / "chapters" / "03" / "optim.py")
    changed = kindling_command(root, "progress")  # only chapter 03 is graded again
    assert "grading 03, each in isolation" in changed.stdout, changed.stdout
    assert re.search(r"^02 Modules and losses\s+0/9\s+0/100\s+cached", changed.stdout, re.M)
    assert re.search(r"^03 Optimizers\s+7/7\s+100/100\s+[\d.]+ s  done$", changed.stdout, re.M)

    # A change to what grades every chapter (here, the answer key) grades them all again.
    (root / "solutions" / "optim.py").write_text(
        (root / "solutions" / "optim.py").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )
    everything = kindling_command(root, "progress")
    assert "grading 02, 03, each in isolation" in everything.stdout, everything.stdout
    fresh = kindling_command(root, "progress", "--no-cache")
    assert "grading 02, 03, each in isolation" in fresh.stdout, fresh.stdout


def test_the_fingerprint_follows_files_versions_and_settings(tmp_path, monkeypatch):
    root = course_copy(tmp_path, ["03"])
    before = progress.fingerprint("03", root)
    assert progress.fingerprint("03", root) == before
    (root / "chapters" / "03" / "optim.py.2026-01-01T00-00-00.bak").write_text("# a backup\n")
    assert progress.fingerprint("03", root) == before  # reset's backups do not count
    monkeypatch.setenv("KINDLING_DEVICE", "cuda")
    assert progress.fingerprint("03", root) != before
    monkeypatch.delenv("KINDLING_DEVICE")
    (root / "chapters" / "03" / "test_optim.py").write_text("# other graders\n")
    assert progress.fingerprint("03", root) != before


def test_reset_restores_the_stub_and_keeps_the_learners_file(tmp_path):
    root = course_copy(tmp_path, ["03"])
    optim = root / "chapters" / "03" / "optim.py"
    mine = optim.read_text(encoding="utf-8").replace(
        "raise NotImplementedError", "return None  #", 1
    )
    optim.write_text(mine, encoding="utf-8")

    refused = kindling_command(root, "reset", "03")  # no terminal, no --yes: nothing happens
    assert "run it again with --yes" in refused.stdout
    assert refused.returncode == 1, "a reset that changed nothing must exit non-zero"
    assert optim.read_text(encoding="utf-8") == mine

    confirmed = kindling_command(root, "reset", "03", "--yes")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "restored chapters/03/optim.py" in confirmed.stdout
    assert optim.read_text(encoding="utf-8") == pristine.read("chapters/03/optim.py")
    backups = list(optim.parent.glob("optim.py.*.bak"))
    assert len(backups) == 1 and backups[0].read_text(encoding="utf-8") == mine
    assert f"yours is kept as {backups[0].name}" in confirmed.stdout

    again = kindling_command(root, "reset", "03", "--yes")
    assert "already holds the stubs as shipped: nothing to reset" in again.stdout
    assert again.returncode == 1, "a reset that changed nothing must exit non-zero"


def test_reset_asks_and_a_no_changes_nothing(tmp_path, monkeypatch):
    root = course_copy(tmp_path, ["03"])
    optim = root / "chapters" / "03" / "optim.py"
    optim.write_text("# my work\n", encoding="utf-8")
    questions: list[str] = []
    said: list[str] = []

    def answer_no(question: str) -> bool:
        questions.append(question)
        return False

    assert reset.reset("03", answer_no, root=root, say=said.append) == reset.Outcome()
    assert "chapters/03/optim.py" in questions[0] and questions[0].endswith("Continue? [y/N] ")
    assert said == ["Nothing was changed."]
    assert optim.read_text(encoding="utf-8") == "# my work\n"
    done = reset.reset("03", lambda question: True, root=root, say=said.append)
    assert done.restored == ["chapters/03/optim.py"]
    assert [b.read_text(encoding="utf-8") for b in done.backups] == ["# my work\n"]


def test_resets_in_the_same_second_never_overwrite_a_backup(tmp_path, monkeypatch):
    """Backups are named by the second: a second reset in that second must not replace the first's."""
    root = course_copy(tmp_path, ["03"])
    optim = root / "chapters" / "03" / "optim.py"
    monkeypatch.setattr(reset.time, "strftime", lambda pattern: "2026-01-01T00-00-00")
    (optim.parent / "optim.py.2026-01-01T00-00-00-2.bak").write_text("# older\n")  # taken
    versions = ["# first attempt\n", "# second attempt\n", "# third attempt\n"]
    backups = []
    for version in versions:
        optim.write_text(version, encoding="utf-8")
        backups += reset.reset("03", lambda question: True, root=root, say=print).backups
    assert [b.name for b in backups] == [
        "optim.py.2026-01-01T00-00-00.bak",
        "optim.py.2026-01-01T00-00-00-3.bak",
        "optim.py.2026-01-01T00-00-00-4.bak",
    ]
    assert [b.read_text(encoding="utf-8") for b in backups] == versions
    assert (optim.parent / "optim.py.2026-01-01T00-00-00-2.bak").read_text() == "# older\n"


def test_a_backup_name_taken_meanwhile_is_skipped_not_overwritten(tmp_path, monkeypatch):
    """Between choosing a free name and writing it, another reset may take it."""
    mine, theirs = tmp_path / "optim.py", tmp_path / "optim.py.stamp.bak"
    mine.write_text("# mine\n")
    choose = reset.free_backup_name

    def race(file, stamp):
        name = choose(file, stamp)
        if not theirs.exists():
            theirs.write_text("# the other reset's\n")  # taken just after being chosen
        return name

    monkeypatch.setattr(reset, "free_backup_name", race)
    backup = reset.keep_a_copy(mine, "stamp")
    assert backup.name == "optim.py.stamp-2.bak" and backup.read_text() == "# mine\n"
    assert theirs.read_text() == "# the other reset's\n"


@pytest.mark.parametrize("interruption", [EOFError, KeyboardInterrupt])
def test_end_of_input_or_ctrl_c_at_the_prompt_is_a_no(interruption):
    said: list[str] = []

    def read_answer(question: str) -> str:
        raise interruption

    answer = reset.ask_in_terminal(
        "Reset?\nContinue? [y/N] ", False, lambda: True, read_answer, said.append
    )
    assert answer is False and said == [""]


def test_yes_and_no_at_the_prompt():
    def ask(typed: str) -> bool:
        return reset.ask_in_terminal("Continue? [y/N] ", False, lambda: True, lambda q: typed)

    assert [ask(typed) for typed in ("y", " YES\n", "", "n", "yep")] == [
        True, True, False, False, False,
    ]  # fmt: skip


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal (POSIX)")
@pytest.mark.parametrize(
    "key",
    [
        "Ctrl-D",
        pytest.param("Ctrl-C", marks=pytest.mark.skipif(
            not sys.platform.startswith("linux"), reason="waits for the read via /proc (Linux)"
        )),
    ],
)  # fmt: skip
def test_reset_at_a_terminal_treats_ctrl_d_and_ctrl_c_as_no(tmp_path, key):
    root = course_copy(tmp_path, ["03"])
    optim = root / "chapters" / "03" / "optim.py"
    optim.write_text("# my work\n", encoding="utf-8")
    done = reset_at_a_terminal(root, key)
    assert "Traceback" not in done.stderr, done.stderr
    assert "Nothing was changed." in done.stdout, done.stdout
    assert done.returncode == 1
    assert optim.read_text(encoding="utf-8") == "# my work\n"
    assert list(optim.parent.glob("*.bak")) == []


def wait_until_it_reads_its_terminal(pid: int) -> None:
    """Return once process `pid` is blocked in read(0, ...) (Linux: /proc/PID/syscall).

    A SIGINT that lands after the prompt is written but before the read starts is
    only seen at the next line typed: a person is never that fast, a test is.
    """
    read_syscalls = {"0", "63"}  # read() on x86-64 and on arm64
    while True:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
        if fields[0] in read_syscalls and fields[1] == "0x0":
            return
        time.sleep(0.01)


def reset_at_a_terminal(root: Path, key: str) -> subprocess.CompletedProcess:
    """`python -m kindling reset 03` with a pseudo-terminal as stdin; at the prompt the
    learner presses Ctrl-D (end of input) or Ctrl-C (SIGINT, as the terminal sends it)."""
    import pty
    import signal

    def as_in_a_terminal() -> None:  # a background job may have inherited SIGINT ignored
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    env = {name: value for name, value in os.environ.items() if name != "KINDLING_IMPL"}
    env["PYTHONPATH"] = str(root)
    terminal, stdin = pty.openpty()
    command = [sys.executable, "-m", "kindling", "reset", "03"]
    process = subprocess.Popen(
        command, cwd=root, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=as_in_a_terminal,
    )  # fmt: skip
    os.close(stdin)
    try:
        shown = b""
        while not shown.endswith(b"[y/N] "):  # wait for the prompt (or the end of output)
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            shown += chunk
        if key == "Ctrl-C":
            wait_until_it_reads_its_terminal(process.pid)
            process.send_signal(signal.SIGINT)
        else:
            os.write(terminal, b"\x04")  # Ctrl-D on an empty line: end of input
        out, err = process.communicate(timeout=120)  # a hang guard, not a time limit
    finally:
        process.kill()  # no-op once it has exited; never leave a reader of the pty behind
        process.wait()
        os.close(terminal)
    return subprocess.CompletedProcess(command, process.returncode, (shown + out).decode(),
                                       err.decode())  # fmt: skip


def test_unknown_chapters_are_refused():
    done = kindling_command(ROOT, "reset", "09", "--yes")
    assert done.returncode == 2 and "invalid choice: '09'" in done.stderr
