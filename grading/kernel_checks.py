"""Checks on kernels that their results cannot show: races between the parallel tasks of
a Numba kernel, and CUDA barriers that only some threads of a block reach.

Both mistakes can give the right answer in every run on one machine: two tasks that
add into one element collide only when they happen to run at the same instant, and
numba-cuda's simulator lets a block past a barrier that a GPU would hang on. So these
checks look at what the code does, not only at what it returns:

- `find_race` runs a Numba kernel's Python source (`kernel.py_func`) with `prange`
  replaced by a loop that knows which iteration is running, and with every array the
  kernel writes logging each element it writes. Two iterations of one prange loop that
  write the same element are a race, however the threads are timed: the check is
  deterministic.
- `RepeatedRuns` runs the compiled kernels again and again in a fresh process with
  many more threads than cores, and reports results that change from run to run: a
  safety net for writes the Python run cannot see (it catches a race only sometimes).
- `barrier_problems` reads a CUDA kernel's source and finds each `cuda.syncthreads()`
  that some threads of a block may not reach: inside an `if`, `while` or `for` whose
  condition depends on the thread's index, or after a `return`, `break` or `continue`
  that only some threads take.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import functools
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------
# Races in Numba kernels, found by running their Python source
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Race:
    """Two iterations of one prange loop wrote the same element."""

    array: str  # the kernel's name for the array written, e.g. "grad"
    index: tuple[int, ...]  # the element, in that array
    iterations: tuple[int, int]  # the two prange iterations, first writer first
    loop_line: int  # the line of the prange loop
    write_line: int  # the line of the second write
    function: str  # the function that made it (the kernel, or a helper it calls)

    def __str__(self) -> str:
        first, second = self.iterations
        return (
            f"iterations {first} and {second} of the prange loop on line {self.loop_line} "
            f"both write {self.array}[{', '.join(map(str, self.index))}] (line "
            f"{self.write_line}, in {self.function})"
        )


class _RaceFound(BaseException):  # not an Exception: a kernel's `except` must not catch it
    def __init__(self, race: Race) -> None:
        super().__init__(str(race))
        self.race = race


class _Log:
    """Which prange iteration is running, and which one last wrote each element."""

    def __init__(self) -> None:
        self.loops = 0
        self.task: tuple[tuple[int, int], int] | None = None  # ((loop, its line), iteration)
        self.writes: dict[int, tuple[tuple[int, int], int] | None] = {}  # address -> task
        self.alive: list[np.ndarray] = []  # arrays written to: their memory is not reused


_LOG: _Log | None = None


class _Logged(np.ndarray):
    """An array that logs the address of every element written through it."""

    def __setitem__(self, key: Any, value: Any) -> None:
        if _LOG is not None:
            _record(_LOG, self, key)
        super().__setitem__(key, value)


def _address_grid(array: np.ndarray) -> np.ndarray:
    """The memory address of each element of `array`, in an array of its shape."""
    grid = np.full(array.shape, array.__array_interface__["data"][0], dtype=np.int64)
    for axis, (size, stride) in enumerate(zip(array.shape, array.strides, strict=True)):
        shape = [1] * array.ndim
        shape[axis] = size
        grid += (np.arange(size, dtype=np.int64) * stride).reshape(shape)
    return grid


def _addresses(array: np.ndarray, start: int, key: Any) -> list[int]:
    """The addresses that `array[key] = ...` writes; `start` is the array's first element."""
    index = key if isinstance(key, tuple) else (key,)
    if len(index) == array.ndim and all(isinstance(i, (int, np.integer)) for i in index):
        offset = 0  # one element, the common case: no array of addresses needed
        for i, size, stride in zip(index, array.shape, array.strides, strict=True):
            offset += (int(i) + size if i < 0 else int(i)) * stride
        return [start + offset]
    return np.asarray(_address_grid(array)[key]).ravel().tolist()


def _record(log: _Log, array: _Logged, key: Any) -> None:
    start = array.__dict__.get("_start")
    if start is None:  # the first write through this array (or view)
        start = array.__dict__["_start"] = array.__array_interface__["data"][0]
        log.alive.append(array)
    task = log.task
    for address in _addresses(array, start, key):
        previous = log.writes.get(address)
        same_loop = task is not None and previous is not None and previous[0] == task[0]
        if same_loop and previous[1] != task[1]:
            raise _RaceFound(_describe(address, array, previous[1], task, sys._getframe(2)))
        log.writes[address] = task


