"""The original tutorial's ConvNet trained data-parallel on P MPI processes (the book, chapter 07).

The same program runs as P processes (ranks). Every rank holds the whole ConvNet (the
model of examples/mnist_convnet.py), starts from rank 0's weights, and trains on its own
B / P digits of every batch of B (a DistributedSampler gives each rank its shard of each
epoch's permutation). DistributedDataParallel averages the gradients over the ranks during
backward, so every rank takes the same SGD step, the one a single process would take with
the whole batch. The held-out digits are split across the ranks and their scores combined
(average_metrics); rank 0 saves the trained weights, and every rank loads them back.

    mpiexec -n 2 python examples/ddp_mnist.py --data ../shared/data/mnist
    mpiexec -n 1 python examples/ddp_mnist.py --data ../shared/data/mnist     (the baseline)
    mpiexec -n 2 python examples/ddp_mnist.py --data ../shared/data/mnist --impl reference
    mpiexec -n 2 python examples/ddp_mnist.py --data ../shared/data/mnist --impl isolate:07
    mpiexec -n 2 python examples/ddp_mnist.py --data ../shared/data/mnist --limit 512 --epochs 1
    srun -n 64 python examples/ddp_mnist.py --data ../shared/data/mnist       (a cluster)

Only rank 0 prints (another rank's errors excepted): a line per epoch with its seconds
(the slowest rank's: the clock is read after a barrier), the training loss and the
held-out accuracy, then one line for a benchmark to parse,
`RESULT {"ranks": P, "epoch_seconds": [...], "accuracy": ...}`. The first epoch includes
loading (or compiling) the Numba kernels: compare the later ones. Each rank runs one Numba
thread when P > 1 (the ranks share the cores), all of them when P = 1; `--threads` sets
it. With the same seed, P ranks go through the same global batches, in the same order, as
one process does (when P divides the number of training digits; otherwise the sampler
repeats a few), so the accuracy barely moves with P: only the time should.

Measured on a 2-core AMD EPYC (Zen 4), idle, 3 epochs of 8,000 digits, one Numba thread a
rank: 13.5 s an epoch on one rank, 7.2 s on two (a speedup of 1.87), 98.15% and 98.10% held
out (the book's chapter 07 has the table).

With only the MNIST test split in the folder (the course's shared folder), it trains on
its first `--split` digits (8,000) and holds out the rest (2,000), as mnist_convnet.py
does. `--save ddp_convnet.npz` writes the trained weights (rank 0 alone; every rank
then loads them back), a file that examples/predict_digits.py reads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from grading import impl_option
from grading.mpi import INSTALL_HINT

ALGORITHMS = ("mpi", "ring")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path("./data"), help="the MNIST folder (default ./data)"
    )
    parser.add_argument(
        "--epochs",
        type=impl_option.positive_int,
        default=3,
        help="passes over the training set (3)",
    )
    parser.add_argument(
        "--batch-size",
        type=impl_option.positive_int,
        default=64,
        help="examples per step, over all the ranks: each rank takes batch-size / P (64)",
    )
    parser.add_argument("--lr", type=float, default=0.01, help="SGD's learning rate (0.01)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD's momentum (0.9)")
    parser.add_argument(
        "--limit",
        type=impl_option.positive_int,
        help="use only the first N training and N evaluation digits",
    )
    parser.add_argument("--seed", type=int, default=0, help="weights and shuffling (0)")
    parser.add_argument(
        "--split",
        type=impl_option.positive_int,
        default=8000,
        help="without the training split: train on the first N test digits, "
        "hold out the rest (8000)",
    )
    parser.add_argument(
        "--threads",
        type=impl_option.positive_int,
        help="Numba threads on each rank (default: NUMBA_NUM_THREADS if set, else 1 when "
        "there are several ranks and one per core for one)",
    )
    parser.add_argument(
        "--bucket-cap-mb",
        type=float,
        default=25.0,
        help="DistributedDataParallel's buckets of gradients, in megabytes (25)",
    )
    parser.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default="mpi",
        help="how the gradients are all-reduced: MPI's own or the ring (mpi)",
    )
    parser.add_argument(
        "--save",
        type=Path,
        help="write the trained state_dict here (rank 0; every rank reads it back)",
    )
    impl_option.add(parser)
    return parser


def start_mpi(parser: argparse.ArgumentParser) -> None:
    """Before kindling and Numba are imported: start MPI (a one-line error when it is not
    installed) and choose each rank's Numba threads, which Numba reads once, at its start."""
    args = parser.parse_known_args()[0]
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError):  # no mpi4py, or no MPI library for it to load
        sys.exit(f"error: MPI is not installed: {INSTALL_HINT}")
    if args.threads is not None:
        os.environ["NUMBA_NUM_THREADS"] = str(args.threads)
    elif MPI.COMM_WORLD.Get_size() > 1 and not os.environ.get("NUMBA_NUM_THREADS"):
        os.environ["NUMBA_NUM_THREADS"] = "1"  # the ranks already share the cores


