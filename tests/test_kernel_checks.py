"""The checks of grading/kernel_checks.py, on small kernels written to be right or wrong:
a race between prange iterations is found every time, a barrier that only some threads
reach is named with its line, and the answer key's kernels pass both."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest

from grading.kernel_checks import barrier_problems, find_race, shared_arrays_on_one_line

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------
# Races in prange loops
# ---------------------------------------------------------------------------


@numba.njit(parallel=True)
def rows_summed_per_column(x, out):  # each iteration owns one column of out: no race
    for j in numba.prange(x.shape[1]):
        for i in range(x.shape[0]):
            out[j] += x[i, j]


@numba.njit(parallel=True)
def column_sums_per_row(x, out):  # every iteration adds into every out[j]: a race
    for i in numba.prange(x.shape[0]):
        for j in range(x.shape[1]):
            out[j] += x[i, j]


@numba.njit(parallel=True)
def windows_added(x, out):  # overlapping windows of width 3, one task per window: a race
    for start in numba.prange(x.shape[0] - 2):
        for k in range(3):
            out[start + k] += x[start]


@numba.njit(parallel=True)
def scratch_made_inside(x):  # a fresh array written by one iteration only: no race
    out = np.zeros_like(x)
    for i in numba.prange(x.shape[0]):
        row = np.empty(x.shape[1], dtype=x.dtype)
        for j in range(x.shape[1]):
            row[j] = 2 * x[i, j]
        out[i] = row
    return out


@numba.njit(parallel=True)
def serial_loop_writes_one_cell(x, out):  # range, not prange: no parallel tasks at all
    for i in range(x.shape[0]):
        out[0] += x[i]


def test_iterations_writing_separate_elements_are_no_race():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert find_race(rows_summed_per_column, x, np.zeros(3, np.float32)) is None
    assert find_race(scratch_made_inside, x) is None
    assert find_race(serial_loop_writes_one_cell, x[:, 0].copy(), np.zeros(1)) is None


def test_two_iterations_adding_into_one_element_are_a_race():
    x = np.ones((4, 3), dtype=np.float32)
    race = find_race(column_sums_per_row, x, np.zeros(3, np.float32))
    assert race is not None
    assert (race.array, race.index, race.iterations) == ("out", (0,), (0, 1))
    assert race.function == "column_sums_per_row"
    assert "iterations 0 and 1 of the prange loop on line" in str(race)
    assert "both write out[0]" in str(race)


def test_overlapping_windows_are_a_race_every_time():
    for _ in range(3):  # not a matter of timing: the same race, every run
        race = find_race(windows_added, np.ones(6), np.zeros(6))
        assert race is not None and race.index == (1,) and race.iterations == (0, 1)


def test_the_answer_keys_cpu_kernels_have_no_race():
    import solutions.kernels as kernels

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    cols = kernels.im2col(x, 3, 2, 1, 1)
    out, argmax = kernels.max_pool2d_forward(x, 3, 1, 1)
    a, b = rng.standard_normal((140, 5)), rng.standard_normal((5, 60))
    for kernel, args in [
        (kernels.im2col, (x, 3, 2, 1, 1)),
        (kernels.col2im, (cols, 2, 3, 7, 6, 3, 2, 1, 1)),
        (kernels.max_pool2d_forward, (x, 3, 1, 1)),
        (kernels.max_pool2d_backward, (out, argmax, 7, 6)),
        (kernels.matmul, (a.astype(np.float32), b.astype(np.float32))),
    ]:
        assert find_race(kernel, *args) is None, kernel


# ---------------------------------------------------------------------------
# Barriers that only some threads reach
# ---------------------------------------------------------------------------


def kernel_file(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "kernels_under_test.py"
    path.write_text(
        "from numba import cuda\n\n" + textwrap.dedent(source).lstrip("\n"), encoding="utf-8"
    )
    return path


BARRIER_IN_THREAD_IF = """
def k(x):
    t = cuda.threadIdx.x
    if t < 16:
        x[t] = 0
        cuda.syncthreads()
"""
BARRIER_AFTER_EARLY_RETURN = """
def k(x):
    i = cuda.grid(1)
    if i >= x.size:
        return
    cuda.syncthreads()
    x[i] = 1
"""
BARRIER_IN_A_LOOP_OVER_THE_THREAD = """
def k(x):
    t = cuda.threadIdx.x
    for step in range(t):
        cuda.syncthreads()
"""
BARRIERS_ALL_THREADS_REACH = """
def k(x, n):
    t = cuda.threadIdx.x
    half = 64
    while half > 0:
        if t < half:
            x[t] += x[t + half]
        cuda.syncthreads()
        half //= 2
    if n > 3:
        cuda.syncthreads()
"""


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        (BARRIER_IN_THREAD_IF, 7, "calls cuda.syncthreads() inside `if t < 16` (line 5)"),
        (BARRIER_AFTER_EARLY_RETURN, 6, "leaves with `return` before cuda.syncthreads() on line 7"),
        (BARRIER_IN_A_LOOP_OVER_THE_THREAD, 6, "inside `for step in range(t)`"),
    ],
    ids=["if", "return", "loop"],
)
def test_a_barrier_some_threads_miss_is_named_with_its_line(tmp_path, source, line, words):
    problems = barrier_problems(kernel_file(tmp_path, source), "k")
    assert len(problems) == 1, problems
    assert f"k (line {line} of kernels_under_test.py)" in problems[0]
    assert words in problems[0]
    assert "the simulator does not notice" in problems[0]


def test_barriers_every_thread_reaches_pass(tmp_path):
    assert barrier_problems(kernel_file(tmp_path, BARRIERS_ALL_THREADS_REACH), "k") == []


@pytest.mark.parametrize(
    "kernel", ["scale_add_kernel", "block_sum_kernel", "matmul_tiled_kernel", "conv2d_kernel"]
)
def test_the_answer_keys_cuda_kernels_pass_the_source_checks(kernel):
    path = ROOT / "solutions" / "gpu.py"
    assert barrier_problems(path, kernel) == []
    assert shared_arrays_on_one_line(path, kernel) is None


def test_two_shared_arrays_on_one_line_are_named(tmp_path):
    source = """
    def k(x):
        a, b = cuda.shared.array(4, "f4"), cuda.shared.array(4, "f4")
    """
    problem = shared_arrays_on_one_line(kernel_file(tmp_path, source), "k")
    assert problem is not None and "declares 2 cuda.shared.array on line 4" in problem
