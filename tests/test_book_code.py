"""The book's Python examples run. Each page's ```python blocks are run in order, in one
namespace per page, on the answer key (KINDLING_IMPL=reference), from the repository's
root, with the CUDA simulator on (the GPU page's examples need no GPU then).

Not run, on purpose:
- blocks that include a stub file (`--8<--`): they show the learner's code to write;
- blocks marked with an HTML comment on the line before the fence, saying why:
  `<!-- not run: the seed's PyTorch code -->`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?P<indent>[ \t]*)```python\b.*$")
NOT_RUN = re.compile(r"^\s*<!-- not run: .+ -->\s*$")

pytestmark = pytest.mark.slow


@dataclass
class Block:
    line: int  # where the fence opens, 1-based
    code: str
    skipped: bool


def python_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent, start = fence["indent"], i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        code = "\n".join(body)
        skipped = "--8<--" in code or bool(NOT_RUN.match(previous))
        blocks.append(Block(start + 1, code, skipped))
        i += 1
    return blocks


PAGES = sorted(p for p in DOCS.rglob("*.md") if "snippets" not in p.parts)

RUNNER = """
import json, sys, traceback
from grading.simulator import use_a_short_switch_interval
use_a_short_switch_interval()  # the simulator runs chapter 05's kernels
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__book__"}
for line, code in blocks:
    try:
        exec(compile(code, f"block at line {line}", "exec"), namespace)
    except Exception:
        print(f"the block at line {line} failed:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
print(f"{len(blocks)} blocks ran")
"""


# Chapter 05's GPU page runs its kernels on the simulator: 14 s on an idle 2-core EPYC (28 s
# idle and 49 s beside the rest of the suite before the simulator's shorter switch interval).
# Its own limit leaves 5x headroom (the subprocess's is shorter, so that a slow run ends
# with the page's output).
@pytest.mark.timeout(300)
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_the_pages_python_examples_run(page, tmp_path):
    blocks = [b for b in python_blocks(page.read_text(encoding="utf-8")) if not b.skipped]
    if not blocks:
        return  # a page without runnable Python: nothing to prove
    listing = tmp_path / "blocks.json"
    listing.write_text(json.dumps([[b.line, b.code] for b in blocks]), encoding="utf-8")
    env = {**os.environ, "KINDLING_IMPL": "reference", "NUMBA_ENABLE_CUDASIM": "1"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(listing)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert done.returncode == 0, f"{page.relative_to(ROOT)}: {done.stderr[-3000:]}"
    assert f"{len(blocks)} blocks ran" in done.stdout


def test_blocks_are_found_and_markers_respected():
    text = "\n".join([
        "```python", "a = 1", "```",
        "<!-- not run: shows an error -->", "```python", "raise SystemExit", "```",
        "!!! check", "    ```python", "    b = a + 1", "    ```",
        "```python", '--8<-- "chapters/01/autograd.py:tensor"', "```",
    ])  # fmt: skip
    blocks = python_blocks(text)
    assert [(b.line, b.code, b.skipped) for b in blocks] == [
        (1, "a = 1", False),
        (5, "raise SystemExit", True),
        (9, "b = a + 1", False),
        (12, '--8<-- "chapters/01/autograd.py:tensor"', True),
    ]