# The spine reads KINDLING_IMPL once, when kindling is first imported: --impl goes first.
if __name__ == "__main__":
    impl_option.apply(build_parser())
    start_mpi(build_parser())

import numba  # noqa: E402
import numpy as np  # noqa: E402
from mnist_convnet import load_digits  # noqa: E402  (beside this file: the same digits)

import kindling  # noqa: E402
import kindling.nn as nn  # noqa: E402
import kindling.optim as optim  # noqa: E402
from kindling import distributed as dist  # noqa: E402
from kindling.cnn import ConvNet  # noqa: E402  (the tutorial's model, as mnist_convnet.py's)
from kindling.data import DataLoader, Subset  # noqa: E402
from kindling.distributed import DistributedDataParallel, DistributedSampler  # noqa: E402


class Progress:
    """Rank 0's line on stderr, rewritten in place with `\\r`: batch i/n, its running loss,
    seconds so far. Redrawn at most ten times a second, and at the last batch."""

    def __init__(self, label: str, total: int, shown: bool) -> None:
        self.label, self.total, self.shown = label, total, shown
        self.start = self.drawn = time.perf_counter()

    def update(self, done: int, loss: float) -> None:
        now = time.perf_counter()
        if not self.shown or (done < self.total and now - self.drawn < 0.1):
            return
        self.drawn = now
        width = 24
        filled = width * done // self.total
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(
            f"\r{self.label} [{bar}] {done}/{self.total} loss {loss:.4f} {now - self.start:.1f}s"
        )
        if done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# --8<-- [start:ddp]
def setup(args: argparse.Namespace, train_set: Any, world: int) -> tuple:
    """Each rank's loader over its shard, the model averaged over the ranks, the optimizer."""
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size // world, sampler=sampler)
    kindling.manual_seed(args.seed)  # the same weights everywhere; DDP broadcasts rank 0's
    model = DistributedDataParallel(
        ConvNet(), bucket_cap_mb=args.bucket_cap_mb, algorithm=args.algorithm
    )
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    return sampler, loader, model, optimizer


def train(
    model: Any, loader: Any, sampler: Any, optimizer: Any, criterion: Any, epoch: int, bar: Any
) -> dict[str, float]:
    """One epoch on this rank's shard; the mean training loss over every rank's digits."""
    sampler.set_epoch(epoch)  # a new permutation, the same on every rank
    model.train()
    total_loss, seen = 0.0, 0
    for batch_idx, (data, target) in enumerate(loader):  # this rank's B / P digits
        optimizer.zero_grad()
        loss = criterion(model(data), target)
        loss.backward()  # the gradients are averaged over the ranks during backward
        optimizer.step()  # so every rank takes the same step

        total_loss += loss.item() * len(target)
        seen += len(target)
        bar.update(batch_idx + 1, total_loss / seen)
    return dist.average_metrics({"loss": total_loss}, seen)


# --8<-- [end:ddp]


def evaluate(model: Any, shard: Any, batch_size: int, criterion: Any) -> dict[str, float]:
    """Mean loss and accuracy over every rank's shard of the held-out digits."""
    model.eval()
    total_loss, hits, seen = 0.0, 0, 0
    with kindling.no_grad():
        for data, target in DataLoader(shard, batch_size=batch_size, shuffle=False):
            output = model(data)
            total_loss += criterion(output, target).item() * len(target)
            hits += int((output.data.argmax(axis=1) == target.data).sum())
            seen += len(target)
    return dist.average_metrics({"loss": total_loss, "correct": hits}, seen)


