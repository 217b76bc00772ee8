"""One epoch of an MNIST-shaped dataset through kindling's DataLoader and through torch's.

The dataset is 60,000 random uint8 images of 28x28 with int labels (seeded), read one example
at a time through the original tutorial's transform, ToTensor then Normalize((0.1307,),
(0.3081,)): kindling's `transforms` on one side, the same two steps in torch ops on the other
(as torchvision computes them). Both loaders shuffle, batch 64 and collate in the main
process (torch: num_workers=0). Each is warmed up, then timed over `--repeats` epochs; the
best epoch counts. The goal: kindling no slower than torch (ratio <= 1).

    KINDLING_IMPL=reference python benchmarks/data_loader.py
    KINDLING_IMPL=reference python benchmarks/data_loader.py --samples 2000 --repeats 1

It prints a table and the ratio; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import timing

import kindling
from kindling import data, transforms

try:
    import torch
except ImportError:  # the benchmark still times kindling
    torch = None

MEAN, STD = 0.1307, 0.3081


def make_arrays(samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (samples, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, samples)
    return images, labels


class KindlingDigits(data.Dataset):
    """Example i is (the original tutorial's transform of image i, label i as an int), as MNIST
    gives it."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels
        self.transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]
        )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.transform(self.images[index]), int(self.labels[index])


def torch_dataset(images: np.ndarray, labels: np.ndarray):
    class TorchDigits(torch.utils.data.Dataset):
        """The same examples, transformed as torchvision's ToTensor and Normalize compute them."""

        def __init__(self) -> None:
            self.mean = torch.tensor([MEAN])[:, None, None]
            self.std = torch.tensor([STD])[:, None, None]

        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, index: int):
            image = torch.from_numpy(images[index]).unsqueeze(0).float().div(255)
            return (image - self.mean) / self.std, int(labels[index])

    return TorchDigits()


def best_epoch(loader, repeats: int) -> float:
    """Seconds for the fastest of `repeats` full epochs, after one warm-up epoch."""

    def epoch() -> None:
        for _ in loader:
            pass

    epoch()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000, help="dataset size (60000)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (64)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs each (3)")
    args = parser.parse_args(argv)

    images, labels = make_arrays(args.samples)
    print(
        f"one shuffled epoch: {args.samples} samples of 28x28 uint8, batch {args.batch_size}, "
        f"ToTensor + Normalize, best of {args.repeats} (kindling: KINDLING_IMPL={kindling.IMPL})"
    )
    loader = data.DataLoader(
        KindlingDigits(images, labels),
        batch_size=args.batch_size,
        shuffle=True,
        generator=np.random.default_rng(1),
    )
    rows = [("kindling", best_epoch(loader, args.repeats))]
    if torch is not None:
        torch_digits = torch_dataset(images, labels)
        ours, theirs = loader.dataset[0], torch_digits[0]  # the same work on both sides
        assert ours[1] == theirs[1] and np.allclose(ours[0].data, theirs[0].numpy(), atol=1e-6)
        torch.manual_seed(1)
        torch_loader = torch.utils.data.DataLoader(
            torch_digits, batch_size=args.batch_size, shuffle=True, num_workers=0
        )
        rows.append((f"torch {torch.__version__}", best_epoch(torch_loader, args.repeats)))

    print(f"{'loader':<20} {'s/epoch':>9} {'samples/s':>11}")
    for name, seconds in rows:
        print(f"{name:<20} {seconds:>9.3f} {args.samples / seconds:>11,.0f}")
    if torch is None:
        print("torch is not installed (pip install -e '.[torch]'): no ratio to print")
    else:
        ratio = rows[0][1] / rows[1][1]
        verdict = "no slower than torch" if ratio <= 1 else "slower than torch"
        print(f"ratio kindling/torch: {ratio:.2f} ({verdict})")


if __name__ == "__main__":
    timing.run(main)
