"""grading/precompile.py: the second process that compiles the learner's kernels on a first
run compiles exactly what chapter 05's graders need, and leaves it where they find it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grading.precompile import SIGNATURES

ROOT = Path(__file__).resolve().parent.parent

SIGNATURES_AFTER_WARM_UP = """
import importlib.util, json
spec = importlib.util.spec_from_file_location("graders", "chapters/05/test_cnn.py")
graders = importlib.util.module_from_spec(spec)
spec.loader.exec_module(graders)  # compiles the answer key's kernels, as the graders do
print(json.dumps({name: sorted(str(list(s)) for s in kernel.signatures)
                  for name, kernel in vars(graders.ref_kernels).items()
                  if getattr(kernel, "signatures", None)}))  # inlined helpers have none
"""


def python(*arguments: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=280,
    )


@pytest.mark.timeout(300)  # 3 s with the answer key's kernels on disk, 30 s without
def test_the_signatures_are_those_the_graders_compile():
    import json

    done = python("-c", SIGNATURES_AFTER_WARM_UP, KINDLING_IMPL="reference")
    assert done.returncode == 0, done.stderr[-3000:]
    compiled = json.loads(done.stdout.strip().splitlines()[-1])
    listed = {
        name: sorted(str(list(signature)) for signature in signatures)
        for name, signatures in SIGNATURES["kindling.kernels"].items()
    }
    assert {name: compiled.get(name) for name in listed} == listed
    assert set(compiled) == set(listed), "a kernel of the answer key is missing from SIGNATURES"


@pytest.mark.slow
@pytest.mark.timeout(300)  # 26 s on an idle 2-core AMD EPYC (every kernel compiled)
def test_the_second_process_leaves_your_kernels_on_disk(workspace):
    ws = workspace("05")
    ws.use_answer_key()  # a finished chapter 05, compiled by nobody yet
    for compiled in ws.chapter_dir.glob("__pycache__/kernels.*.nb[ic]"):
        compiled.unlink()
    check = (
        "import kindling.kernels as k\n"
        "from grading.precompile import kernels_of, on_disk\n"
        "print([on_disk(*pair) for pair in kernels_of(k, 'kindling.kernels')])\n"
    )
    before = python("-c", check, cwd=ws.root, KINDLING_IMPL="")  # empty: the learner's code
    assert before.returncode == 0, before.stderr[-3000:]
    assert "True" not in before.stdout, before.stdout
    helper = python("-m", "grading.precompile", "kindling.kernels", cwd=ws.root, KINDLING_IMPL="")
    assert helper.returncode == 0, helper.stderr[-3000:]
    after = python("-c", check, cwd=ws.root, KINDLING_IMPL="")
    listed = sum(len(signatures) for signatures in SIGNATURES["kindling.kernels"].values())
    assert after.stdout.strip() == str([True] * listed), after.stdout + after.stderr[-3000:]
