"""The original tutorial's MNIST data pipeline, on kindling (the book, chapter 04).

The transform, the two datasets and the two loaders are the tutorial's lines with
`kindling.data` in place of torchvision and torch.utils.data. Run it with your
own chapters (after chapter 04) or with the answer key:

    python examples/mnist_data.py --data ../shared/data/mnist
    python examples/mnist_data.py --data ../shared/data/mnist --impl reference
    python examples/mnist_data.py --download        # fetch MNIST into ./data first

It prints each dataset, its number of batches, the shapes and dtypes of one
batch and the mean and standard deviation of its pixels, then measures the
normalisation constants (the mean and standard deviation of every pixel) on
the data it has. The course's shared folder holds only the test split; when
the training split is missing, the program says so and goes on without it.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from grading import impl_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path("./data"), help="the MNIST folder (default ./data)"
    )
    parser.add_argument("--download", action="store_true", help="fetch the files that are missing")
    impl_option.add(parser)
    return parser


# The spine reads KINDLING_IMPL once, when kindling is first imported: --impl goes first.
if __name__ == "__main__":
    impl_option.apply(build_parser())

import numpy as np  # noqa: E402

import kindling  # noqa: E402
from kindling.data import DataLoader, datasets, transforms  # noqa: E402

BATCH_SIZE = 64


# The original tutorial's layout, kept as it is written there.
# fmt: off
# --8<-- [start:pipeline]
def seed_pipeline(root: Path, download: bool) -> tuple[DataLoader | None, DataLoader]:
    """The tutorial's transform, datasets and loaders; no training loader when its files are
    missing."""
    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.1307,), (0.3081,))
    ])

    try:
        train_dataset = datasets.MNIST(root=root, train=True, download=download, transform=transform)
    except FileNotFoundError as missing:
        print(f"{missing}\nThe training split is missing: going on with the test split only.\n")
        train_dataset = None
    test_dataset = datasets.MNIST(root=root, train=False, download=download, transform=transform)

    train_loader = None
    if train_dataset is not None:
        train_loader = DataLoader(train_dataset, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_dataset, batch_size=64, shuffle=False)
    return train_loader, test_loader
# --8<-- [end:pipeline]
# fmt: on


# --8<-- [start:statistics]
def pixel_statistics(root: Path, train: bool) -> tuple[float, float]:
    """The mean and standard deviation of every pixel value / 255 in one split of MNIST."""
    dataset = datasets.MNIST(root=root, train=train, transform=transforms.ToTensor())
    total, total_of_squares, count = 0.0, 0.0, 0
    for images, _labels in DataLoader(dataset, batch_size=1000):
        pixels = images.data.astype(np.float64)  # sums of millions of terms: use float64
        total += float(pixels.sum())
        total_of_squares += float((pixels**2).sum())
        count += pixels.size
    mean = total / count
    return mean, math.sqrt(total_of_squares / count - mean**2)  # Var = E[x^2] - E[x]^2


# --8<-- [end:statistics]


def describe(name: str, loader: DataLoader) -> None:
    """The dataset, its batches, and the shapes, dtypes and spread of the first batch."""
    print(loader.dataset)
    size = len(loader.dataset)
    last = size - (len(loader) - 1) * BATCH_SIZE
    print(f"{name}: {len(loader)} batches of up to {BATCH_SIZE} (the last holds {last})")
    images, labels = next(iter(loader))
    print(f"  images {images.shape} {images.dtype}, labels {labels.shape} {labels.dtype}")
    print(f"  first batch: pixel mean {images.data.mean():.4f}, std {images.data.std():.4f}")
    print(f"  first labels: {labels.data[:10].tolist()}")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    impl_option.announce(args.impl)

    kindling.manual_seed(0)  # the shuffled order of the training loader
    try:
        train_loader, test_loader = seed_pipeline(args.data, args.download)
    except (FileNotFoundError, ValueError, datasets.DownloadError) as error:
        sys.exit(f"error: {error}")

    if train_loader is not None:
        describe("train_loader", train_loader)
    describe("test_loader", test_loader)

    split = "training" if train_loader is not None else "test"
    mean, std = pixel_statistics(args.data, train=train_loader is not None)
    print(f"pixel statistics of the {split} split: mean {mean:.4f}, std {std:.4f}")
    print("the original tutorial's Normalize uses the training split's: mean 0.1307, std 0.3081")


if __name__ == "__main__":
    main()
