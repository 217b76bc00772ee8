"""Data parallelism's central claim, as an MPI job on the answer key:

    mpiexec -n P python -m tests.mpi_equivalence [--mistake NAME]

P ranks, each with B / P of every batch, that average their gradients (all_reduce, op="mean")
before each step follow the same SGD-with-momentum trajectory as one process with the whole
batch B. Each rank starts from its own random weights (seed + rank) and takes rank 0's by
broadcast, as DistributedDataParallel does. Rank 0 prints one JSON line: for each step, the
largest difference between its weights and those of the one-process run.

`--mistake` plants one of MISTAKES, to prove that the comparison notices it.
"""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np

try:
    from mpi4py import MPI
except (ImportError, RuntimeError):  # test_distributed.py imports MISTAKES, skips without MPI
    MPI = None

from solutions import distributed as dist
from solutions.autograd import Tensor, manual_seed
from solutions.cnn import ConvNet
from solutions.functional import cross_entropy
from solutions.optim import SGD

BATCH = 12  # divisible by every P from 1 to 4
STEPS = 3
MISTAKES = ("sum not divided by P", "rank 0's weights not broadcast")


def batches() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return [
        (rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, BATCH))
        for _ in range(STEPS)
    ]


def train(
    seed: int, shard: slice, world: int, mistake: str | None, ddp: bool = False
) -> list[list[np.ndarray]]:
    """The weights after each step, training on rows `shard` of every batch: the gradients
    averaged by hand after backward, or during it by DistributedDataParallel (`ddp`), in
    buckets small enough that the ConvNet's 8 parameters fill 3 of them."""
    manual_seed(seed)
    model = ConvNet()
    if ddp:
        model = dist.DistributedDataParallel(model, bucket_cap_mb=0.5)
    elif world > 1 and mistake != "rank 0's weights not broadcast":
        for parameter in model.parameters():
            dist.broadcast(parameter, src=0)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    trajectory = []
    for images, labels in batches():
        optimizer.zero_grad()
        loss = cross_entropy(model(Tensor(images[shard])), labels[shard])
        loss.backward()
        if world > 1 and not ddp:
            op = "sum" if mistake == "sum not divided by P" else "mean"
            for parameter in model.parameters():
                dist.all_reduce(parameter.grad, op=op)
        optimizer.step()
        trajectory.append([parameter.data.copy() for parameter in model.parameters()])
    return trajectory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mistake", choices=MISTAKES)
    parser.add_argument("--ddp", action="store_true", help="DistributedDataParallel averages")
    args = parser.parse_args()
    mistake = args.mistake
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    share = BATCH // world
    mine = train(rank, slice(rank * share, (rank + 1) * share), world, mistake, args.ddp)
    final = b"".join(weights.tobytes() for weights in mine[-1])
    every_rank = MPI.COMM_WORLD.allgather(hashlib.sha256(final).hexdigest())
    if rank == 0:
        whole = train(seed=0, shard=slice(None), world=1, mistake=None)
        differences = [
            max(float(np.abs(a - b).max()) for a, b in zip(ours, one, strict=True))
            for ours, one in zip(mine, whole, strict=True)
        ]
        agree = len(set(every_rank)) == 1
        print(json.dumps({"ranks": world, "differences": differences, "agree": agree}), flush=True)


if __name__ == "__main__":
    main()
