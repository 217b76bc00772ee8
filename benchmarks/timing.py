"""What every benchmark here shares: letting the other library's threads go quiet first."""

from __future__ import annotations

import time
from collections.abc import Callable


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
