"""Mutation testing of the graders: how much wrong code does a chapter's grade let through?

    python -m grading.mutate 03               every mutant of chapter 03, then the report
    python -m grading.mutate 05 --sample 40   a seeded sample of 40 (Numba recompiles per mutant)
    python -m grading.mutate 03 --list        the mutants only, without grading them
    python -m grading.mutate 05 --jobs 2      two mutants at a time (one per core, say)

A maintainer's command: it needs the whole repository (the answer key, the stubs, tests/).

An exercise body is a function whose stub in chapters/NN/<module>.py raises
NotImplementedError("Exercise N.M: ..."). Each mutant makes one small change to one such
function of the answer key (solutions/<module>.py): an operator, a comparison or a number
changed, a call, a keyword argument or a statement dropped, a return value swapped,
`.copy()` or `.astype(...)` left out, a range or a slice off by one. The change is spliced
in where the original code stood; the rest of the file stays byte for byte the same.

Each mutant is graded as the learner's file: in a throwaway copy of the course, the mutant
becomes chapters/NN/<module>.py and `pytest chapters/NN` runs in a subprocess, the mutated
exercise's tests first, stopping at the first failure. The mutant is killed when some
exercise does not PASS. A survivor is a change the graders cannot see: either a grader is
missing, or the change does not change what the code does (an equivalent mutant), which is
then listed in grading/equivalent-mutants.toml with a one-line reason.

Why not mutmut or cosmic-ray: neither knows what an exercise body is, and mutmut 3 rewrites
every function into a trampoline that Numba kernels do not survive. This file is small.

Not mutated: strings (error messages are graded by what they name, not their wording),
docstrings, signatures, decorators, and zip's `strict=` (it only guards the answer key
against its own mistakes). The first assignment of a name is not dropped: that can only
raise NameError.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import datetime
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grading.manifest import ROOT, chapter_numbers, load_chapter, tomllib

SOLUTIONS_DIR = ROOT / "solutions"
EQUIVALENTS_FILE = ROOT / "grading" / "equivalent-mutants.toml"
REPORT_FILE = ROOT / "grading" / "mutation-report.md"
STUB_MESSAGE = re.compile(r"^Exercise (\d+\.\d+): ")
SHOWN_CHARS = 120  # a changed line longer than this is cut, in the report and in the keys
# Tells the grading subprocess which exercise's tests to run first.
FIRST_EXERCISE = "KINDLING_MUTANT_EXERCISE"

Function = ast.FunctionDef | ast.AsyncFunctionDef
Key = tuple[str, str, str, str]  # file, function, old line, new line


# ---------------------------------------------------------------------------
# Finding the exercise bodies
# ---------------------------------------------------------------------------


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, Function]]:
    """Every function and method in `tree`, with its qualified name (`SGD._update`)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = prefix + node.name
            if not isinstance(node, ast.ClassDef):
                yield name, node
            yield from _functions(node, name + ".")


def _stub_exercise(function: Function) -> str | None:
    """The exercise id in the stub's `raise NotImplementedError("Exercise N.M: ...")`."""
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Raise)
            and isinstance(node.exc, ast.Call)
            and getattr(node.exc.func, "id", None) == "NotImplementedError"
            and node.exc.args
            and isinstance(node.exc.args[0], ast.Constant)
            and isinstance(node.exc.args[0].value, str)
        ):
            match = STUB_MESSAGE.match(node.exc.args[0].value)
            if match:
                return match.group(1)
    return None


@dataclass(frozen=True)
class ExerciseBody:
    file: str  # "optim.py"
    function: str  # "SGD._update"
    exercise: str  # "3.2"


def exercise_bodies(chapter: str) -> list[ExerciseBody]:
    """The functions of the chapter's stubs that raise an exercise's NotImplementedError."""
    bodies = []
    for module in load_chapter(chapter).modules:
        stub = ROOT / "chapters" / chapter / f"{module}.py"
        for name, function in _functions(ast.parse(stub.read_text(encoding="utf-8"))):
            exercise = _stub_exercise(function)
            if exercise is not None:
                bodies.append(ExerciseBody(stub.name, name, exercise))
    return bodies


