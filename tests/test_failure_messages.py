"""A failure can be reproduced and read: small inputs by value, enough digits to tell expected
from got, the gap against the tolerance, the command that writes large inputs out, and an
ERROR that names where it was raised and the grader's call that led there."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from grading.check import assert_same_array, describe, expect_error
from grading.classify import _without_comments
from tests.workspace import Planted


def failure_of(check, *args) -> str:
    with pytest.raises(AssertionError) as caught:
        check(*args)
    return str(caught.value)


def test_small_inputs_are_shown_by_value_and_large_ones_by_shape():
    text = describe(
        {"a": np.array([[0.5, -1.25], [3.0, 4.0]], np.float32), "b": np.zeros((3, 4))}, seed=7
    )
    assert text == "a: (2, 2) float32 = [[0.5, -1.25], [3.0, 4.0]], b: (3, 4) float64; seed 7"


def test_values_that_print_alike_get_more_digits_and_the_gap_is_given():
    expected = np.array([-0.109009], np.float32)
    got = expected + np.float32(3e-5)
    message = failure_of(assert_same_array, got, expected, "out", "x")
    shown = message.split("expected ")[1].split(", off by")[0]
    want, have = shown.split(", got ")
    assert want != have, message
    assert "off by 3e-05 (tolerance 2.1e-05)" in message


def test_a_wrong_dtype_or_shape_is_named_before_any_value():
    expected = np.zeros(3, np.float32)
    assert "has dtype float64, expected float32" in failure_of(
        assert_same_array, np.zeros(3), expected, "out", "x"
    )
    assert "has shape (3, 1), expected (3,)" in failure_of(
        assert_same_array, np.zeros((3, 1), np.float32), expected, "out", "x"
    )


BARE_ASSERT = Planted(
    "3.2", "a bare assert in the learner's code", "optim.py",
    '        momentum, dampening = group["momentum"], group["dampening"]\n',
    '        momentum, dampening = group["momentum"], group["dampening"]\n'
    "        assert momentum < 0.5\n",
)  # fmt: skip
SCALED_STEP = Planted(
    "3.2", "SGD's step 0.03% too long", "optim.py",
    '        param.data -= group["lr"] * grad\n',
    '        param.data -= group["lr"] * grad * 1.0003\n',
)  # fmt: skip


@pytest.mark.slow
def test_an_assert_in_the_learners_code_is_an_error_naming_its_line_and_the_call(workspace):
    ws = workspace("03")
    ws.use_answer_key()
    ws.plant(BARE_ASSERT)
    grades = ws.grade()
    assert grades.statuses["3.2"] == "ERROR", grades.details
    detail = grades.details["3.2"]
    assert detail.startswith("AssertionError (at chapters/03/optim.py:"), detail
    assert "in _update: `assert momentum < 0.5`" in detail, detail
    assert "the grader called `" in detail, detail


@pytest.mark.slow
def test_a_failure_with_large_inputs_gives_the_command_that_writes_them(workspace):
    ws = workspace("03")
    ws.use_answer_key()
    ws.plant(SCALED_STEP)
    grades = ws.grade()
    assert grades.statuses["3.2"] == "FAIL", grades.details
    detail = grades.details["3.2"]
    assert "off by" in detail and "(tolerance" in detail, detail
    command = detail.split("[to see the inputs: ")[1].rstrip("]")
    assert command.startswith('pytest "chapters/03/test_optim.py::') and command.endswith(
        '" --show-inputs'
    ), detail
    nodeid = command.split('"')[1]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", nodeid, "-q", "--show-inputs"],
        cwd=ws.root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "[inputs written to kindling-inputs/" in done.stdout, done.stdout[-3000:]
    written = sorted((ws.root / "kindling-inputs").glob("*.npz"))
    assert len(written) == 1
    with np.load(written[0]) as saved:
        assert saved.files and all(saved[name].size for name in saved.files)


def test_the_graders_call_is_named_without_its_comment():
    statement = (
        "got = mine.clip_grad_norm_(\n    params, 1.0  # a list\n)  # like model.parameters()"
    )
    assert _without_comments(statement) == "got = mine.clip_grad_norm_(\n    params, 1.0\n)"
    assert _without_comments('label = "# not a comment"') == 'label = "# not a comment"'


def test_a_stub_is_not_taken_for_the_runtime_error_a_grader_expects():
    """NotImplementedError is a RuntimeError: a grader expecting a RuntimeError from an
    exercise whose stub is not written yet must see TODO (the stub's error), not FAIL."""

    def stub() -> None:
        raise NotImplementedError("Exercise 1.3: The backward pass")

    def checked() -> None:
        raise RuntimeError("the gradient has shape (5,), expected (3, 2)")

    with pytest.raises(NotImplementedError, match=r"Exercise 1\.3"):
        expect_error(RuntimeError, "backward", stub)
    assert "(5,)" in str(expect_error(RuntimeError, "backward", checked))
    assert isinstance(expect_error(NotImplementedError, "a stub", stub), NotImplementedError)


BACKWARD_NOT_STARTED = Planted(
    "1.3",
    "the backward pass not written yet, the exercises before it done",
    "autograd.py",
    '           run their post-accumulate-grad hooks.\n        """\n',
    '           run their post-accumulate-grad hooks.\n        """\n'
    '        raise NotImplementedError("Exercise 1.3: The backward pass")\n',
)


@pytest.mark.slow
def test_an_exercise_not_started_after_finished_ones_is_todo(workspace):
    """A learner who had written 1.1 and 1.2 saw 1.3 FAIL, not TODO: a grader of 1.3
    expects a RuntimeError from backward, and the stub's NotImplementedError is one."""
    ws = workspace("01")
    ws.use_answer_key()
    ws.plant(BACKWARD_NOT_STARTED)
    grades = ws.grade(graders=["test_autograd.py"])
    assert grades.statuses["1.3"] == "TODO", grades.details
    assert grades.statuses["1.2"] == "PASS", grades.details
