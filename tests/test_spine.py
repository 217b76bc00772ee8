"""The spine: `import kindling.<module>` loads the learner's code, the answer key, or a mix.

Each case runs in a fresh interpreter, because KINDLING_IMPL is read once, at import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, impl: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KINDLING_IMPL"}
    if impl is not None:
        env["KINDLING_IMPL"] = impl
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


WHERE = "import kindling, kindling.autograd as m; print(kindling.loaded_from(m))"


@pytest.mark.parametrize(
    ("impl", "expected"),
    [
        (None, "chapters/01/autograd.py"),
        ("mine", "chapters/01/autograd.py"),
        ("reference", "solutions/autograd.py"),
        ("isolate:01", "chapters/01/autograd.py"),
        ("isolate:03", "solutions/autograd.py"),  # chapter 03 over the answer key's autograd
    ],
)
def test_impl_selects_where_modules_load_from(impl, expected):
    result = run_python(WHERE, impl)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).as_posix() == expected


def test_unknown_impl_is_a_clear_error():
    result = run_python("import kindling", "everything")
    assert result.returncode != 0
    assert "KINDLING_IMPL='everything' is not understood" in result.stderr


def test_missing_module_names_the_chapter_file(tmp_path):
    # A course with no chapter files yet: the spine alone, in a fresh folder.
    shutil.copytree(ROOT / "kindling", tmp_path / "kindling")
    (tmp_path / "solutions").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "KINDLING_IMPL"}
    result = subprocess.run(
        [sys.executable, "-c", "import kindling.optim"],
        cwd=tmp_path, env={**env, "KINDLING_IMPL": "reference"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "kindling.optim was not found: it is written in chapters/03/optim.py" in result.stderr


def test_top_level_api_is_lazy_and_mirrors_torch():
    code = (
        "import sys, kindling\n"
        "assert 'kindling.autograd' not in sys.modules\n"
        "x = kindling.tensor([1.0, 2.0], requires_grad=True)\n"
        "assert kindling.Tensor is kindling.autograd.Tensor\n"
        "assert kindling.save is kindling.nn.save and kindling.load is kindling.nn.load\n"
        "with kindling.no_grad():\n"
        "    assert not (x * 2).requires_grad\n"
        "(x * x).sum().backward()\n"
        "print(x.grad.tolist())\n"
        "try:\n"
        "    kindling.not_a_thing\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    result = run_python(code, "reference")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[2.0, 4.0]",
        "module 'kindling' has no attribute 'not_a_thing'",
    ]


def test_learners_own_stack_reaches_the_stubs():
    result = run_python("import kindling; kindling.tensor(1.0)", "mine")
    assert "NotImplementedError: Exercise 1.1: The Tensor" in result.stderr


def test_solutions_is_a_regular_package_beside_kindling():
    code = (
        "import kindling.autograd as k, solutions.autograd as s\n"
        "assert k is not s and k.Tensor is not s.Tensor\n"
        "print(k.__name__, s.__name__)\n"
    )
    result = run_python(code, "reference")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["kindling.autograd", "solutions.autograd"]
