"""Render the book's formulas to MathML while the site is built.

`pymdownx.arithmatex` in generic mode leaves every formula in the HTML as

    <span class="arithmatex">\\(...\\)</span>        ($...$, inline)
    <div class="arithmatex">\\[...\\]</div>          ($$...$$, display)

and expects a JavaScript library (MathJax, KaTeX) to typeset it in the
browser. This hook converts each one to MathML with `latex2mathml` instead.
Browsers render MathML natively, so the built book needs no script, no font
and no network, and the repository commits nothing third-party.

A formula that does not convert cleanly stops the build, naming the page and
the formula, rather than reaching a reader as broken math.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from html import unescape
from typing import Any

from latex2mathml.converter import convert
from mkdocs.exceptions import PluginError

# arithmatex's generic output: the tag tells inline from display.
_FORMULA = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*(?:\\\(|\\\[)(?P<latex>.*?)(?:\\\)|\\\])\s*</(?P=tag)>',
    re.DOTALL,
)


def to_mathml(latex: str, display: str) -> str:
    """`latex` as a `<math>` element (display is "inline" or "block"), or ValueError."""
    # A tab or other control character is a backslash lost on the way: a Python string's
    # "\text" is a tab and "ext". latex2mathml would render it, wrongly, as letters.
    control = next((c for c in latex if ord(c) < 32 and c != "\n"), None)
    if control is not None:
        raise ValueError(f"a control character {control!r}: a lost backslash, as in \\t of \\text?")
    mathml = convert(latex, display=display)
    # latex2mathml passes commands it does not know through as text
    # (`<mi>\foo</mi>`) and can emit malformed markup: refuse both.
    if "\\" in mathml:
        raise ValueError("a LaTeX command was not understood")
    ElementTree.fromstring(mathml)
    return mathml


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Replace every arithmatex formula on the page with MathML."""

    def replace(match: re.Match[str]) -> str:
        latex = unescape(match["latex"]).strip()
        display = "inline" if match["tag"] == "span" else "block"
        try:
            return to_mathml(latex, display)
        except Exception as error:
            raise PluginError(
                f"math hook: {page.file.src_path}: cannot render the formula "
                f"`{latex}`: {type(error).__name__}: {error}"
            ) from error

    html = _FORMULA.sub(replace, html)
    if 'class="arithmatex"' in html:
        raise PluginError(f"math hook: {page.file.src_path}: a formula was left unconverted")
    return html