# ---------------------------------------------------------------------------
# The one-change variants of one node
# ---------------------------------------------------------------------------

BINARY_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.MatMult: ast.Mult,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitAnd,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
COMPARE_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
# Calls whose result is the receiver in another form: `x.copy()` -> `x`.
DROPPABLE_METHODS = {"copy", "astype", "ravel", "flatten", "item", "tolist", "view"}
RANGES = {"range", "prange"}
UNMUTATED_KEYWORDS = {"strict"}


def _with(node: ast.AST, **changes: object) -> ast.AST:
    """A shallow copy of `node` with some fields replaced."""
    changed = copy.copy(node)
    for name, value in changes.items():
        setattr(changed, name, value)
    return changed


def _shifted(expr: ast.expr, by: int) -> ast.expr:
    """`expr + 1` or `expr - 1`."""
    op = ast.Add() if by > 0 else ast.Sub()
    return ast.BinOp(left=expr, op=op, right=ast.Constant(abs(by)))


def _expression_mutations(node: ast.AST, parent: ast.AST | None) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY_SWAPS:
        return [_with(node, op=BINARY_SWAPS[type(node.op)]())]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.BoolOp):
        return [_with(node, op=ast.Or() if isinstance(node.op, ast.And) else ast.And())]
    if isinstance(node, ast.Compare):
        return [
            _with(node, ops=[*node.ops[:i], COMPARE_SWAPS[type(op)](), *node.ops[i + 1 :]])
            for i, op in enumerate(node.ops)
        ]
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return [ast.Constant(not node.value)]
        if isinstance(node.value, (int, float)):
            return [ast.Constant(node.value + 1)]
    if isinstance(node, ast.Call):
        # A call whose result is not used is dropped as a whole statement instead.
        return _call_mutations(node, result_used=not isinstance(parent, (ast.Expr, ast.Raise)))
    if isinstance(node, ast.Slice):
        found = []
        if node.lower is not None:
            found.append(_with(node, lower=_shifted(node.lower, +1)))
        if node.upper is not None:
            found.append(_with(node, upper=_shifted(node.upper, -1)))
        return found
    return []


def _call_mutations(call: ast.Call, result_used: bool) -> list[ast.AST]:
    found: list[ast.AST] = []
    func = call.func
    if result_used:
        if isinstance(func, ast.Attribute) and func.attr in DROPPABLE_METHODS:
            found.append(func.value)  # x.copy() -> x
        elif len(call.args) == 1 and not isinstance(call.args[0], ast.Starred):
            found.append(call.args[0])  # f(x) -> x
    for i, keyword in enumerate(call.keywords):
        if keyword.arg is not None and keyword.arg not in UNMUTATED_KEYWORDS:
            found.append(_with(call, keywords=call.keywords[:i] + call.keywords[i + 1 :]))
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    if name in RANGES and call.args:
        stop = 0 if len(call.args) == 1 else 1
        args = list(call.args)
        args[stop] = _shifted(args[stop], -1)
        found.append(_with(call, args=args))
        if len(call.args) > 1:
            found.append(_with(call, args=[_shifted(call.args[0], +1), *call.args[1:]]))
    return found