def _describe(address: int, written: np.ndarray, first: int, task: Any, frame: Any) -> Race:
    """Name the element at `address` as the kernel's frame sees it: its variable and index."""
    candidates = [(name, value) for name, value in frame.f_locals.items() if value is written]
    candidates += sorted(
        ((name, v) for name, v in frame.f_locals.items() if isinstance(v, np.ndarray)),
        key=lambda item: -item[1].size,  # the largest array holding the element: the whole output
    )
    name, index = "an array", ()
    for candidate, value in candidates:
        found = np.argwhere(_address_grid(value) == address)
        if len(found):
            name, index = candidate, tuple(int(i) for i in found[0])
            break
    (_, loop_line), second = task
    return Race(name, index, (first, second), loop_line, frame.f_lineno, frame.f_code.co_name)


def _prange(*args: int) -> Iterator[int]:
    """numba.prange, as a plain loop that tells the log which iteration is running."""
    log = _LOG
    if log is None or log.task is not None:  # nested in a prange: Numba runs it serially
        yield from range(*args)
        return
    log.loops += 1
    loop = (log.loops, sys._getframe(1).f_lineno)
    try:
        for iteration in range(*args):
            log.task = (loop, iteration)
            yield iteration
    finally:
        log.task = None


_CREATORS = (
    "array", "asarray", "ascontiguousarray", "copy", "empty", "empty_like", "full",
    "full_like", "ones", "ones_like", "zeros", "zeros_like",
)  # fmt: skip


def _logged_result(create: Callable) -> Callable:
    @functools.wraps(create)
    def create_logged(*args: Any, **kwargs: Any) -> Any:
        result = create(*args, **kwargs)
        return result.view(_Logged) if isinstance(result, np.ndarray) else result

    return create_logged


class _NumPy(types.SimpleNamespace):
    """numpy for a traced kernel: arrays it creates log their writes."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


class _Numba(types.SimpleNamespace):
    """numba for a traced kernel: `numba.prange` is the logging loop."""

    def __getattr__(self, name: str) -> Any:
        import numba

        return getattr(numba, name)


def _traced_globals(namespace: dict[str, Any], done: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A copy of a module's globals in which prange, numpy's array creators and the
    module's other Numba functions (as their Python source) are the traced versions."""
    import numba
    from numba.core.dispatcher import Dispatcher

    if id(namespace) in done:
        return done[id(namespace)]
    traced = done[id(namespace)] = dict(namespace)
    creators = {id(getattr(np, name)): _logged_result(getattr(np, name)) for name in _CREATORS}
    for name, value in namespace.items():
        if value is numba.prange:
            traced[name] = _prange
        elif value is numba:
            traced[name] = _Numba(prange=_prange)
        elif value is np:
            traced[name] = _NumPy(**{n: _logged_result(getattr(np, n)) for n in _CREATORS})
        elif id(value) in creators and callable(value):
            traced[name] = creators[id(value)]
        elif isinstance(value, Dispatcher):
            traced[name] = _rebind(value.py_func, _traced_globals(value.py_func.__globals__, done))
    return traced


