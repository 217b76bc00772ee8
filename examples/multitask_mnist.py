"""Multi-task learning on real digits, measured (the book, chapter 06).

Each digit is turned by a random angle in [-45, 45] degrees (RotatedDigits), which
gives every image two targets: its digit (classification, cross-entropy) and the
angle it was turned by (regression, squared error in degrees squared: a loss some
300 times the cross-entropy at first). Six models, each from the same initial
weights, with the same data order, optimiser (Adam, lr 1e-3) and budget (epochs):

    digit only      the trunk and the digit head, one task
    angle only      the trunk and the angle head, one task
    equal weights   both heads, loss = L_digit + L_angle
    hand-scaled     both heads, loss = L_digit + L_angle / 300 (the ratio of the first losses)
    uncertainty     both heads, weights learned (Kendall, Gal and Cipolla, 2018)
    DWA             both heads, weights from the losses' rates (Liu, Johns and Davison, 2019)

It prints each task's held-out metric after every epoch (accuracy, mean absolute
error in degrees) with the loss weights, then a table of the final figures.

    python examples/multitask_mnist.py --data ../shared/data/mnist
    python examples/multitask_mnist.py --data ../shared/data/mnist --impl reference
    python examples/multitask_mnist.py --data ../shared/data/mnist --impl isolate:06
    python examples/multitask_mnist.py --data ../shared/data/mnist --limit 256 --epochs 1

With only the MNIST test split in the folder (the course's shared folder), it trains
on its first 8,000 digits and holds out the last 2,000, as chapter 05 does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from grading import impl_option

CONFIGS = ("digit only", "angle only", "equal weights", "hand-scaled", "uncertainty", "DWA")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("./data"), help="the MNIST folder")
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training set (3)")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per step (64)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="weights, angles and shuffling (0)")
    parser.add_argument("--split", type=int, default=8000, help="training digits (8000)")
    parser.add_argument("--limit", type=int, help="use only the first N digits of each side")
    parser.add_argument(
        "--weights-lr", type=float, default=0.02, help="Adam's lr for the log-variances (0.02)"
    )
    parser.add_argument(
        "--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS), help="which models"
    )
    impl_option.add(parser)
    return parser


# The spine reads KINDLING_IMPL once, when kindling is first imported: --impl goes first.
if __name__ == "__main__":
    impl_option.apply(build_parser())

import numpy as np  # noqa: E402

import kindling  # noqa: E402
import kindling.nn as nn  # noqa: E402
import kindling.optim as optim  # noqa: E402
from kindling.cnn import Conv2d, MaxPool2d  # noqa: E402
from kindling.data import DataLoader, Subset, datasets, transforms  # noqa: E402
from kindling.multitask import (  # noqa: E402
    DynamicWeightAverage,
    MultiTaskNet,
    RotatedDigits,
    UncertaintyWeightedLoss,
    WeightedLoss,
    accuracy,
    evaluate,
    mean_absolute_error,
    train_epoch,
)


# --8<-- [start:model]
def trunk() -> nn.Module:
    """Two conv + ReLU + pool stages and a Linear layer: 28x28 digits to 128 features."""
    return nn.Sequential(
        Conv2d(1, 16, 3, padding=1), nn.ReLU(), MaxPool2d(2),
        Conv2d(16, 32, 3, padding=1), nn.ReLU(), MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
    )  # fmt: skip


HEADS = {"digit": lambda: nn.Linear(128, 10), "angle": lambda: nn.Linear(128, 1)}
KINDS = {"digit": "classification", "angle": "regression"}
METRICS = {"digit": accuracy, "angle": mean_absolute_error}


def angle_loss(prediction: kindling.Tensor, target: kindling.Tensor) -> kindling.Tensor:
    """Squared error in degrees squared; the head gives (N, 1), the targets (N,)."""
    return nn.functional.mse_loss(prediction.reshape(-1), target)


LOSSES = {"digit": nn.CrossEntropyLoss(), "angle": angle_loss}
# --8<-- [end:model]


def load(args: argparse.Namespace) -> tuple[Any, Any]:
    """Training and held-out digits, each turned by its own seeded angle."""
    plain = datasets.MNIST(root=args.data, train=False, transform=transforms.ToTensor())
    if not 0 < args.split < len(plain):
        raise ValueError(f"--split {args.split} must leave digits on both sides")
    train_part = Subset(plain, range(args.split))
    held_out = Subset(plain, range(args.split, len(plain)))
    if args.limit is not None:
        train_part = Subset(train_part, range(min(args.limit, len(train_part))))
        held_out = Subset(held_out, range(min(args.limit, len(held_out))))
    # Different seeds, so no training angle is reused for the held-out digits.
    return RotatedDigits(train_part, seed=args.seed), RotatedDigits(held_out, seed=args.seed + 1)


# --8<-- [start:run]
def run_config(name: str, args: argparse.Namespace, train_set: Any, held_out: Any) -> dict:
    """Train one model; returns its held-out metrics after the last epoch."""
    tasks = {"digit only": ["digit"], "angle only": ["angle"]}.get(name, ["digit", "angle"])
    kindling.manual_seed(args.seed)  # the same trunk weights for every model
    model = MultiTaskNet(trunk(), {task: HEADS[task]() for task in tasks})
    losses = {task: LOSSES[task] for task in tasks}
    dwa = DynamicWeightAverage(tasks) if name == "DWA" else None
    if name == "uncertainty":
        criterion = UncertaintyWeightedLoss(losses, {task: KINDS[task] for task in tasks})
        # The log-variances learn too, faster than the weights: their best values, about
        # log(L_t), lie far from 0, and Adam moves each number about lr per step.
        groups = [
            {"params": list(model.parameters())},
            {"params": list(criterion.parameters()), "lr": args.weights_lr},
        ]
    else:
        weights = {"digit": 1.0, "angle": 1 / 300} if name == "hand-scaled" else None
        criterion = WeightedLoss(losses, weights)
        groups = [{"params": list(model.parameters())}]
    optimizer = optim.Adam(groups, lr=args.lr)
    order = np.random.default_rng(args.seed)  # the same batches, in the same order, for all
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=order)
    eval_loader = DataLoader(held_out, batch_size=256)
    metrics = {task: METRICS[task] for task in tasks}
    for epoch in range(1, args.epochs + 1):
        if dwa is not None:
            criterion.weights = dwa.weights()
        start = time.perf_counter()
        means = train_epoch(model, train_loader, criterion, optimizer)
        if dwa is not None:
            dwa.end_epoch(means)
        scores = evaluate(model, eval_loader, metrics)
        weights = (
            criterion.task_weights() if isinstance(criterion, UncertaintyWeightedLoss)
            else {task: criterion.weights[task] for task in tasks}
        )  # fmt: skip
        print(
            f"  {name:<14} epoch {epoch}: "
            + ", ".join(f"{t} loss {means[t]:.3f}" for t in tasks)
            + " | held out: "
            + ", ".join(describe_metric(t, v) for t, v in scores.items())
            + " | weights "
            + ", ".join(f"{t} {w:.3g}" for t, w in weights.items())
            + f" | {time.perf_counter() - start:.1f}s"
        )
    return scores


# --8<-- [end:run]


def describe_metric(task: str, value: float) -> str:
    return f"accuracy {100 * value:.2f}%" if task == "digit" else f"MAE {value:.2f} degrees"


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    impl_option.announce(args.impl)
    train_set, held_out = load(args)
    print(
        f"{len(train_set)} training digits, {len(held_out)} held out, each turned by up to 45 "
        f"degrees; {args.epochs} epochs of Adam (lr {args.lr}), batch {args.batch_size}, "
        f"seed {args.seed}"
    )
    results = {name: run_config(name, args, train_set, held_out) for name in args.configs}
    print("\n| model | digit accuracy (held out) | angle MAE, degrees (held out) |")
    print("|---|---|---|")
    for name, scores in results.items():
        digit = f"{100 * scores['digit']:.2f}%" if "digit" in scores else "-"
        angle = f"{scores['angle']:.2f}" if "angle" in scores else "-"
        print(f"| {name} | {digit} | {angle} |")


if __name__ == "__main__":
    main()