def _statement_mutations(node: ast.stmt, bound_before: set[str]) -> list[ast.AST]:
    """The variants of a statement; ast.Pass stands for the statement dropped."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return [ast.Pass()]
    if isinstance(node, (ast.AugAssign, ast.Raise, ast.Delete)):
        return [ast.Pass()]
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        return [ast.Pass()] if names <= bound_before else []
    if isinstance(node, ast.Return) and node.value is not None:
        value = node.value
        if isinstance(value, ast.Tuple) and len(value.elts) >= 2:
            swapped = [value.elts[1], value.elts[0], *value.elts[2:]]
            return [ast.Return(value=_with(value, elts=swapped))]
        if not (isinstance(value, ast.Constant) and value.value is None):
            return [ast.Return(value=ast.Constant(None))]
    if isinstance(node, ast.Break):
        return [ast.Continue()]
    if isinstance(node, ast.Continue):
        return [ast.Break()]
    return []


def _is_docstring(node: ast.AST, parent: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (
        isinstance(body, list)
        and body[:1] == [node]
        and isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_plain_condition(node: ast.expr, parent: ast.AST) -> bool:
    """The test of an `if`, `while` or `x if c else y` that no operator swap can turn
    around (a name, a call, a subscript): its mutant is `not (test)`."""
    return (
        isinstance(parent, (ast.If, ast.While, ast.IfExp))
        and parent.test is node
        and not isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp))
    )


# ---------------------------------------------------------------------------
# Applying one mutation to one function
# ---------------------------------------------------------------------------


class _Mutator(ast.NodeTransformer):
    """Walks a function in a fixed order, numbering the possible mutations; replaces the
    node of mutation number `target` (if any) and remembers which node that was."""

    def __init__(self, function: Function, target: int = -1) -> None:
        self.target = target
        self.count = 0
        self.replaced: tuple[ast.AST, ast.AST] | None = None
        self.parents: list[ast.AST] = []
        self.arguments = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
        self.stores = [
            (n.lineno, n.id)
            for n in ast.walk(function)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        ]

    def _bound_before(self, line: int) -> set[str]:
        """The arguments, and the names assigned on lines before `line`."""
        return self.arguments | {name for stored_at, name in self.stores if stored_at < line}

    def visit(self, node: ast.AST) -> ast.AST:
        parent = self.parents[-1] if self.parents else None
        if self._left_alone(node, parent):
            return node
        options: list[ast.AST] = []
        if isinstance(node, ast.stmt):
            options = _statement_mutations(node, self._bound_before(node.lineno))
        elif isinstance(node, ast.expr):
            options = _expression_mutations(node, parent)
            if parent is not None and _is_plain_condition(node, parent):
                options.append(ast.UnaryOp(op=ast.Not(), operand=node))
        first, self.count = self.count, self.count + len(options)
        if first <= self.target < self.count:
            self.replaced = (node, options[self.target - first])
            return self.replaced[1]
        self.parents.append(node)
        try:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                # The signature and the decorators are the stub's too: only the body changes.
                body = node.body
                node.body = (
                    [self.visit(s) for s in body] if isinstance(body, list) else self.visit(body)
                )
                return node
            return self.generic_visit(node)
        finally:
            self.parents.pop()

    @staticmethod
    def _left_alone(node: ast.AST, parent: ast.AST | None) -> bool:
        return (
            isinstance(node, ast.JoinedStr)
            or (parent is not None and _is_docstring(node, parent))
            or (isinstance(node, ast.keyword) and node.arg in UNMUTATED_KEYWORDS)
        )


@dataclass(frozen=True)
class Mutant:
    """One change to one exercise body, with the whole mutated file."""

    file: str
    function: str
    exercise: str
    line: int
    old: str  # the changed line(s), as one line
    new: str
    source: str

    @property
    def key(self) -> Key:
        return (self.file, self.function, self.old, self.new)

    def describe(self) -> str:
        """`optim.py:281 SGD._update: - buf *= momentum  + buf /= momentum`."""
        return f"{self.file}:{self.line} {self.function}: - {self.old}  + {self.new}"


def _one_line(text: str) -> str:
    joined = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return joined if len(joined) <= SHOWN_CHARS else joined[: SHOWN_CHARS - 1] + "…"


def _find(tree: ast.AST, qualname: str) -> Function:
    for name, function in _functions(tree):
        if name == qualname:
            return function
    raise LookupError(f"no function {qualname} in the answer key")


def _splice(source: str, node: ast.AST, text: str) -> str:
    """`source` with `node`'s span replaced by `text`. AST columns count UTF-8 bytes."""
    raw = source.encode("utf-8")
    offsets = [0]
    for line in raw.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    first = offsets[node.lineno - 1] + node.col_offset
    last = offsets[node.end_lineno - 1] + node.end_col_offset
    return (raw[:first] + text.encode("utf-8") + raw[last:]).decode("utf-8")


def _first_line(function: Function) -> int:
    """The function's first line: its first decorator's, or its `def`."""
    return min([function.lineno, *(d.lineno for d in function.decorator_list)])