def my_part(dataset: Any, rank: int, world: int) -> Any:
    """Rank `rank`'s contiguous part of `dataset`: no digit twice, none left out (the
    parts may differ by one digit; average_metrics weighs each rank by its count)."""
    return Subset(dataset, range(rank * len(dataset) // world, (rank + 1) * len(dataset) // world))


def check_checkpoint(model: Any, path: Path, say: Any) -> None:
    """Every rank loads the checkpoint rank 0 wrote and compares it with its own weights."""
    loaded = dist.load_checkpoint(path)
    own = model.module.state_dict()
    if sorted(loaded) != sorted(own):
        raise ValueError(f"{path} holds {sorted(loaded)}, the model {sorted(own)}")
    mine = np.array([max(float(np.abs(loaded[k] - own[k]).max()) for k in own)])
    every_rank = [np.zeros(1) for _ in range(dist.get_world_size())]
    dist.all_gather(every_rank, mine)
    say(
        f"every rank loaded {path} back: the largest difference from a rank's own weights "
        f"is {max(float(d[0]) for d in every_rank):g}"
    )


def run(args: argparse.Namespace, rank: int, world: int) -> None:
    def say(text: str) -> None:
        if rank == 0:
            print(text, flush=True)

    try:
        train_set, evaluation, name = load_digits(args, say)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}" if rank == 0 else 1)
    if args.save is not None and not args.save.parent.is_dir():
        sys.exit(f"error: --save {args.save}: no folder {args.save.parent}" if rank == 0 else 1)

    sampler, loader, model, optimizer = setup(args, train_set, world)
    criterion = nn.CrossEntropyLoss()
    held_out = my_part(evaluation, rank, world)
    say(
        f"kindling ({kindling.IMPL}) on {world} rank(s), {numba.get_num_threads()} Numba "
        f"thread(s) each: ConvNet, SGD lr {args.lr} momentum {args.momentum}, batch "
        f"{args.batch_size} ({args.batch_size // world} a rank), {len(train_set)} training "
        f"digits ({len(sampler)} a rank), {len(evaluation)} {name}, seed {args.seed}, "
        f"all-reduce {args.algorithm} in buckets of {args.bucket_cap_mb:g} MB"
    )

    seconds, losses, accuracies = [], [], []
    for epoch in range(args.epochs):
        label = f"epoch {epoch + 1}/{args.epochs}"
        progress = Progress(label, len(loader), shown=rank == 0)
        dist.barrier()  # every rank starts the clock together...
        start = time.perf_counter()
        train_loss = train(model, loader, sampler, optimizer, criterion, epoch, progress)["loss"]
        scores = evaluate(model, held_out, args.batch_size, criterion)
        dist.barrier()  # ...and reads it when the slowest one is done
        seconds.append(time.perf_counter() - start)
        losses.append(train_loss)
        accuracies.append(scores["correct"])
        say(
            f"{label}: {seconds[-1]:.1f}s, train loss {train_loss:.4f}, "
            f"{name} loss {scores['loss']:.4f} accuracy {scores['correct']:.4f}"
        )

    if args.save is not None:
        dist.save_checkpoint(model.module.state_dict(), args.save)  # rank 0 writes it
        say(f"saved the trained weights to {args.save}")
        check_checkpoint(model, args.save, say)

    result = {
        "ranks": world,
        "threads": numba.get_num_threads(),
        "batch_size": args.batch_size,
        "training_digits": len(train_set),
        "epoch_seconds": [round(s, 3) for s in seconds],
        "train_loss": [round(loss, 5) for loss in losses],
        "accuracies": [round(a, 5) for a in accuracies],
        "accuracy": round(accuracies[-1], 5),
    }
    say(f"RESULT {json.dumps(result)}")


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        dist.init_process_group("mpi")
    except RuntimeError as error:
        sys.exit(f"error: {error}")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch_size % world:
        if rank == 0:
            parser.error(
                f"argument --batch-size: {args.batch_size} digits do not split evenly over "
                f"{world} ranks: give a multiple of {world}"
            )
        sys.exit(2)
    if rank == 0:
        impl_option.announce(args.impl)
    run(args, rank, world)


if __name__ == "__main__":
    try:
        main()
    except Exception:  # on one rank: end them all, or the others wait for it forever
        traceback.print_exc()
        sys.stderr.flush()
        from mpi4py import MPI

        MPI.COMM_WORLD.Abort(1)
