"""A number the book quotes from the code is the code's number.

The book writes a module constant as `TILE = 16` or `BLOCK_ROWS` = 128. When the code's
value changes (a tuning, a new tile), the page must change with it; this test finds every
such quote and compares it with the constant in the answer key and in the stubs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `NAME = 16` in one code span, or `NAME` = 16 with the number outside it (lines may wrap).
QUOTE = re.compile(r"`([A-Z][A-Z0-9_]*)\s*=\s*(\d+)`|`([A-Z][A-Z0-9_]*)`\s*=\s*(\d+)\b")


def module_constants(path: Path) -> dict[str, int]:
    """The integer constants a module assigns at its top level (`A, B = 4, 6` included)."""
    constants = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        pairs = (
            zip(target.elts, value.elts, strict=False)
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
            else [(target, value)]
        )
        for name, number in pairs:
            value = number.value if isinstance(number, ast.Constant) else None
            if isinstance(name, ast.Name) and type(value) is int:  # not a bool
                constants[name.id] = value
    return constants


def code_constants() -> dict[str, dict[str, int]]:
    """NAME -> {file: value} over the answer key and the chapters' stubs."""
    found: dict[str, dict[str, int]] = {}
    for path in sorted([*ROOT.glob("solutions/*.py"), *ROOT.glob("chapters/*/*.py")]):
        if path.name.startswith("test_"):
            continue
        for name, value in module_constants(path).items():
            found.setdefault(name, {})[str(path.relative_to(ROOT))] = value
    return found


def book_quotes() -> list[tuple[str, int, str, int]]:
    """(page, line, NAME, value) for every constant quoted with its value in the book."""
    quotes = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in QUOTE.finditer(text):
            name = match.group(1) or match.group(3)
            value = int(match.group(2) or match.group(4))
            line = text.count("\n", 0, match.start()) + 1
            quotes.append((str(page.relative_to(ROOT)), line, name, value))
    return quotes


def test_every_quoted_constant_matches_the_code():
    constants = code_constants()
    checked, wrong = set(), []
    for page, line, name, value in book_quotes():
        if name not in constants:  # an environment variable, not a constant
            continue
        checked.add(name)
        for path, actual in constants[name].items():
            if actual != value:
                wrong.append(f"{page}:{line} says {name} = {value}, {path} has {actual}")
    assert not wrong, "\n".join(wrong)
    # The test must be looking at something: these quotes are in chapter 05's pages.
    assert {"BLOCK_ROWS", "PANEL", "DEPTH", "THREADS", "TILE"} <= checked, checked


def test_a_changed_constant_is_caught(tmp_path):
    module = tmp_path / "kernels.py"
    module.write_text("ROWS, COLS = 4, 6\nBLOCK_ROWS = 128  # tuned\nJIT = {'cache': True}\n")
    assert module_constants(module) == {"ROWS": 4, "COLS": 6, "BLOCK_ROWS": 128}
    quote = "owns `BLOCK_ROWS` = 256 rows, walks `DEPTH` =\n1024 at a time; `TILE = 16`"
    found = [(m.group(1) or m.group(3), m.group(2) or m.group(4)) for m in QUOTE.finditer(quote)]
    assert found == [("BLOCK_ROWS", "256"), ("DEPTH", "1024"), ("TILE", "16")]
