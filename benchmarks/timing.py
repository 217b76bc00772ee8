"""What every benchmark here shares: letting the other library's threads go quiet first, and
one line instead of a traceback when the code it times is a stub not written yet."""

from __future__ import annotations

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