def _parse_function(lines: list[str], first: int, last: int) -> Function:
    """The function on lines `first` to `last` (1-based) of a file, parsed alone, with the
    line numbers and columns it has in the file. Parsing these few lines is much quicker
    than parsing the file again, or copying the tree (copy.deepcopy)."""
    chunk = lines[first - 1 : last]
    indented = chunk[0][:1].isspace()
    text = "\n".join(["if 1:", *chunk] if indented else chunk)  # `if 1:` keeps the columns
    tree = ast.parse(text)
    function = tree.body[0].body[0] if indented else tree.body[0]
    ast.increment_lineno(function, first - 1 - indented)
    return function


def _spliced_source(
    source: str, mutated: Function, original: Function, node: ast.AST, new: ast.AST
) -> str:
    """The file with `node` replaced by `new`, checked by parsing it back: without
    parentheses if that gives the intended code, else with them (for precedence)."""
    expected = ast.dump(mutated)
    text = ast.unparse(new)
    lines_before = source.count("\n")
    for candidate in (text, f"({text})") if isinstance(new, ast.expr) else (text,):
        spliced = _splice(source, node, candidate)
        last = original.end_lineno + spliced.count("\n") - lines_before
        try:
            function = _parse_function(spliced.splitlines(), _first_line(original), last)
        except SyntaxError:
            continue
        if ast.dump(function) == expected:
            return spliced
    raise RuntimeError(f"cannot splice {text!r} in place of line {node.lineno}")


def mutants_of(body: ExerciseBody) -> list[Mutant]:
    """Every mutant of one exercise body, in the order of the code; a change that gives
    the same code as the original (or as an earlier mutant) is left out."""
    source = (SOLUTIONS_DIR / body.file).read_text(encoding="utf-8")
    lines = source.splitlines()
    original = _find(ast.parse(source), body.function)
    span = (_first_line(original), original.end_lineno or original.lineno)

    def fresh() -> Function:  # a copy of the original to mutate
        return _parse_function(lines, *span)

    counter = _Mutator(original)
    counter.visit(fresh())
    unchanged = ast.dump(original)
    mutants, seen = [], {source}
    for target in range(counter.count):
        mutator = _Mutator(original, target)
        function = mutator.visit(fresh())
        if mutator.replaced is None or ast.dump(function) == unchanged:
            continue
        node, replacement = mutator.replaced
        try:
            mutated = _spliced_source(source, function, original, node, replacement)
        except RuntimeError as error:
            raise RuntimeError(f"{body.function}: {error}") from None
        if mutated in seen:
            continue
        seen.add(mutated)
        tail = len(lines) - node.end_lineno  # the lines after the change, all unchanged
        new_lines = mutated.splitlines()[node.lineno - 1 : len(mutated.splitlines()) - tail]
        old_lines = lines[node.lineno - 1 : node.end_lineno]
        mutants.append(
            Mutant(
                body.file,
                body.function,
                body.exercise,
                node.lineno,
                _one_line("\n".join(old_lines)),
                _one_line("\n".join(new_lines)),
                mutated,
            )
        )
    return _numbered(mutants)


def _numbered(mutants: list[Mutant]) -> list[Mutant]:
    """Two mutants of one function that read the same on one line get `#2`, `#3`...
    so that each has its own key."""
    seen: dict[Key, int] = {}
    numbered = []
    for mutant in mutants:
        count = seen[mutant.key] = seen.get(mutant.key, 0) + 1
        if count > 1:
            mutant = Mutant(**{**mutant.__dict__, "new": f"{mutant.new}  #{count}"})
        numbered.append(mutant)
    return numbered


def chapter_mutants(chapter: str) -> list[Mutant]:
    return [mutant for body in exercise_bodies(chapter) for mutant in mutants_of(body)]


# ---------------------------------------------------------------------------
# Equivalent mutants
# ---------------------------------------------------------------------------

EQUIVALENT_FIELDS = ("file", "function", "old", "new", "reason")


