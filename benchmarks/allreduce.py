"""The answer key's ring all-reduce (solutions/distributed.py) against MPI's own Allreduce,
float32 sums of 4 KB to 64 MB, on P = 2 and 4 processes of this machine.

    python benchmarks/allreduce.py                 starts `mpiexec -n P` for each P
    python benchmarks/allreduce.py --quick         two sizes, P = 2 (the course's tests)

For each size, the ring and MPI take turns, round by round; a call's time is the slowest
rank's, and the best call counts. It prints the time of each, the bus bandwidth as
nccl-tests report it (bytes / time x 2 (P - 1) / P: what each rank's link carries, which a
good all-reduce keeps near the link's speed whatever P is), and the ratio of times, the
ring's over MPI's (the goal: at most 1.5 from 16 MB up). On one machine the "links" are
shared memory, and with more ranks than cores the ranks take turns on them: name the CPU
and its cores with the figures. It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from grading import mpi

ROOT = Path(__file__).resolve().parent.parent
SIZES = [4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20]
QUICK_SIZES = [4 << 10, 1 << 20]
JOB_LIMIT_S = 600.0  # the full run takes about 5 s on 2 cores


def repeats_for(size: int, quick: bool) -> int:
    if quick:
        return 3
    return 200 if size <= 64 << 10 else 30 if size <= 1 << 20 else 5


def measure(sizes: list[int], rounds: int, quick: bool) -> None:
    """Runs on every rank; rank 0 prints one JSON line of results."""
    sys.path.insert(0, str(ROOT))
    from mpi4py import MPI

    from solutions import distributed as dist

    dist.init_process_group("mpi")
    world = MPI.COMM_WORLD
    results = []
    for size in sizes:
        data = np.zeros(size // 4, dtype=np.float32)  # zeros stay zeros, call after call
        best = {"ring": float("inf"), "mpi": float("inf")}
        for _ in range(rounds):
            for algorithm in best:
                for _ in range(repeats_for(size, quick)):
                    world.Barrier()
                    start = time.perf_counter()
                    dist.all_reduce(data, algorithm=algorithm)
                    mine = time.perf_counter() - start
                    slowest = world.allreduce(mine, op=MPI.MAX)
                    best[algorithm] = min(best[algorithm], slowest)
        results.append({"bytes": size, **best})
    if world.Get_rank() == 0:
        print(json.dumps({"ranks": world.Get_size(), "results": results}))


def human(size: int) -> str:
    return f"{size >> 20} MB" if size >= 1 << 20 else f"{size >> 10} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 KB and 1 MB on 2 ranks")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.worker:
        measure(sizes, args.rounds, args.quick)
        return
    ranks = [2] if args.quick else args.ranks
    print(
        f"{'size':>7} {'P':>2} {'ring ms':>9} {'MPI ms':>9} {'ring GB/s':>10} "
        f"{'MPI GB/s':>9}  ring/MPI"
    )
    if (reason := mpi.missing()) is not None:
        sys.exit(reason)
    for p in ranks:
        target = [__file__, "--worker", "--rounds", str(args.rounds)]
        target += ["--quick"] if args.quick else []
        env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        job = mpi.run(p, target, JOB_LIMIT_S, cwd=ROOT, env=env)
        if job.returncode != 0:
            sys.exit(f"{job.describe(JOB_LIMIT_S)}:\n{job.output[-3000:]}")
        report = json.loads(job.output.strip().splitlines()[-1])
        for row in report["results"]:
            bus = 2 * (p - 1) / p
            ring_bw, mpi_bw = (row["bytes"] / row[a] * bus / 1e9 for a in ("ring", "mpi"))
            print(
                f"{human(row['bytes']):>7} {p:>2} {row['ring'] * 1e3:9.3f} "
                f"{row['mpi'] * 1e3:9.3f} {ring_bw:10.2f} {mpi_bw:9.2f}  "
                f"{row['ring'] / row['mpi']:.2f}"
            )
    print("ratio: the ring's time over MPI's Allreduce's (below 1: the ring is faster)")


if __name__ == "__main__":
    main()
