"""Figures drawn by scripts are committed as they are drawn: re-drawing one changes nothing.

Chapter 03's figure of the optimizers' paths runs the answer key; if the answer key's
update rules change, this test fails until the figure is drawn again with
`python docs/figures/optimizer_paths.py --impl reference`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FIGURES = [("docs/figures/optimizer_paths.py", "docs/figures/optimizer-paths.svg")]


@pytest.mark.parametrize(("script", "figure"), FIGURES)
def test_committed_figure_is_what_its_script_draws(tmp_path, script, figure):
    output = tmp_path / Path(figure).name
    result = subprocess.run(
        [sys.executable, script, "--impl", "reference", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    drawn = output.read_text(encoding="utf-8")
    committed = (ROOT / figure).read_text(encoding="utf-8")
    assert drawn == committed, f"{figure} is out of date: run `python {script} --impl reference`"
    assert drawn.startswith("<svg") and "<title" in drawn
