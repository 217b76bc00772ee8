"""Every chapter's graders, proven: pristine stubs are all TODO, the answer key gets full
points, and each planted bug (tests/planted_bugs.py) fails the exercise it belongs to."""

from __future__ import annotations

import pytest

from grading.manifest import chapter_numbers, load_chapter
from tests.planted_bugs import PLANTED
from tests.workspace import Planted

# Each test grades a copy of a chapter in a subprocess. The other chapters took 3 to 20 s
# each on a 2-core EPYC (the high end with two more processes running beside the suite):
# 300 s leaves more than 5x on a slower machine. Chapter 05 compiles its Numba kernels
# (again, when a bug is planted in them) and runs them with 32 threads to look for races:
# 40 to 70 s there under load, so its own limit is 400 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
CHAPTERS = chapter_numbers()
CHAPTER_05_LIMIT = pytest.mark.timeout(400)


def with_limit(chapter: str, value: object = None, test_id: str | None = None):
    """A parameter for `chapter`, with chapter 05's own time limit."""
    marks = [CHAPTER_05_LIMIT] if chapter == "05" else []
    return pytest.param(chapter if value is None else value, marks=marks, id=test_id)


CHAPTER_PARAMS = [with_limit(chapter) for chapter in CHAPTERS]

# Where a chapter's grader files read different files of it, a bug planted in a file is
# graded by the grader files that read it only. Chapter 05's simulator graders (test_gpu.py)
# read gpu.py and no other file of the chapter; its other graders read all but gpu.py (on
# the CPU, as here: with KINDLING_DEVICE=cuda, Conv2d would call gpu.py's kernels).
# test_grader_files_read_only_their_files proves it: the files a grader file must not read
# end the process when imported, and its exercises still pass.
GRADERS_OF = {
    "05": {"cnn.py": ["test_cnn.py"], "kernels.py": ["test_cnn.py"], "gpu.py": ["test_gpu.py"]},
}
NOT_READ = "import os\nos._exit(71)  # planted: the grader file being proven must not read this\n"


def graders_of(bug: Planted) -> list[str] | None:
    """The grader files that can see `bug` (None: all of the chapter's)."""
    return GRADERS_OF.get(bug.chapter, {}).get(bug.file)


def isolated_grader_files() -> list:
    params = []
    for chapter, readers in GRADERS_OF.items():
        for grader in sorted({name for names in readers.values() for name in names}):
            unread = sorted(file for file, names in readers.items() if grader not in names)
            params.append(with_limit(chapter, (chapter, grader, unread), f"{chapter} {grader}"))
    return params


@pytest.mark.parametrize("chapter", CHAPTER_PARAMS)
def test_pristine_stubs_are_all_todo(workspace, chapter):
    grades = workspace(chapter).grade()
    assert set(grades.statuses.values()) == {"TODO"}, grades.details
    assert grades.earned == 0
    assert f"total: 0/{grades.total} points" in grades.output


@pytest.mark.parametrize("chapter", CHAPTER_PARAMS)
def test_answer_key_gets_full_points(workspace, chapter):
    ws = workspace(chapter)
    ws.use_answer_key()
    grades = ws.grade()
    assert set(grades.statuses.values()) == {"PASS"}, grades.details
    assert grades.earned == grades.total == 100
    exercises = len(load_chapter(chapter).exercises)
    assert f"total: 100/100 points, {exercises} of {exercises} exercises passed" in grades.output


@pytest.mark.parametrize("chapter", CHAPTER_PARAMS)
def test_reference_mode_grades_the_answer_key(workspace, chapter):
    grades = workspace(chapter).grade("--reference")  # stubs untouched, answer key graded
    assert set(grades.statuses.values()) == {"PASS"}, grades.details


def test_every_exercise_has_a_planted_bug():
    planted = {bug.exercise for bug in PLANTED}
    for chapter in CHAPTERS:
        for exercise in load_chapter(chapter).exercises:
            assert exercise.id in planted, f"no planted bug proves the graders of {exercise.id}"


@pytest.mark.parametrize(
    "bug", [with_limit(bug.chapter, bug, test_id=f"{bug.exercise} {bug.name}") for bug in PLANTED]
)
def test_planted_bug_fails_its_exercise(workspace, bug):
    ws = workspace(bug.chapter)
    ws.use_answer_key()
    ws.plant(bug)
    graders = graders_of(bug)
    grades = ws.grade(graders=graders)
    assert grades.statuses[bug.exercise] in {"FAIL", "ERROR"}, (bug.name, grades.details)
    for exercise, status in grades.statuses.items():
        if status == "NOT RUN" and graders is not None:
            assert exercise not in bug.also_breaks, f"{exercise} is graded by none of {graders}"
        elif exercise not in bug.also_breaks | {bug.exercise}:
            assert status == "PASS", f"{bug.name} also broke {exercise}: {grades.details[exercise]}"


@pytest.mark.parametrize("case", isolated_grader_files())
def test_grader_files_read_only_their_files(workspace, case):
    """What lets a planted bug be graded by some grader files only (GRADERS_OF)."""
    chapter, grader, unread = case
    ws = workspace(chapter)
    ws.use_answer_key()
    for file in unread:
        path = ws.chapter_dir / file
        text = path.read_text(encoding="utf-8")
        future = "from __future__ import annotations\n"  # must stay the first statement
        assert text.count(future) == 1, f"{file}: where does its code start?"
        path.write_text(text.replace(future, future + NOT_READ), encoding="utf-8")
    grades = ws.grade(graders=[grader])
    ran = {exercise: status for exercise, status in grades.statuses.items() if status != "NOT RUN"}
    assert ran and set(ran.values()) == {"PASS"}, (grader, unread, grades.details)
    every_file = {path.name for path in ws.chapter_dir.glob("*.py")} - {"conftest.py"}
    graded = {path for path in every_file if not path.startswith("test_")}
    assert graded == set(GRADERS_OF[chapter]), f"GRADERS_OF[{chapter!r}] misses a file"