def _rebind(function: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    """The same function, looking its global names up in `namespace`."""
    rebound = types.FunctionType(
        function.__code__, namespace, function.__name__, function.__defaults__, function.__closure__
    )
    rebound.__kwdefaults__ = function.__kwdefaults__
    return rebound


def _uses_thread_ids(function: types.FunctionType) -> bool:
    """A kernel that indexes scratch space by thread id is race-free in ways a serial run
    cannot see: such kernels are left to `repeated_runs`."""
    return any("thread_id" in name for name in function.__code__.co_names)


def find_race(kernel: Any, *args: Any) -> Race | None:
    """Run `kernel(*args)` from its Python source, serially, and return the first element
    that two iterations of one prange loop write (None when there is none).

    Arrays among `args`, and the arrays the kernel creates with numpy, log every element
    written through them or through their views. A nested prange runs as a plain loop,
    as Numba runs it. The stub's NotImplementedError passes through; any other error of
    the Python run returns None: the tests of the kernel's results say what is wrong.
    """
    global _LOG
    function = getattr(kernel, "py_func", kernel)
    if not isinstance(function, types.FunctionType) or _uses_thread_ids(function):
        return None
    traced = _rebind(function, _traced_globals(function.__globals__, {}))
    logged = [a.view(_Logged) if isinstance(a, np.ndarray) else a for a in args]
    _LOG = _Log()
    try:
        traced(*logged)
    except _RaceFound as found:
        return found.race
    except NotImplementedError:
        raise
    except Exception:
        return None
    finally:
        _LOG = None
    return None


# ---------------------------------------------------------------------------
# Races in compiled kernels, seen as results that change from run to run
# ---------------------------------------------------------------------------

_REPEAT_SCRIPT = """
import os, pickle, sys, json
import numpy as np
import kindling.kernels as kernels
cases, runs, out_path = pickle.load(open(sys.argv[1], "rb")), int(sys.argv[2]), sys.argv[3]
report = {}
for label, (name, args) in cases.items():
    try:
        first = getattr(kernels, name)(*args)
        first = first if isinstance(first, tuple) else (first,)
        report[label] = {"status": "same"}
        for run in range(2, runs + 1):
            again = getattr(kernels, name)(*args)
            again = again if isinstance(again, tuple) else (again,)
            for which, (a, b) in enumerate(zip(first, again)):
                close = np.isclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)
                if not close.all():
                    index = [int(i) for i in np.argwhere(~close)[0]]
                    report[label] = {"status": "differs", "run": run, "output": which,
                                     "index": index, "first": float(a[tuple(index)]),
                                     "again": float(b[tuple(index)])}
                    break
            if report[label]["status"] != "same":
                break
    except BaseException as error:
        report[label] = {"status": "error", "message": f"{type(error).__name__}: {error}"}
    with open(out_path, "w") as out:
        json.dump(report, out)
"""


class RepeatedRuns:
    """Each case's kernel run `runs` times in a fresh process with `threads` Numba threads,
    started at once in the background; `results()` waits for it.

    `cases` maps a label to (a function name in kindling.kernels, its arguments). The
    child process imports kindling as this one does (KINDLING_IMPL is inherited), and sets
    NUMBA_NUM_THREADS before Numba starts: more threads than cores make the operating
    system interleave them, so that colliding writes show.
    """

    def __init__(self, cases: dict[str, tuple[str, tuple]], runs: int, threads: int) -> None:
        self.runs, self.threads = runs, threads
        self.folder = Path(tempfile.mkdtemp(prefix="kindling-repeated-"))
        spec, self.out = self.folder / "cases.pickle", self.folder / "report.json"
        spec.write_bytes(pickle.dumps(cases))
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command = [sys.executable, "-c", _REPEAT_SCRIPT, str(spec), str(runs), str(self.out)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.report: dict[str, dict[str, Any]] | None = None
        atexit.register(self.close)  # not read (its tests deselected): stopped at exit

    def results(self, timeout_s: float = 120) -> dict[str, dict[str, Any]]:
        """For each label: {"status": "same"}, {"status": "differs", "run", "output",
        "index", "first", "again"}, or {"status": "error", "message"}; a label is missing
        when the process died (or ran out of time) before it."""
        if self.report is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout_s)
            self.report = json.loads(self.out.read_text()) if self.out.exists() else {}
            self.close()
        return self.report

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------------------
# CUDA kernels: barriers that only some threads reach
# ---------------------------------------------------------------------------

# What differs between the threads of one block. blockIdx, blockDim and gridDim are the
# same for the whole block, so a barrier under a condition on them alone is reached by
# all of the block's threads or by none: CUDA allows that.
THREAD_INDEX = {"threadIdx", "laneid", "grid", "warpid"}
BARRIERS = {"syncthreads", "syncthreads_count", "syncthreads_and", "syncthreads_or"}


def _kernel_node(path: Path, function_name: str) -> ast.FunctionDef | None:
    stat = path.stat()
    for node in ast.walk(_parsed(str(path), stat.st_mtime_ns, stat.st_size)):
        if isinstance(node, ast.FunctionDef) and node.name == function_name:
            return node
    return None


@functools.lru_cache(maxsize=8)  # every grader of a kernel checks the same file
def _parsed(path: str, mtime_ns: int, size: int) -> ast.Module:
    """The file's syntax tree; the file's time and size are in the key, so an edit reparses."""
    return ast.parse(Path(path).read_text(encoding="utf-8"))


def _called_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return None


def _reads_thread_index(node: ast.AST, tainted: set[str]) -> bool:
    """True when the expression depends on which thread evaluates it."""
    for part in ast.walk(node):
        if isinstance(part, ast.Attribute) and part.attr in THREAD_INDEX:
            return True
        if isinstance(part, ast.Name) and (part.id in tainted or part.id in THREAD_INDEX):
            return True
        if _called_name(part) in THREAD_INDEX:
            return True
    return False


def _target_names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _thread_dependent_names(kernel: ast.FunctionDef) -> set[str]:
    """Every variable that may hold a different value in different threads: assigned
    (anywhere in the kernel) from the thread's index or from such a variable."""
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in ast.walk(kernel):
            pairs: list[tuple[ast.AST, ast.AST]] = []
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        pairs += zip(target.elts, node.value.elts, strict=False)
                    else:
                        pairs.append((target, node.value))
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                pairs.append((node.target, node.value))
            elif isinstance(node, ast.For):
                pairs.append((node.target, node.iter))
            elif isinstance(node, ast.NamedExpr):
                pairs.append((node.target, node.value))
            for target, value in pairs:
                names = _target_names(target) - tainted
                plain = isinstance(target, ast.Name | ast.Tuple | ast.List)  # not x[i] = ...
                if names and plain and _reads_thread_index(value, tainted):
                    tainted |= names
                    changed = True
    return tainted


def _contains_barrier(nodes: list[ast.stmt]) -> int | None:
    """The line of the first barrier among these statements (nested ones included)."""
    lines = [n.lineno for s in nodes for n in ast.walk(s) if _called_name(n) in BARRIERS]
    return min(lines) if lines else None


def _condition_text(node: ast.If | ast.While | ast.For) -> str:
    if isinstance(node, ast.For):
        return f"for {ast.unparse(node.target)} in {ast.unparse(node.iter)}"
    return f"{'if' if isinstance(node, ast.If) else 'while'} {ast.unparse(node.test)}"


DIVERGES = (
    "which depends on the thread's index: the threads that {what} never arrive, and the "
    "block hangs or computes wrong values on a GPU (the simulator does not notice)"
)


class _BarrierWalk:
    """Walks a kernel's statements, remembering the innermost thread-dependent `if` or loop
    around them and the loops they are in; collects each barrier some threads can miss."""

    def __init__(self, kernel: ast.FunctionDef, path: Path) -> None:
        self.kernel, self.file = kernel.name, path.name
        self.tainted = _thread_dependent_names(kernel)
        self.barriers = sorted(n.lineno for n in ast.walk(kernel) if _called_name(n) in BARRIERS)
        self.problems: list[str] = []

    def where(self, line: int) -> str:
        return f"{self.kernel} (line {line} of {self.file})"

    def visit(self, statements: list[ast.stmt], divergent: ast.stmt | None, loops: list) -> None:
        for statement in statements:
            if isinstance(statement, ast.If | ast.While | ast.For):
                condition = statement.iter if isinstance(statement, ast.For) else statement.test
                inner = divergent
                if inner is None and _reads_thread_index(condition, self.tainted):
                    inner = statement
                is_loop = isinstance(statement, ast.While | ast.For)
                self.visit(statement.body, inner, [*loops, statement] if is_loop else loops)
                self.visit(statement.orelse, inner, loops)
            elif isinstance(statement, ast.With | ast.Try):
                for name in ("body", "handlers", "orelse", "finalbody"):
                    self.visit(getattr(statement, name, []), divergent, loops)
            elif divergent is not None:
                self.check(statement, divergent, loops)

    def check(self, statement: ast.stmt, divergent: ast.stmt, loops: list) -> None:
        """A barrier in thread-dependent code, or a thread-dependent exit before one."""
        condition = f"`{_condition_text(divergent)}` (line {divergent.lineno})"
        barrier = _contains_barrier([statement])
        if barrier is not None:
            self.problems.append(
                f"{self.where(barrier)} calls cuda.syncthreads() inside {condition}, "
                + DIVERGES.format(what="skip it")
                + ". Put every barrier where all the block's threads reach it"
            )
        if not isinstance(statement, ast.Return | ast.Break | ast.Continue):
            return
        # A return skips every later barrier and those of the loops around it; a break or
        # a continue skips the barriers of its own loop.
        skippable = loops if isinstance(statement, ast.Return) else loops[-1:]
        missed = [b for b in self.barriers if b > statement.lineno]
        missed = missed if isinstance(statement, ast.Return) else []
        missed += [b for loop in skippable if (b := _contains_barrier(loop.body)) is not None]
        if missed:
            self.problems.append(
                f"{self.where(statement.lineno)} leaves with `{type(statement).__name__.lower()}`"
                f" before cuda.syncthreads() on line {min(missed)}, under {condition}, "
                + DIVERGES.format(what="leave")
                + ". Keep every thread to the last barrier: guard the loads and the final write"
            )


def barrier_problems(path: Path, function_name: str) -> list[str]:
    """Each place where a barrier of `function_name` (in the file at `path`) may be
    reached by only some threads of a block, as a sentence naming the kernel and lines."""
    kernel = _kernel_node(path, function_name)
    if kernel is None:
        return []
    walk = _BarrierWalk(kernel, path)
    walk.visit(kernel.body, None, [])
    return walk.problems


def shared_arrays_on_one_line(path: Path, function_name: str) -> str | None:
    """A message when the kernel declares two `cuda.shared.array` on one line: the
    simulator tells shared arrays apart by their line, so those would share memory."""
    kernel = _kernel_node(path, function_name)
    lines: dict[int, int] = {}
    for call in ast.walk(kernel) if kernel is not None else ():
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "array"
            and isinstance(call.func.value, ast.Attribute)
            and call.func.value.attr == "shared"
        ):
            lines[call.lineno] = lines.get(call.lineno, 0) + 1
    for line, count in sorted(lines.items()):
        if count > 1:
            return (
                f"{function_name} declares {count} cuda.shared.array on line {line} of "
                f"{path.name}: the simulator tells shared arrays apart by their line, so "
                "these would share one memory. Declare each on its own line."
            )
    return None
