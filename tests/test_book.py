"""The book builds with `mkdocs build --strict`, renders its math at build time, and loads
nothing from other hosts (learners may read it offline)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture
def site(built_site: Path) -> Path:
    return built_site


def pages(site: Path) -> list[Path]:
    return [p for p in site.rglob("*.html") if p.name != "404.html"]


def test_no_request_leaves_the_site(site):
    remote = re.compile(
        r"""<(?:script|link|img|iframe|source)\b[^>]*(?:src|href)=["']?(https?:)?//"""
    )
    css_remote = re.compile(r"""(?:@import|url\()\s*["']?(?:https?:)?//""")
    for page in pages(site):
        for match in remote.finditer(page.read_text(encoding="utf-8")):
            tag = page.read_text(encoding="utf-8")[match.start() : match.start() + 160]
            # Plain links to other sites (<a href>) are fine; loading assets from them is not.
            assert 'rel="canonical"' in tag, f"{page.relative_to(site)} loads {tag!r}"
    for sheet in site.rglob("*.css"):
        assert not css_remote.search(sheet.read_text(encoding="utf-8")), (
            f"{sheet} imports a remote file"
        )


def test_math_is_rendered_to_mathml(site):
    chapter = (site / "chapters" / "01-autograd" / "index.html").read_text(encoding="utf-8")
    assert chapter.count("<math") >= 5
    for page in pages(site):
        text = re.sub(r"<(pre|code)\b.*?</\1>", "", page.read_text(encoding="utf-8"), flags=re.S)
        for raw in ("$$", "\\(", "\\["):
            assert raw not in text, f"{page.relative_to(site)} still holds raw math {raw!r}"


def test_every_image_and_internal_link_resolves(site):
    reference = re.compile(r"""<(?:img|a)\b[^>]*(?:src|href)="([^"#?]+)(?:#[^"]*)?\"""")
    for page in pages(site):
        for target in reference.findall(page.read_text(encoding="utf-8")):
            if urlparse(target).scheme or target.startswith(("mailto:", "//")):
                continue
            resolved = (page.parent / target).resolve()
            if target.endswith("/") or resolved.is_dir():
                resolved = resolved / "index.html"
            assert resolved.exists(), f"{page.relative_to(site)} links to missing {target}"


def test_every_anchor_exists(site):
    """Links to a section (#anchor), within a page or to another, name an id that exists."""
    ids: dict[Path, set[str]] = {}

    def ids_of(page: Path) -> set[str]:
        if page not in ids:
            ids[page] = set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))
        return ids[page]

    link = re.compile(r'<a\b[^>]*href="([^"?]*)#([^"]+)"')
    for page in pages(site):
        for target, anchor in link.findall(page.read_text(encoding="utf-8")):
            if urlparse(target).scheme or target.startswith("//"):
                continue
            resolved = (page.parent / target).resolve() if target else page
            if target.endswith("/") or resolved.is_dir():
                resolved = resolved / "index.html"
            assert anchor in ids_of(resolved), (
                f"{page.relative_to(site)} links to {target}#{anchor}, which has no such anchor"
            )


def test_stub_code_is_pulled_into_the_chapter(site):
    chapter = (site / "chapters" / "01-autograd" / "index.html").read_text(encoding="utf-8")
    assert "Exercise 1.3: The backward pass" in chapter
    assert "NotImplementedError" in chapter  # the stubs, not the answer key, are shown


def test_a_formula_with_a_lost_backslash_stops_the_build():
    """`"\\text"` in a Python string is a tab and `ext`: the page would show the letters."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("math_hook", ROOT / "docs" / "hooks" / "math.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert "<math" in hook.to_mathml(r"w_{\text{angle}}", "inline")
    with pytest.raises(ValueError, match="lost backslash"):
        hook.to_mathml("w_{\text{angle}}", "inline")
