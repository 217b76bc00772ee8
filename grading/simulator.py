"""numba-cuda's simulator, made quicker to wait for.

The simulator runs each CUDA thread of a block as a Python thread, while the launching
thread loops without pause, checking which threads are waiting at a barrier or done. Python
hands its lock (the GIL) from a thread that is running to one that waits every 5 ms by
default, so every simulated thread waits for that loop's turn to end, again and again.
Handing the lock over every 0.5 ms made chapter 05's simulator graders about twice as fast
(2-core AMD EPYC). The kernels' results do not depend on it: the simulator's threads only
meet at barriers, and a race shows in a kernel's source or in its results either way.
"""

from __future__ import annotations

import os
import sys

SWITCH_INTERVAL_S = 0.0005


def use_a_short_switch_interval() -> None:
    """Shorten Python's thread switch interval when the simulator runs CUDA kernels."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        sys.setswitchinterval(SWITCH_INTERVAL_S)