def load_equivalents(path: Path = EQUIVALENTS_FILE) -> dict[Key, str]:
    """grading/equivalent-mutants.toml: the mutants that change nothing a grader could
    see, each with the reason why. An entry without a reason is refused."""
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("equivalent", [])
    listed = {}
    for number, entry in enumerate(entries, 1):
        missing = [name for name in EQUIVALENT_FIELDS if not str(entry.get(name, "")).strip()]
        if missing:
            where = f"{path.name}: equivalent #{number} ({entry.get('function')})"
            raise ValueError(f"{where} has no {', '.join(missing)}")
        listed[tuple(entry[name] for name in EQUIVALENT_FIELDS[:4])] = entry["reason"]
    return listed


def toml_entry(mutant: Mutant) -> str:
    """A survivor as an entry to paste into the equivalents file, its reason left to fill in."""
    fields = dict(zip(EQUIVALENT_FIELDS, (*mutant.key, ""), strict=True))
    # A JSON string is a valid TOML string.
    return "[[equivalent]]\n" + "".join(
        f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in fields.items()
    )


# ---------------------------------------------------------------------------
# Grading a mutant
# ---------------------------------------------------------------------------


@dataclass
class Verdict:
    killed: bool
    why: str  # "3.2 FAIL: ..." or "survived"
    seconds: float


