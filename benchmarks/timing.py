"""What every benchmark here shares: letting the other library's threads go quiet first, and
one line instead of a traceback when the code it times is a stub not written yet."""

from __future__ import annotations

import ctypes
import os
import re
import sys
import time
from collections.abc import Callable

# How a stub's NotImplementedError begins (a CUDA kernel's has its thread in front).
EXERCISE = re.compile(r"Exercise \d+\.\d+: [^\n]*")


def run(main: Callable[[], None]) -> None:
    """Run a benchmark's `main`. Benchmarks time your code by default (KINDLING_IMPL=mine):
    if it reaches an exercise you have not written, say so in one line and how to time
    the answer key instead."""
    try:
        main()
    except NotImplementedError as error:
        stub = EXERCISE.search(str(error))
        if stub is None:
            raise
        script = f"benchmarks/{os.path.basename(sys.argv[0])}"
        impl = os.environ.get("KINDLING_IMPL") or "mine"
        sys.exit(
            f"{script} times your code (KINDLING_IMPL={impl}), and {stub.group(0)} is not "
            f"written yet: finish it, or time the answer key: KINDLING_IMPL=reference python {script}"
        )


def settle(function: Callable[[], object], seconds: float) -> None:
    """Call `function`, untimed, for `seconds` (at least once).

    After its work, a library's worker threads (OpenBLAS's, torch's OpenMP) spin for
    about 0.1 s before they sleep, and on a 2-core machine they take the cores from the
    threads of whatever runs next: a Numba kernel run just after NumPy's product can
    take ten times its time. Settling first keeps that out of the timings.
    """
    end = time.perf_counter() + seconds
    function()
    while time.perf_counter() < end:
        function()


def keep_freed_memory() -> None:
    """Let glibc keep freed memory for the next allocation instead of returning it to the
    system, as it does by itself in a process that has not run torch (Linux only).

    Measured on the ConvNet's training step: in a process of its own, kindling's step
    makes no page faults (glibc reuses the large arrays the previous step freed); once
    torch has run a single step in the same process, glibc gives that memory back at
    every step and kindling's next step faults its 32 MB of arrays back in, 8,000 page
    faults and about 8 ms a step. Fixing glibc's two thresholds (the values are its own
    upper limits for them) times each side as it runs alone.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    libc.mallopt(m_trim_threshold, 64 << 20)
    libc.mallopt(m_mmap_threshold, 32 << 20)
