"""Cheap warnings that a grade may not be the learner's own work: a nudge, not a lock.

A course graded on the learner's own computer cannot stop a determined cheat: the
graders and the answer key are files in the same repository. It can notice the
easy shortcuts and say so beside the score:

- `scan_chapter` reads a chapter's modules (without running them) and names every
  line that imports the answer key (`solutions`) or PyTorch: graded that way, the
  result would be theirs, not the learner's.
- `snapshot` and `changed_since` notice grading code replaced while the graders ran:
  a function of `grading.check` patched to accept anything, a tolerance table
  loosened, `pytest.approx` or `numpy.isclose` swapped for something that always agrees.

Usage, from the grading plugin. `scan_chapter` reads files only, so it can run in any
process; `snapshot` and `changed_since` belong in the process that runs the graders
(the worker), with the snapshot taken before the learner's code is imported:

    import grading.check  # watched only if imported before the snapshot
    from grading import integrity

    before = integrity.snapshot()  # in pytest_configure
    ...                            # the graders run
    warnings = integrity.scan_chapter(Path("chapters/03")) + integrity.changed_since(before)

Each warning is one line, to print above the score table. Only the grading modules
already imported when `snapshot` runs are watched. `snapshot` and `changed_since`
take under a millisecond each (this module imports nothing heavy).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What importing each package in a chapter file would mean for the grade.
SHORTCUTS = {
    "solutions": "the grade would be the answer key's, not yours",
    "torch": "the grade would be PyTorch's, not yours",
}

# The grading machinery whose functions and classes are watched while the graders run.
GRADING_MODULES = (
    "grading.check",
    "grading.classify",
    "grading.plugin",
    "grading.kernel_checks",
    "grading.inputs",
)
# Tables that decide a grade: watched by value too, since they can be changed in place.
GRADING_TABLES = {"grading.check": ("RTOL", "ATOL"), "grading.plugin": ("SEVERITY",)}
# The comparisons of pytest and NumPy that graders (and their helpers) rely on.
LIBRARY_FUNCTIONS = {
    "pytest": ("approx", "raises", "fail"),
    "numpy": ("isclose", "allclose", "array_equal", "all"),
    "numpy.testing": ("assert_allclose", "assert_array_equal", "assert_equal"),
}


# Scanning a chapter's files


def scan_chapter(chapter_dir: Path) -> list[str]:
    """One warning per import of `solutions` or `torch` in a chapter's modules (not its
    graders): "chapters/03/optim.py:12 imports solutions: the grade would be ...".

    A file that does not parse gives no warning: grading reports its syntax error."""
    warnings = []
    for path in sorted(chapter_dir.glob("*.py")):
        if path.name.startswith(("test_", "conftest")):
            continue
        shown = f"{chapter_dir.parent.name}/{chapter_dir.name}/{path.name}"
        for line, package in sorted(_shortcut_imports(path)):
            warnings.append(f"{shown}:{line} imports {package}: {SHORTCUTS[package]}")
    return warnings


def _shortcut_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, package) for each import of a package in SHORTCUTS."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return
    for node in ast.walk(tree):
        for module in _imported_modules(node):
            package = module.split(".")[0]
            if package in SHORTCUTS:
                yield node.lineno, package


def _imported_modules(node: ast.AST) -> list[str]:
    """The absolute module names a statement or call imports (none for most nodes)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    # importlib.import_module("solutions.optim"), __import__("torch"): a literal name only
    if isinstance(node, ast.Call) and _called_name(node.func) in ("import_module", "__import__"):
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value]
    return []


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


# Noticing grading code replaced at run time


@dataclass(frozen=True)
class Watched:
    """One attribute of a module or class as it was: the object, and what could change
    inside it without replacing it (a function's code, a table's contents)."""

    name: str  # dotted, as the warning shows it: grading.check.assert_same_array
    owner: Any  # the module or class that holds it
    attribute: str
    value: Any
    inside: Any


@dataclass(frozen=True)
class Snapshot:
    modules: dict[str, Any]  # module name -> the module object
    watched: list[Watched]


def snapshot() -> Snapshot:
    """Record the grading modules' functions, classes and tables, and the library
    comparisons the graders use, to check later with `changed_since`."""
    modules: dict[str, Any] = {}
    watched: list[Watched] = []
    for name in GRADING_MODULES:
        module = sys.modules.get(name)
        if module is not None:  # not imported yet: nothing of it can have been used
            modules[name] = module
            watched.extend(_grading_attributes(module))
    for name, attributes in LIBRARY_FUNCTIONS.items():
        module = sys.modules.get(name)
        if module is not None:
            modules[name] = module
            watched.extend(_watch(module, name, a) for a in attributes if hasattr(module, a))
    return Snapshot(modules, watched)


def changed_since(before: Snapshot) -> list[str]:
    """One line for each module, function, class or table that is not what it was."""
    replaced = [
        name for name, module in before.modules.items() if sys.modules.get(name) is not module
    ]
    changes = [f"{name} was replaced while the graders ran" for name in replaced]
    already_said = tuple(f"{name}." for name in replaced)
    for was in before.watched:
        if was.name.startswith(already_said):
            continue
        if not hasattr(was.owner, was.attribute):
            changes.append(f"{was.name} was removed while the graders ran")
            continue
        now = getattr(was.owner, was.attribute)
        if now is not was.value:
            changes.append(f"{was.name} was replaced while the graders ran")
        elif _inside(now) != was.inside and was.name not in modified_elsewhere(was, before):
            changes.append(f"{was.name} was modified while the graders ran")
    return changes


def modified_elsewhere(was: Watched, before: Snapshot) -> set[str]:
    """A function imported into another grading module (`from grading.classify import
    classify`) is watched under both names: a change to its code is said once, under the
    name of the module that defines it."""
    home = f"{getattr(was.value, '__module__', '')}.{getattr(was.value, '__qualname__', '')}"
    watched_at_home = any(other.name == home for other in before.watched)
    return {was.name} if watched_at_home and was.name != home else set()


def _grading_attributes(module: Any) -> Iterator[Watched]:
    """A grading module's callables (and the methods of the classes it defines) and tables."""
    name = module.__name__
    tables = GRADING_TABLES.get(name, ())
    for attribute, value in vars(module).items():
        if attribute.startswith("__") or not (callable(value) or attribute in tables):
            continue
        yield _watch(module, name, attribute)
        if isinstance(value, type) and value.__module__ == name:
            for method, function in vars(value).items():
                if callable(function):
                    yield _watch(value, f"{name}.{attribute}", method)


def _watch(owner: Any, owner_name: str, attribute: str) -> Watched:
    value = getattr(owner, attribute)
    return Watched(f"{owner_name}.{attribute}", owner, attribute, value, _inside(value))


def _inside(value: Any) -> Any:
    """What can change without replacing `value`: a function's code, a table's contents."""
    if isinstance(value, dict):
        return dict(value)
    return getattr(value, "__code__", None)
