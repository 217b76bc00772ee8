"""Stubs, answer key, manifest, graders and book agree with each other.

- A stub is its solution with each exercise body replaced by a docstring and
  `raise NotImplementedError("Exercise N.M: Title")`: same names, signatures,
  decorators and helper code, and no solution code left behind.
- Every exercise of the manifest has a stub body, a grader test and a heading
  in the book, with the manifest's title.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import kindling
from grading.manifest import chapter_numbers, load_chapter

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = chapter_numbers()
MODULES = [(n, m) for n in CHAPTERS for m in load_chapter(n).modules]
EXERCISE_RAISE = re.compile(r"^Exercise (\d+\.\d+): (.+)$")


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    first = body[0] if body else None
    is_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    return body[1:] if is_docstring and isinstance(first.value.value, str) else body


def exercise_of(function: ast.FunctionDef) -> tuple[str, str] | None:
    """(id, title) when the body is only `raise NotImplementedError("Exercise id: title")`."""
    body = _without_docstring(function.body)
    if len(body) != 1 or not isinstance(body[0], ast.Raise):
        return None
    call = body[0].exc
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "NotImplementedError"):
        return None
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Constant):
        return None
    match = EXERCISE_RAISE.match(str(call.args[0].value))
    return (match.group(1), match.group(2)) if match else None


def definitions(tree: ast.Module) -> dict[str, ast.AST]:
    """Every function, method and class by qualified name, plus '<module>' and '<Class>' parts."""
    found: dict[str, ast.AST] = {}

    def visit(body: list[ast.stmt], prefix: str) -> list[ast.stmt]:
        other = []
        for node in body:
            if isinstance(node, ast.ClassDef):
                found[prefix + node.name] = node
                found[f"<{prefix}{node.name} body>"] = ast.Module(
                    body=visit(_without_docstring(node.body), f"{prefix}{node.name}."),
                    type_ignores=[],
                )
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[prefix + node.name] = node
            else:
                other.append(node)
        return other

    found["<module body>"] = ast.Module(
        body=visit(_without_docstring(tree.body), ""), type_ignores=[]
    )
    return found


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def signature(node: ast.AST) -> str:
    if isinstance(node, ast.ClassDef):
        return "".join(
            ast.dump(part) for part in [*node.bases, *node.keywords, *node.decorator_list]
        )
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    returns = ast.dump(node.returns) if node.returns else ""
    return ast.dump(node.args) + returns + "".join(ast.dump(d) for d in node.decorator_list)


def body_dump(node: ast.AST) -> str:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "".join(ast.dump(s) for s in _without_docstring(node.body))
    if isinstance(node, ast.Module):
        return "".join(ast.dump(s) for s in node.body)
    return ""


@pytest.mark.parametrize(("chapter", "module"), MODULES)
def test_stub_and_solution_have_the_same_api_and_helpers(chapter, module):
    stub = definitions(parse(ROOT / "chapters" / chapter / f"{module}.py"))
    solution = definitions(parse(ROOT / "solutions" / f"{module}.py"))
    assert sorted(stub) == sorted(solution), "stub and solution define different names"
    for name, stub_node in stub.items():
        solution_node = solution[name]
        if isinstance(stub_node, ast.Module):
            assert body_dump(stub_node) == body_dump(solution_node), (
                f"{name}: statements outside functions differ between stub and solution"
            )
            continue
        assert signature(stub_node) == signature(solution_node), f"{name}: signatures differ"
        if isinstance(stub_node, ast.ClassDef) or exercise_of(stub_node):
            continue
        assert body_dump(stub_node) == body_dump(solution_node), (
            f"{name} is not an exercise, so its code must be the same in stub and solution"
        )


@pytest.mark.parametrize(("chapter", "module"), MODULES)
def test_stub_exercises_hold_no_solution_code(chapter, module):
    stub = definitions(parse(ROOT / "chapters" / chapter / f"{module}.py"))
    solution = definitions(parse(ROOT / "solutions" / f"{module}.py"))
    exercises = {
        name: exercise_of(node) for name, node in stub.items() if isinstance(node, ast.FunctionDef)
    }
    todo = {name for name, found in exercises.items() if found}
    assert todo, f"chapters/{chapter}/{module}.py has no exercise bodies"
    for name in todo:
        assert exercise_of(solution[name]) is None, f"the answer key's {name} is still a stub"
        # An exercise body is only its docstring and the raise: nothing else survives.
        assert len(_without_docstring(stub[name].body)) == 1


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_stub_messages_match_the_manifest(chapter):
    manifest = load_chapter(chapter)
    titles = {e.id: e.title for e in manifest.exercises}
    raised: set[str] = set()
    for module in manifest.modules:
        for node in definitions(parse(ROOT / "chapters" / chapter / f"{module}.py")).values():
            found = exercise_of(node) if isinstance(node, ast.FunctionDef) else None
            if found:
                exercise_id, title = found
                assert exercise_id in titles, (
                    f"{node.name} raises for unknown exercise {exercise_id}"
                )
                assert title == titles[exercise_id], (
                    f"{node.name} says 'Exercise {exercise_id}: {title}', "
                    f"the manifest says '{titles[exercise_id]}'"
                )
                raised.add(exercise_id)
    assert raised == set(titles), f"exercises without a stub body: {sorted(set(titles) - raised)}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_exercise_has_graders_and_every_grader_an_exercise(chapter):
    manifest = load_chapter(chapter)
    marked: set[str] = set()
    for test_file in (ROOT / "chapters" / chapter).glob("test_*.py"):
        for node in ast.walk(parse(test_file)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "exercise"
            ):
                marked.add(node.args[0].value)
    assert marked == {e.id for e in manifest.exercises}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_book_headings_match_the_manifest(chapter):
    manifest = load_chapter(chapter)
    page = "\n".join((ROOT / page).read_text(encoding="utf-8") for page in manifest.pages)
    headings = re.findall(r"^#+ Exercise (\d+\.\d+): (.+?)\s*$", page, flags=re.MULTILINE)
    assert headings == [(e.id, e.title) for e in manifest.exercises]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_spine_knows_where_each_module_lives(chapter):
    manifest = load_chapter(chapter)
    for module in manifest.modules:
        assert kindling.MODULE_CHAPTER[module] == chapter
        assert (ROOT / "chapters" / chapter / f"{module}.py").is_file()
        assert (ROOT / "solutions" / f"{module}.py").is_file()
