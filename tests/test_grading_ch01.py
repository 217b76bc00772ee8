"""The chapter 01 graders, proven: stubs are TODO, the answer key passes, planted bugs fail."""

from __future__ import annotations

import pytest

from tests.workspace import Planted

pytestmark = pytest.mark.slow

ALL_EXERCISES = [f"1.{n}" for n in range(1, 10)]


def test_pristine_stubs_are_all_todo(workspace):
    grades = workspace("01").grade()
    assert grades.statuses == dict.fromkeys(ALL_EXERCISES, "TODO"), grades.details
    assert grades.earned == 0
    assert "not started" in grades.details["1.1"]
    assert "waiting on Exercise 1.1" in grades.details["1.2"]  # 1.2 builds Tensors first
    assert "Chapter 01: Autograd" in grades.output and "total: 0/100 points" in grades.output


def test_answer_key_gets_full_points(workspace):
    ws = workspace("01")
    ws.use_answer_key()
    grades = ws.grade()
    assert grades.statuses == dict.fromkeys(ALL_EXERCISES, "PASS"), grades.details
    assert grades.earned == grades.total == 100
    assert "total: 100/100 points, 9 of 9 exercises passed" in grades.output


def test_reference_mode_grades_the_answer_key(workspace):
    grades = workspace("01").grade("--reference")  # stubs untouched, answer key graded
    assert set(grades.statuses.values()) == {"PASS"}, grades.details


F = "autograd.py"
PLANTED = [
    Planted("1.1", "Python floats stay float64", F,
            "                array = array.astype(DEFAULT_FLOAT)\n", "                pass\n"),
    Planted("1.1", "Tensor copies NumPy arrays", F,
            "            array = np.asarray(data)\n", "            array = np.array(data)\n"),
    Planted("1.2", "graph recorded under no_grad", F,
            "if is_grad_enabled() and any(", "if any("),
    Planted("1.2", "forward receives Tensors", F,
            "cls.forward(ctx, *(_raw(arg) for arg in args))", "cls.forward(ctx, *args)"),
    Planted("1.3", "a reused tensor's gradient is overwritten", F,
            "grads[parent] = grads[parent] + parent_grad if parent in grads else parent_grad",
            "grads[parent] = parent_grad"),
    Planted("1.3", "leaf gradients overwritten across backward calls", F,
            "node.grad = node_grad.copy() if node.grad is None else node.grad + node_grad",
            "node.grad = node_grad.copy()"),
    Planted("1.3", "breadth-first order: a node's gradient is passed on before all consumers add theirs", F,
            "        node, parents_done = stack.pop()\n", "        node, parents_done = stack.pop(0)\n"),
    Planted("1.4", "Sub forgets to unbroadcast", F,
            "return unbroadcast(grad_output, a_shape), unbroadcast(-grad_output, b_shape)",
            "return grad_output, -grad_output"),
    Planted("1.4", "Div's gradient for b has the wrong sign", F,
            "grad_b = -grad_output * a / (b * b)", "grad_b = grad_output * a / (b * b)"),
    Planted("1.4", "unbroadcast ignores stretched size-1 axes", F,
            "    return np.asarray(grad.sum(axis=stretched, keepdims=True))", "    return np.asarray(grad)"),
    Planted("1.5", "sigmoid's derivative missing (1 - out)", F,
            "return grad_output * out * (1 - out)", "return grad_output * out"),
    Planted("1.5", "sigmoid overflows for large negative inputs", F,
            "out = np.where(a >= 0, 1 / (1 + z), z / (1 + z))", "out = 1 / (1 + np.exp(-a))"),
    Planted("1.6", "max routes the full gradient to every tie", F,
            "ctx.save_for_backward(winners / winners.sum(axis=ctx.axes, keepdims=True, dtype=a.dtype))",
            "ctx.save_for_backward(winners.astype(a.dtype))"),
    Planted("1.6", "mean divides by every element, not the reduced ones", F,
            "count = int(np.prod([ctx.shape[axis] for axis in ctx.axes]))", "count = int(np.prod(ctx.shape))"),
    Planted("1.7", "GetItem assigns instead of adding (repeated indices)", F,
            "np.add.at(grad, ctx.index, grad_output)", "grad[ctx.index] = grad_output"),
    Planted("1.7", "Permute's backward repeats the permutation", F,
            "np.transpose(grad_output, np.argsort(ctx.dims))", "np.transpose(grad_output, ctx.dims)"),
    Planted("1.8", "batch dimensions of b not unbroadcast", F,
            "grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape)",
            "grad_b = np.swapaxes(a2, -1, -2) @ g"),
    Planted("1.9", "one-sided difference divided by eps", F,
            "numerical = (plus - minus) / (2 * eps)", "numerical = (plus - minus) / eps"),
    Planted("1.9", "gradcheck on float32 inputs as given", F,
            "np.array(x.data, dtype=np.float64)", "np.array(x.data)"),
]  # fmt: skip

# Exercises that a bug may also break, because their graders run through the buggy code.
ALSO_BROKEN = {
    "Python floats stay float64": {"1.2", "1.3", "1.9"},
    "graph recorded under no_grad": {"1.9"},
    "forward receives Tensors": {"1.3", "1.9"},
    "a reused tensor's gradient is overwritten": {"1.9"},
    "breadth-first order: a node's gradient is passed on before all consumers add theirs": {"1.9"},
    "unbroadcast ignores stretched size-1 axes": {"1.8"},  # MatMul's backward uses unbroadcast
}


@pytest.mark.parametrize("bug", PLANTED, ids=[f"{b.exercise} {b.name}" for b in PLANTED])
def test_planted_bug_fails_its_exercise(workspace, bug):
    ws = workspace("01")
    ws.use_answer_key()
    ws.plant(bug)
    grades = ws.grade()
    assert grades.statuses[bug.exercise] in {"FAIL", "ERROR"}, (bug.name, grades.details)
    allowed = ALSO_BROKEN.get(bug.name, set()) | {bug.exercise}
    for exercise, status in grades.statuses.items():
        if exercise not in allowed:
            assert status == "PASS", f"{bug.name} also broke {exercise}: {grades.details[exercise]}"


def test_error_and_timeout_are_reported_as_error(workspace):
    ws = workspace("01")
    ws.use_answer_key()
    ws.plant(
        Planted(
            "1.5", "Exp raises", F, "        out = np.exp(a)\n", "        out = np.exp(a, axis=0)\n"
        )
    )
    ws.plant(Planted("1.7", "endless loop", F, "        ctx.shape = a.shape\n        return a.reshape(shape)",
                     "        while True:\n            pass"))  # fmt: skip
    grades = ws.grade(timeout_s=1)
    assert grades.statuses["1.5"] == "ERROR"
    assert (
        grades.details["1.5"].startswith("TypeError")
        and "chapters/01/autograd.py" in grades.details["1.5"]
    )
    assert grades.statuses["1.7"] == "ERROR"
    assert grades.details["1.7"].startswith("Timeout")
    assert [s for e, s in grades.statuses.items() if e not in {"1.5", "1.7"}] == ["PASS"] * 7


@pytest.mark.parametrize(
    ("options", "impl"),
    [((), "isolate:01"), (("--own-stack",), "mine"), (("--reference",), "reference")],
)
def test_grading_mode_follows_the_options(workspace, options, impl):
    grades = workspace("01").grade(*options)
    assert grades.impl == impl
    assert f"(KINDLING_IMPL={impl})" in grades.output
