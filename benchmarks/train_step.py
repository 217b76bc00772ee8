"""One training step of the original tutorial's ConvNet, the answer key against torch (CPU).

A step is what the tutorial's training loop does per batch: zero the gradients, forward,
cross-entropy, backward, SGD step (lr 0.01, momentum 0.9), on one batch of 64 images of
28x28. torch's model starts from kindling's initial weights, and the two losses are checked
to agree over the first `--check` steps. Then steps are timed one by one, in `--rounds`
rounds of `--steps` steps in a row, kindling and torch taking turns round by round, each
settling first (untimed steps for `--settle` seconds: see `settle`). The median and the
best are printed, with each phase timed apart (forward = model and loss, backward, step =
the optimizer's step and zero_grad). The goal: kindling's median step at most 1.5 times
torch's.

    KINDLING_IMPL=reference python benchmarks/train_step.py
    KINDLING_IMPL=reference python benchmarks/train_step.py --quick

It prints a table and the ratio; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import timing
from timing import keep_freed_memory, settle

import kindling
import kindling.nn as nn
import kindling.optim as optim
from kindling.cnn import ConvNet

try:
    import torch
except ImportError:  # the benchmark still times kindling
    torch = None

PHASES = ("forward", "backward", "step")


def torch_convnet(state: dict[str, np.ndarray]) -> Any:
    """The original tutorial's ConvNet in torch, flatten fixed, holding the given weights."""

    class TorchConvNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
            self.fc1 = torch.nn.Linear(64 * 7 * 7, 128)
            self.fc2 = torch.nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            functional = torch.nn.functional
            x = functional.max_pool2d(functional.relu(self.conv1(x)), 2, 2)
            x = functional.max_pool2d(functional.relu(self.conv2(x)), 2, 2)
            x = x.view(-1, 64 * 7 * 7)
            return self.fc2(functional.relu(self.fc1(x)))

    model = TorchConvNet()
    model.load_state_dict({name: torch.from_numpy(array.copy()) for name, array in state.items()})
    return model


def make_step(
    model: Any, optimizer: Any, criterion: Any, images: Any, labels: Any
) -> Callable[[], tuple[float, list[float]]]:
    """A function that runs one training step: (its loss, seconds per phase)."""

    def step() -> tuple[float, list[float]]:
        start = time.perf_counter()
        loss = criterion(model(images), labels)
        forward = time.perf_counter()
        loss.backward()
        backward = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad()
        done = time.perf_counter()
        return loss.item(), [forward - start, backward - forward, done - backward]

    return step


def time_steps(
    steps: list[Callable[[], tuple[float, list[float]]]],
    repeats: int,
    rounds: int,
    settling: float,
) -> list[np.ndarray]:
    """Each side's phase times, a (rounds * repeats, 3) array: in each round, each side in
    turn settles, then runs `repeats` timed steps in a row. Taking turns round by round
    lets both sides meet the same load from whatever else runs on the machine."""
    phases: list[list[list[float]]] = [[] for _ in steps]
    for _ in range(rounds):
        for side, step in enumerate(steps):
            settle(step, settling)
            phases[side].extend(step()[1] for _ in range(repeats))
    return [np.array(side) for side in phases]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="images per batch (64)")
    parser.add_argument("--check", type=int, default=5, help="steps whose losses agree (5)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round (10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, sides taking turns (2)")
    parser.add_argument(
        "--settle", type=float, default=0.5, help="untimed seconds before each block (0.5)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: only checks it runs")
    args = parser.parse_args(argv)
    keep_freed_memory()
    if args.quick:
        args.batch, args.check, args.steps, args.rounds, args.settle = 4, 2, 2, 1, 0.0

    threads = f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ""
    print(
        f"CPUs: {os.cpu_count()}, numba {numba.__version__} with {numba.get_num_threads()} "
        f"threads{threads} (kindling: KINDLING_IMPL={kindling.IMPL})"
    )
    rng = np.random.default_rng(0)
    images = rng.standard_normal((args.batch, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, args.batch)

    kindling.manual_seed(0)
    model = ConvNet()
    initial = {name: array.copy() for name, array in model.state_dict().items()}
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = make_step(
        model, optimizer, nn.CrossEntropyLoss(), kindling.tensor(images), kindling.tensor(labels)
    )
    start = time.perf_counter()
    losses = [step()[0]]
    print(f"first step (Numba compiles, or loads its cache): {time.perf_counter() - start:.2f}s")
    losses += [step()[0] for _ in range(args.check - 1)]
    steps, names = [step], ["kindling"]
    if torch is not None:
        torch_model = torch_convnet(initial)
        torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.01, momentum=0.9)
        torch_images, torch_labels = torch.from_numpy(images), torch.from_numpy(labels)
        criterion = torch.nn.CrossEntropyLoss()
        steps.append(make_step(torch_model, torch_optimizer, criterion, torch_images, torch_labels))
        names.append(f"torch {torch.__version__}")
        torch_losses = [steps[1]()[0] for _ in range(args.check)]
        # The same weights, data and recipe: the same losses, step after step (float32 sums
        # in a different order drift apart slowly).
        assert np.allclose(losses, torch_losses, rtol=1e-3, atol=1e-4), (losses, torch_losses)
        print(f"losses agree over the first {args.check} steps: {losses[0]:.5f} vs "
              f"{torch_losses[0]:.5f} at the first, {losses[-1]:.5f} vs {torch_losses[-1]:.5f} "
              "at the last")  # fmt: skip
    times = time_steps(steps, args.steps, args.rounds, args.settle)
    rows = list(zip(names, times, strict=True))

    print(f"\nbatch {args.batch}, SGD lr 0.01 momentum 0.9; {args.rounds} x {args.steps} timed "
          "steps each; ms")  # fmt: skip
    print(
        f"{'':<22} {'median':>8} {'best':>8}   "
        + " ".join(f"{phase:>9}" for phase in PHASES)
        + "  (median of each phase)"
    )
    for name, phases in rows:
        totals = phases.sum(axis=1)
        print(
            f"{name:<22} {np.median(totals) * 1e3:>8.1f} {totals.min() * 1e3:>8.1f}   "
            + " ".join(f"{t * 1e3:>9.1f}" for t in np.median(phases, axis=0))
        )
    if torch is None:
        print("torch is not installed (pip install -e '.[torch]'): no ratio to print")
    else:
        ours, theirs = (side.sum(axis=1) for side in times)
        median_ratio, best_ratio = np.median(ours) / np.median(theirs), ours.min() / theirs.min()
        verdict = "within" if median_ratio <= 1.5 else "above"
        print(
            f"ratio kindling/torch: {median_ratio:.2f} median, {best_ratio:.2f} best "
            f"({verdict} the goal of 1.5)"
        )


if __name__ == "__main__":
    timing.run(main)
