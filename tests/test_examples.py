"""The example programs run on the answer key, and the book shows what they print.

`examples/init_experiment.py` writes the table that chapter 02 includes from
docs/snippets/init-experiment.md: if the code or the library changes its
numbers, this test fails until the snippet is regenerated with

    KINDLING_IMPL=reference python examples/init_experiment.py docs/snippets/init-experiment.md
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_example(script: str, *args: str) -> str:
    """Run examples/<script> on the answer key from the repository's root; return its stdout."""
    env = {**os.environ, "KINDLING_IMPL": "reference"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stderr[-4000:]}"
    return result.stdout


def test_the_books_initialisation_table_is_what_the_experiment_prints(tmp_path):
    table = tmp_path / "init-experiment.md"
    run_example("init_experiment.py", str(table))
    committed = ROOT / "docs" / "snippets" / "init-experiment.md"
    assert table.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
        "docs/snippets/init-experiment.md differs from what examples/init_experiment.py "
        "prints now: regenerate it (see this file's docstring) and reread chapter 02's "
        "discussion of the table"
    )


def test_seed_models_fit_the_line_and_reach_every_parameter():
    output = run_example("seed_models.py")
    fitted = re.search(r"fitted weight (-?\d+\.\d+), bias (-?\d+\.\d+)", output)
    assert fitted, f"no 'fitted weight ..., bias ...' line in:\n{output}"
    weight, bias = float(fitted[1]), float(fitted[2])
    assert (round(weight, 1), round(bias, 1)) == (3.0, -2.0), fitted[0]

    norms = dict(re.findall(r"^(\S+)\s+\(.*?\)\s+grad norm (\S+)$", output, flags=re.MULTILINE))
    assert list(norms) == [
        "body.0.weight",
        "body.0.bias",
        "classify.weight",
        "classify.bias",
        "regress.weight",
        "regress.bias",
    ], output
    assert all(float(norm) > 0 for norm in norms.values()), norms
