"""Checks of solutions/distributed.py's collectives that must run as an MPI job:

    mpiexec -n 3 python -m tests.mpi_checks

Every rank runs every check; rank 0 prints one JSON line: {"ranks": P, "failures": [...]}.
(Chapter 07's graders check a learner's code; the planted bugs of tests/planted_bugs.py
prove that they notice mistakes.)
"""

from __future__ import annotations

import json
import sys
from types import ModuleType

import numpy as np
from mpi4py import MPI


def check_all_reduce(dist: ModuleType, failures: list[str]) -> None:
    """The ring equals MPI's Allreduce, on every rank, for awkward sizes."""
    world = MPI.COMM_WORLD
    size, rank = world.Get_size(), world.Get_rank()
    for length in sorted({0, 1, size - 1, size + 1, 7, 1001}):
        for dtype in (np.float32, np.float64):
            for op in dist.REDUCE_OPS:
                data = np.random.default_rng([rank, length]).standard_normal(length).astype(dtype)
                ring, mpi = data.copy(), data.copy()
                dist.all_reduce(ring, op=op, algorithm="ring")
                dist.all_reduce(mpi, op=op, algorithm="mpi")
                expected = sum(
                    np.random.default_rng([r, length]).standard_normal(length).astype(np.float64)
                    for r in range(size)
                ) / (size if op == "mean" else 1)
                case = f"all_reduce of {length} {np.dtype(dtype).name} ({op}) on rank {rank}"
                tolerance = 1e-5 if dtype == np.float32 else 1e-12
                if not np.allclose(mpi, expected, rtol=tolerance, atol=tolerance):
                    failures.append(f"{case}: all_reduce(algorithm='mpi') is off")
                elif not np.allclose(ring, expected, rtol=tolerance, atol=tolerance):
                    worst = int(np.argmax(np.abs(ring - expected)))
                    failures.append(
                        f"{case}: the ring gives {ring[worst]} at [{worst}], expected "
                        f"{expected[worst]}"
                    )
                every_rank = world.allgather(ring.tobytes())
                if len(set(every_rank)) != 1:
                    failures.append(f"{case}: the ranks end with different arrays")


def check_broadcast_and_gather(dist: ModuleType, failures: list[str]) -> None:
    world = MPI.COMM_WORLD
    size, rank = world.Get_size(), world.Get_rank()
    src = size - 1
    array = np.full((2, 3), float(rank), dtype=np.float32)
    dist.broadcast(array, src=src)
    if not (array == src).all():
        failures.append(f"broadcast from rank {src}: rank {rank} holds {array.ravel()[0]}")
    parts = [np.zeros(4, dtype=np.float64) for _ in range(size)]
    dist.all_gather(parts, np.arange(4, dtype=np.float64) + 10 * rank)
    for r, part in enumerate(parts):
        if not (part == np.arange(4) + 10 * r).all():
            failures.append(f"all_gather on rank {rank}: entry {r} is {part.tolist()}")


def main() -> None:
    import solutions.distributed as dist

    dist.init_process_group("mpi")
    failures: list[str] = []
    check_all_reduce(dist, failures)
    check_broadcast_and_gather(dist, failures)
    gathered = MPI.COMM_WORLD.gather(failures, root=0)
    if dist.get_rank() == 0:
        found = [failure for per_rank in gathered for failure in per_rank]
        print(json.dumps({"ranks": dist.get_world_size(), "failures": found}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
