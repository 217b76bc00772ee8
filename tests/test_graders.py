"""Every chapter's graders, proven: pristine stubs are all TODO, the answer key gets full
points, and each planted bug (tests/planted_bugs.py) fails the exercise it belongs to."""

from __future__ import annotations

import pytest

from grading.manifest import chapter_numbers, load_chapter
from tests.planted_bugs import PLANTED

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
    grades = ws.grade()
    assert grades.statuses[bug.exercise] in {"FAIL", "ERROR"}, (bug.name, grades.details)
    for exercise, status in grades.statuses.items():
        if exercise not in bug.also_breaks | {bug.exercise}:
            assert status == "PASS", f"{bug.name} also broke {exercise}: {grades.details[exercise]}"
