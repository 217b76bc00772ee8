"""The Chinese edition keeps in step with the English one.

Each translated page, docs/PAGE.zh.md beside docs/PAGE.md (mkdocs-static-i18n builds it
under /zh/), must have the English page's headings, at the same levels and with the same
anchors (a Chinese heading names its English anchor: `## 自动求导 { #autograd }`), the
same exercises, and the same code blocks, images and "not run" markers, byte for byte:
the code is the same code in both editions. Change an English page's structure and this
test names the Chinese page that must follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from markdown.extensions.toc import slugify

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TRANSLATED = sorted(DOCS.rglob("*.zh.md"))

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
EXPLICIT_ID = re.compile(r"\s*\{\s*#([\w-]+)[^}]*\}\s*$")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
NOT_RUN = re.compile(r"^\s*<!-- not run: .*-->\s*$")
EXERCISE = {"en": re.compile(r"\bExercise (\d+\.\d+)"), "zh": re.compile(r"练习\s*(\d+\.\d+)")}


@dataclass
class Structure:
    """What the two editions of a page must share."""

    headings: list[tuple[int, str]] = field(default_factory=list)  # (level, anchor)
    unnamed: list[str] = field(default_factory=list)  # Chinese headings without an anchor
    exercises: list[str] = field(default_factory=list)
    code_blocks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)


def rendered_text(heading: str) -> str:
    """A heading's text as Python-Markdown's toc slugifies it: no markup, links as text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[`*]", "", text)


def structure(text: str, language: str) -> Structure:
    found = Structure()
    seen: dict[str, int] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence:  # a code block: kept whole, its lines dedented by the fence's indent
            indent, marker = fence.group(1), fence.group(2)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                line = lines[i]
                body.append(line[len(indent) :] if line.startswith(indent) else line)
                i += 1
            found.code_blocks.append(fence.group(0).strip() + "\n" + "\n".join(body))
            i += 1
            continue
        line = lines[i]
        found.images += IMAGE.findall(line)
        if NOT_RUN.match(line):
            found.not_run.append(line.strip())
        heading = HEADING.match(line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
            explicit = EXPLICIT_ID.search(title)
            title = EXPLICIT_ID.sub("", title)
            if explicit:
                anchor = explicit.group(1)
            elif language == "en":
                anchor = slugify(rendered_text(title), "-")
            else:
                anchor = ""
                found.unnamed.append(line)
            if anchor in seen:  # toc numbers a repeated anchor: x, x_1, x_2
                seen[anchor] += 1
                anchor = f"{anchor}_{seen[anchor]}"
            else:
                seen[anchor] = 0
            found.headings.append((level, anchor))
            found.exercises += EXERCISE[language].findall(title)
        i += 1
    return found


def differences(english: str, chinese: str) -> list[str]:
    """What the Chinese page must change to be in step with the English one."""
    en, zh = structure(english, "en"), structure(chinese, "zh")
    problems = [
        f"a heading without its English anchor (end it with {{ #anchor }}): {line!r}"
        for line in zh.unnamed
    ]
    for what in ("headings", "exercises", "images", "not_run"):
        ours, theirs = getattr(en, what), getattr(zh, what)
        if ours != theirs:
            missing = [x for x in ours if x not in theirs]
            extra = [x for x in theirs if x not in ours]
            problems.append(
                f"{what} differ: the English page has {len(ours)}, the Chinese {len(theirs)}; "
                f"missing in Chinese: {missing[:5]}; not in English: {extra[:5]}"
                + ("; same ones in another order" if not missing and not extra else "")
            )
    if len(en.code_blocks) != len(zh.code_blocks):
        problems.append(
            f"code blocks: the English page has {len(en.code_blocks)}, "
            f"the Chinese {len(zh.code_blocks)}"
        )
    pairs = zip(en.code_blocks, zh.code_blocks, strict=False)  # a count differing is said above
    for number, (ours, theirs) in enumerate(pairs, start=1):
        if ours != theirs:
            problems.append(
                f"code block {number} differs (the code is the same code in both editions): "
                f"English starts {ours[:80]!r}, Chinese {theirs[:80]!r}"
            )
            break
    return problems


def english_of(page: Path) -> Path:
    return page.with_name(page.name.replace(".zh.md", ".md"))


@pytest.mark.parametrize("page", TRANSLATED, ids=[str(p.relative_to(DOCS)) for p in TRANSLATED])
def test_the_chinese_page_keeps_in_step_with_the_english(page: Path):
    english = english_of(page)
    assert english.is_file(), f"{page.relative_to(ROOT)} has no English page beside it"
    problems = differences(english.read_text(encoding="utf-8"), page.read_text(encoding="utf-8"))
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_every_english_page_has_its_chinese_page():
    english = sorted(
        p for p in DOCS.rglob("*.md") if not p.name.endswith(".zh.md") and "snippets" not in p.parts
    )
    assert len(english) >= 15  # the walk found the book
    missing = [str(p.relative_to(ROOT)) for p in english if not p.with_suffix(".zh.md").is_file()]
    assert not missing, f"no Chinese page (PAGE.zh.md) for: {missing}"


ENGLISH = """# Kindling

## Exercise 1.4: The backward pass

![graph](../figures/a.svg)

<!-- not run: the seed's code -->
```python
x = 1
```

## What you built
"""
CHINESE = """# 火种 { #kindling }

## 练习 1.4：反向传播 { #exercise-14-the-backward-pass }

![计算图](../figures/a.svg)

<!-- not run: the seed's code -->
```python
x = 1
```

## 小结 { #what-you-built }
"""


def test_a_page_in_step_passes():
    assert differences(ENGLISH, CHINESE) == []


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("# 火种 { #kindling }", "# 火种", "without its English anchor"),
        ("## 小结 { #what-you-built }\n", "", "headings differ"),
        ("{ #what-you-built }", "{ #summary }", "headings differ"),
        ("x = 1", "x = 2", "code block 1 differs"),
        ("```python\nx = 1\n```\n", "", "code blocks: the English page has 1"),
        ("a.svg", "b.svg", "images differ"),
        ("<!-- not run: the seed's code -->\n", "", "not_run differ"),
        ("练习 1.4", "练习 1.5", "exercises differ"),
    ],
)
def test_a_page_out_of_step_is_named(old: str, new: str, complaint: str):
    assert old in CHINESE
    problems = differences(ENGLISH, CHINESE.replace(old, new))
    assert any(complaint in problem for problem in problems), problems


def test_every_nav_title_has_a_chinese_name():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    titles: list[str] = []

    def walk(items: list) -> None:
        for item in items:
            for title, target in item.items():
                titles.append(title)
                if isinstance(target, list):
                    walk(target)

    walk(config["nav"])
    plugins = {next(iter(p)): p[next(iter(p))] for p in config["plugins"] if isinstance(p, dict)}
    chinese = next(lang for lang in plugins["i18n"]["languages"] if lang["locale"] == "zh")
    missing = [title for title in titles if title not in chinese["nav_translations"]]
    assert not missing, f"mkdocs.yml: no Chinese name in nav_translations for {missing}"