class MutantGrader:
    """A throwaway copy of the course holding one chapter, where each mutant in turn is
    written as the learner's file and graded in a subprocess."""

    def __init__(self, chapter: str, root: Path) -> None:
        from tests.workspace import Workspace  # the copy that the course's own tests grade

        self.chapter = chapter
        self.workspace = Workspace(root, chapter)
        self.workspace.use_answer_key()
        self.timeout = load_chapter(chapter).timeout
        self.limit = 600.0  # seconds for one run, until the baseline is measured
        self._stamp = time.time_ns()

    def baseline(self) -> float:
        """Grade the unchanged answer key: it must pass, and its time sets the limit."""
        verdict = self._grade(first_exercise="", stop_early=False)
        if verdict.killed:
            raise RuntimeError(
                f"the answer key does not pass chapter {self.chapter}: {verdict.why}"
            )
        self.limit = 5 * verdict.seconds + 120  # 5x headroom, and time for Numba to recompile
        return verdict.seconds

    def grade(self, mutant: Mutant) -> Verdict:
        path = self.workspace.chapter_dir / mutant.file
        original = path.read_bytes()
        self._write(path, mutant.source.encode("utf-8"))
        try:
            return self._grade(first_exercise=mutant.exercise, stop_early=True)
        finally:
            self._write(path, original)

    def _write(self, path: Path, data: bytes) -> None:
        """Write the file with a new, later timestamp: Python's and Numba's caches key
        compiled code on (mtime, size), and two mutants may have the same size."""
        path.write_bytes(data)
        self._stamp += 2_000_000_000  # whole seconds apart: .pyc files keep seconds only
        os.utime(path, ns=(self._stamp, self._stamp))

    def _grade(self, first_exercise: str, stop_early: bool) -> Verdict:
        result_file = self.workspace.root / "grades.json"
        result_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "KINDLING_IMPL"}
        env.update(KINDLING_TIMEOUT=str(self.timeout), **{FIRST_EXERCISE: first_exercise})
        # Plain asserts: rewriting the graders' asserts for their messages would take longer
        # than grading a mutant, and a failed assert kills the mutant either way.
        command = [sys.executable, "-m", "pytest", f"chapters/{self.chapter}", "-q",
                   "--assert=plain", "-p", "grading.mutate", "--grade-json", str(result_file)]  # fmt: skip
        if stop_early:
            command.append("-x")
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=self.workspace.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # so that a hung run is ended with all it started
        )
        try:
            output, _ = process.communicate(timeout=self.limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return Verdict(
                True, f"hung: killed after {self.limit:.0f} s", time.monotonic() - started
            )
        seconds = time.monotonic() - started
        last_line = (output.strip().splitlines() or ["no output"])[-1]
        if not result_file.exists():
            return Verdict(
                True, f"no grades (pytest exit {process.returncode}): {last_line}", seconds
            )
        exercises = json.loads(result_file.read_text())["chapters"][self.chapter]["exercises"]
        for exercise in exercises:
            if exercise["status"] not in {"PASS", "NOT RUN"}:
                why = f"{exercise['id']} {exercise['status']}: {exercise['detail']}"
                return Verdict(True, why, seconds)
        if process.returncode != 0:
            return Verdict(True, f"pytest exit {process.returncode}: {last_line}", seconds)
        not_run = [e["id"] for e in exercises if e["status"] != "PASS"]
        if not_run:
            return Verdict(True, f"{', '.join(not_run)} NOT RUN", seconds)
        return Verdict(False, "survived", seconds)


def pytest_collection_modifyitems(config: object, items: list) -> None:
    """Loaded with `-p grading.mutate`: the mutated exercise's tests run first, so that
    with -x most mutants die within a test or two."""
    first = os.environ.get(FIRST_EXERCISE)
    if not first:
        return

    def not_first(item) -> bool:  # a pytest.Item
        marker = item.get_closest_marker("exercise")
        return marker is None or str(marker.args[0]) != first

    items.sort(key=not_first)  # a stable sort: the rest keep their order


# ---------------------------------------------------------------------------
# A chapter's run and the report
# ---------------------------------------------------------------------------


@dataclass
class ChapterResult:
    chapter: str
    mutants: int = 0
    sampled_from: int | None = None  # the chapter's mutant count, when a sample was graded
    killed: int = 0
    equivalent: int = 0
    survivors: list[Mutant] = field(default_factory=list)
    by_exercise: dict[str, list[int]] = field(default_factory=dict)  # id: [killed, graded]
    seconds: float = 0.0

    @property
    def score(self) -> float:
        """Killed, of the mutants that are not equivalent."""
        graded = self.killed + len(self.survivors)
        return self.killed / graded if graded else 1.0


def run_chapter(
    chapter: str,
    mutants: list[Mutant],
    equivalents: dict[Key, str],
    sampled_from: int | None = None,
    echo: Callable[..., None] = print,
    jobs: int = 1,
) -> ChapterResult:
    """Grade each mutant, `jobs` at a time (each in its own copy of the course), echoing
    what happened to each as it is known."""
    result = ChapterResult(chapter, len(mutants), sampled_from)
    started = time.monotonic()
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix=f"kindling-mutants-{chapter}-") as folder:
        copies = [
            MutantGrader(chapter, Path(folder) / f"course-{job}") for job in range(max(1, jobs))
        ]
        first = copies[0]
        echo(f"chapter {chapter}: the answer key, unchanged ...", end=" ", flush=True)
        echo(f"all PASS in {first.baseline():.1f} s; {len(mutants)} mutants")
        graders: queue.Queue[MutantGrader] = queue.Queue()  # the copies free to grade
        for grader in copies:
            grader.limit = first.limit
            graders.put(grader)

        def grade(number: int, mutant: Mutant) -> None:
            prefix = f"[{number}/{len(mutants)}] {mutant.describe()}"
            if mutant.key in equivalents:
                with lock:
                    result.equivalent += 1
                    echo(f"{prefix}\n    equivalent: {equivalents[mutant.key]}")
                return
            grader = graders.get()
            try:
                verdict = grader.grade(mutant)
            finally:
                graders.put(grader)
            with lock:
                counts = result.by_exercise.setdefault(mutant.exercise, [0, 0])
                counts[0] += verdict.killed
                counts[1] += 1
                if verdict.killed:
                    result.killed += 1
                    echo(f"{prefix}\n    killed in {verdict.seconds:.1f} s by {verdict.why[:150]}")
                else:
                    result.survivors.append(mutant)
                    echo(f"{prefix}\n    SURVIVED ({verdict.seconds:.1f} s)")

        with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
            for done in [pool.submit(grade, n, m) for n, m in enumerate(mutants, 1)]:
                done.result()  # an error in the tool itself stops the run
    result.survivors.sort(key=mutants.index)  # the report lists them in the file's order
    result.seconds = time.monotonic() - started
    return result


