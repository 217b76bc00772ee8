"""Keep Numba's compiled kernels of a module across an edit that does not touch them.

Numba's on-disk cache (`cache=True`) is kept per function, in files named after the
module, the function and its first line (`kernels.im2col-201.py311.nbi` and `.nbc`), but
each index carries a stamp of the whole source file: change one line anywhere in
kernels.py and every kernel in it compiles again. A bug planted in one kernel of chapter 05
cost a full recompile, 20 to 40 s, though one kernel changed.

`carry_over` re-stamps the index of each function the edit provably did not touch, so only
the rest compiles. A function is untouched when its definition and every module-level name
it reaches (the functions it calls, the constants and imports it reads, its decorators'
arguments; followed transitively) is the same syntax tree before and after, and its first
line did not move. Anything this cannot prove (a name defined twice, a `global`, a file
that does not parse) counts as touched: the cost of a mistake here is a recompile, never a
stale kernel.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numba
from numba.core import caching, serialize


def _names_bound(statement: ast.stmt) -> list[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return [(alias.asname or alias.name).split(".")[0] for alias in statement.names]
    # assignments, and anything else that could bind a name: what it stores
    return [
        node.id
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    ]


def _decorator_name(decorator: ast.expr) -> str:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")


def _side_effects(tree: ast.Module) -> list[str]:
    """The module-level statements that can act on functions that do not name them: those
    that bind no name (a call that registers something), and functions with a decorator
    other than Numba's `jit` and `njit` (`@overload(np.sum)` changes every caller of
    np.sum). Any change to these changes every function."""
    return [
        ast.dump(statement)
        for statement in tree.body
        if not _names_bound(statement)
        or any(
            _decorator_name(decorator) not in {"jit", "njit"}
            for decorator in getattr(statement, "decorator_list", [])
        )
    ]


def _definitions(tree: ast.Module) -> dict[str, list[ast.stmt]]:
    """Each module-level name, with the statements that bind it."""
    bound: dict[str, list[ast.stmt]] = {}
    for statement in tree.body:
        for name in _names_bound(statement):
            bound.setdefault(name, []).append(statement)
    return bound


def _reached(name: str, bound: dict[str, list[ast.stmt]]) -> set[str] | None:
    """The module-level names `name`'s definition reaches, itself included (None: unsure)."""
    reached, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in reached:
            continue
        reached.add(current)
        for statement in bound.get(current, []):
            for node in ast.walk(statement):
                if isinstance(node, (ast.Global, ast.Nonlocal)):
                    return None
                if isinstance(node, ast.Name) and node.id in bound:
                    todo.append(node.id)
    return reached


def _unchanged(name: str, before: ast.Module, after: ast.Module) -> bool:
    old, new = _definitions(before), _definitions(after)
    if len(old.get(name, [])) != 1 or len(new.get(name, [])) != 1:
        return False
    old_names, new_names = _reached(name, old), _reached(name, new)
    if old_names is None or old_names != new_names:
        return False
    return all(
        [ast.dump(s) for s in old.get(n, [])] == [ast.dump(s) for s in new.get(n, [])]
        for n in old_names
    )


def _stamp(source: Path) -> object:
    """The stamp Numba puts in an index for `source` (its own code computes it)."""
    in_tree = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator
    locator = object.__new__(in_tree)
    locator._py_file = str(source)
    return locator.get_source_stamp()


def _first_lines(tree: ast.Module | None) -> dict[str, int]:
    """Each module-level function's first line as Python counts it (decorators included),
    which Numba puts in its cache's file names."""
    return {
        node.name: min([node.lineno] + [decorator.lineno for decorator in node.decorator_list])
        for node in (tree.body if tree else [])
        if isinstance(node, ast.FunctionDef)
    }


def carry_over(old_source: Path, new_source: Path, cache_dir: Path) -> list[str]:
    """Re-stamp, in `cache_dir`, the indexes of `new_source`'s functions that the edit from
    `old_source` left untouched (renamed where their first line moved), and delete every
    other index and data file of the module. Returns the names of the functions carried.

    The indexes in `cache_dir` must be `old_source`'s (the same file contents)."""
    try:
        before = ast.parse(old_source.read_text(encoding="utf-8"))
        after = ast.parse(new_source.read_text(encoding="utf-8"))
    except SyntaxError:
        before = after = None
    if before is not None and _side_effects(before) != _side_effects(after):
        before = after = None
    old_lines, new_lines = _first_lines(before), _first_lines(after)
    stamps = _stamp(old_source), _stamp(new_source)
    kept = {}
    for index in sorted(cache_dir.glob(f"{new_source.stem}.*.nbi")):
        # kernels.im2col-201.py311.nbi: the function's name and first line
        name, _, line = index.name.split(".", 1)[1].split(".py")[0].rpartition("-")
        fresh = old_lines.get(name) == int(line) and name in new_lines
        if fresh and _unchanged(name, before, after):
            kept[name] = index
        else:
            for stale in cache_dir.glob(index.name.removesuffix("nbi") + "*"):
                stale.unlink()
    carried = []
    for name, index in kept.items():
        moved = f"-{old_lines[name]}.py", f"-{new_lines[name]}.py"
        if _restamp(index, *stamps, moved):
            carried.append(name)
    return carried


def _restamp(index: Path, old_stamp: object, new_stamp: object, moved: tuple[str, str]) -> bool:
    """Rewrite `index` with `new_stamp` if it holds `old_stamp` and this Numba's version
    (the layout of numba.core.caching.IndexDataCacheFile._save_index); rename it and its
    data files by `moved` (old and new line in the name). Otherwise delete them."""
    files = list(index.parent.glob(index.name.removesuffix("nbi") + "*"))
    with open(index, "rb") as file:
        version = pickle.load(file)
        stamp, overloads = pickle.loads(file.read())
    if version != numba.__version__ or stamp != old_stamp:
        for stale in files:
            stale.unlink()
        return False
    old, new = moved
    for data in files:
        data.rename(data.with_name(data.name.replace(old, new)))
    overloads = {key: data_name.replace(old, new) for key, data_name in overloads.items()}
    with open(index.with_name(index.name.replace(old, new)), "wb") as file:
        pickle.dump(version, file, protocol=-1)
        file.write(serialize.dumps((new_stamp, overloads)))
    return True
