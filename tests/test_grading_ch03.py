"""Chapter 03's TODO details follow its exercises' dependencies: 3.2 to 3.5 build their
optimizers through 3.1's parameter groups, and AdamW is Adam with another weight decay.
(The planted bugs of chapter 03 live in tests/planted_bugs.py with the others.)"""

from __future__ import annotations

import pytest

from tests.workspace import Planted

pytestmark = pytest.mark.slow

ALL_EXERCISES = [f"3.{n}" for n in range(1, 8)]
WAITING_ON_BASE = "waiting on Exercise 3.1: Parameter groups and zero_grad"


def test_todo_details_follow_the_dependencies(workspace):
    grades = workspace("03").grade()
    assert grades.statuses == dict.fromkeys(ALL_EXERCISES, "TODO"), grades.details
    assert grades.earned == 0
    for exercise in ("3.1", "3.6", "3.7"):  # graded without the base class
        assert grades.details[exercise] == "not started", grades.details
    for exercise in ("3.2", "3.3", "3.4", "3.5"):  # their optimizers are built by 3.1's code
        assert grades.details[exercise] == WAITING_ON_BASE, grades.details
    assert "Chapter 03: Optimizers" in grades.output and "total: 0/100 points" in grades.output


def test_adamw_waits_on_adam(workspace):
    """A learner who has not written Adam yet sees AdamW as waiting on it, not failing."""
    ws = workspace("03")
    ws.use_answer_key()
    ws.plant(
        Planted(
            "3.3",
            "Adam's update not written yet",
            "optim.py",
            '        beta1, beta2 = group["betas"]\n',
            '        raise NotImplementedError("Exercise 3.3: Adam")\n',
        )
    )
    grades = ws.grade()
    assert grades.statuses["3.3"] == grades.statuses["3.4"] == "TODO", grades.details
    assert grades.details["3.3"] == "not started"
    assert grades.details["3.4"] == "waiting on Exercise 3.3: Adam"
    assert [s for e, s in grades.statuses.items() if e not in {"3.3", "3.4"}] == ["PASS"] * 5