def report_section(result: ChapterResult, today: str) -> str:
    """The report's section for one chapter, in Markdown."""
    graded = result.killed + len(result.survivors)
    scope = (
        f"a seeded sample of {result.mutants} of its {result.sampled_from} mutants"
        if result.sampled_from
        else f"all {result.mutants} mutants"
    )
    lines = [
        f"## Chapter {result.chapter}",
        "",
        f"Measured {today}, {scope}, in {result.seconds / 60:.0f} min "
        f"({result.seconds / max(graded, 1):.1f} s a graded mutant): {result.equivalent} "
        f"equivalent, {result.killed} of the {graded} others killed "
        f"(**{100 * result.score:.1f}%**), {len(result.survivors)} survived.",
        "",
        "| exercise | killed | graded |",
        "|---|---|---|",
    ]
    by_number = sorted(result.by_exercise.items(), key=lambda item: float(item[0]))
    lines += [f"| {exercise} | {killed} | {graded} |" for exercise, (killed, graded) in by_number]
    lines.append("")
    if result.survivors:
        lines += ["Survivors (file:line function: - the answer key's line  + the mutant's):", ""]
        lines += [f"- `{mutant.describe()}`" for mutant in result.survivors]
        lines.append("")
    return "\n".join(lines)


REPORT_HEADER = """# Mutation report

Written by `python -m grading.mutate`: each mutant is one small change to an exercise
body of the answer key, graded as the learner's file. Killed: some exercise did not
PASS. Equivalent mutants (grading/equivalent-mutants.toml) change nothing a grader
could see and are not graded. The score is killed / (mutants - equivalent).
"""


def write_report(results: list[ChapterResult], path: Path = REPORT_FILE) -> None:
    """Replace the sections of the chapters just run; keep the others."""
    today = datetime.date.today().isoformat()
    sections: dict[str, str] = {}
    if path.exists():
        for chunk in re.split(r"(?m)^(?=## Chapter )", path.read_text(encoding="utf-8"))[1:]:
            sections[chunk.split()[2]] = chunk.rstrip() + "\n"
    for result in results:
        sections[result.chapter] = report_section(result, today)
    body = "\n".join(sections[chapter] for chapter in sorted(sections))
    path.write_text(REPORT_HEADER + "\n" + body, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grading.mutate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("chapters", nargs="*", help="chapter numbers (default: all)")
    parser.add_argument(
        "--sample", type=int, metavar="N", help="grade a seeded sample of N per chapter"
    )
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--exercise", help="only this exercise's bodies, e.g. 3.2")
    parser.add_argument("--list", action="store_true", help="list the mutants, grade none")
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="grade N mutants at a time (default 1)"
    )
    parser.add_argument(
        "--no-report", action="store_true", help=f"do not update {REPORT_FILE.name}"
    )
    args = parser.parse_args(argv)

    equivalents = load_equivalents()
    results = []
    for chapter in [f"{int(c):02d}" for c in args.chapters] or chapter_numbers():
        mutants = chapter_mutants(chapter)
        if args.exercise:
            mutants = [m for m in mutants if m.exercise == args.exercise]
        total = len(mutants)
        if args.sample is not None and args.sample < total:
            chosen = set(random.Random(args.seed).sample(range(total), args.sample))
            mutants = [m for i, m in enumerate(mutants) if i in chosen]
        if args.list:
            for mutant in mutants:
                listed = "  (equivalent)" if mutant.key in equivalents else ""
                print(f"{mutant.exercise:<5} {mutant.describe()}{listed}")
            print(f"chapter {chapter}: {len(mutants)} mutants")
            continue
        sampled_from = total if len(mutants) < total else None
        result = run_chapter(chapter, mutants, equivalents, sampled_from, jobs=args.jobs)
        results.append(result)
        print(
            f"chapter {chapter}: {result.mutants} mutants, {result.equivalent} equivalent, "
            f"{result.killed} killed, {len(result.survivors)} survived "
            f"({100 * result.score:.1f}%) in {result.seconds:.0f} s"
        )
        for mutant in result.survivors:
            print(f"\n# {mutant.describe()}\n{toml_entry(mutant)}", end="")
    if results and not args.no_report and not args.exercise:
        write_report(results)
        print(f"written: {REPORT_FILE.relative_to(ROOT)}")
    return 1 if any(result.survivors for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
