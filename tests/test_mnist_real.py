"""The answer key reads the real MNIST test set, and the seed's pipeline normalises it.

The files live outside the repository, in ../shared/data/mnist (CI has them; they are
never committed); every test here is skipped, with the reason, where they are absent.
What is proven, on the real 10,000 test digits:

- the files are the published ones (their SHA-256 against SHA256SUMS);
- `MNIST(folder, train=False)` holds 10,000 uint8 images of 28x28 and labels whose
  counts per class are exactly MNIST's [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
- the raw pixels / 255 have mean and std within 0.005 of the training set's 0.1307 and
  0.3081 (the test split measures 0.1325 and 0.3105), so the seed's
  `Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])` leaves them at mean about 0
  and std about 1 (0.006 and 1.008);
- asking for the training split, which is not shared, is a FileNotFoundError that
  says `download=True`;
- a shuffled DataLoader of batch 64 gives 157 batches of (64, 1, 28, 28) float32
  images and int64 labels, the last one of 16, covering every image once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import solutions.data as data
import solutions.transforms as transforms
from solutions.datasets import MNIST

ROOT = Path(__file__).resolve().parent.parent
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MEAN, STD = 0.1307, 0.3081  # the training set's, as the seed normalises with

pytestmark = pytest.mark.skipif(
    not all((MNIST_DIR / name).is_file() for name in (*FILES, "SHA256SUMS")),
    reason=f"the real MNIST test set is not at {MNIST_DIR}: CI has it; see COURSE.md (Data)",
)


def seed_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])


@pytest.fixture(scope="module")
def digits() -> MNIST:
    return MNIST(MNIST_DIR, train=False)


def test_the_files_are_the_published_ones():
    expected = {}
    for line in (MNIST_DIR / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            expected[name.lstrip("*")] = digest
    for name in FILES:
        assert name in expected, f"SHA256SUMS in {MNIST_DIR} has no line for {name}"
        actual = hashlib.sha256((MNIST_DIR / name).read_bytes()).hexdigest()
        assert actual == expected[name], (
            f"{MNIST_DIR / name} is not the published file: SHA-256 {actual}, "
            f"SHA256SUMS says {expected[name]}"
        )


def test_the_test_split_has_10000_digits_in_the_known_class_counts(digits):
    assert len(digits) == 10_000
    assert digits.data.shape == (10_000, 28, 28) and digits.data.dtype == np.uint8
    assert digits.targets.dtype == np.int64
    assert np.bincount(digits.targets, minlength=10).tolist() == CLASS_COUNTS
    image, label = digits[0]
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert label == 7 and isinstance(label, int)  # the first test digit is a 7
    assert 0 < image.max() <= 255 and image.min() == 0


def test_raw_pixels_match_the_training_statistics_the_seed_uses(digits):
    pixels = digits.data.astype(np.float64) / 255
    mean, std = pixels.mean(), pixels.std()
    assert abs(mean - MEAN) < 0.005, f"pixel mean {mean:.4f}, the seed normalises with {MEAN}"
    assert abs(std - STD) < 0.005, f"pixel std {std:.4f}, the seed normalises with {STD}"


def test_the_seeds_normalisation_centres_the_test_split(digits):
    transform = seed_transform()
    images = np.stack([transform(image).data for image in digits.data])
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == np.float32
    mean, std = images.astype(np.float64).mean(), images.astype(np.float64).std()
    assert abs(mean) < 0.05, f"normalised mean {mean:.4f}, expected about 0"
    assert abs(std - 1) < 0.05, f"normalised std {std:.4f}, expected about 1"


def test_the_training_split_is_not_shared_and_the_error_says_how_to_get_it():
    with pytest.raises(FileNotFoundError) as caught:
        MNIST(MNIST_DIR, train=True)
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz" in message and "download=True" in message, message


def test_a_shuffled_loader_covers_the_test_split_in_157_batches(digits):
    dataset = MNIST(MNIST_DIR, train=False, transform=seed_transform())
    loader = data.DataLoader(
        dataset, batch_size=64, shuffle=True, generator=np.random.default_rng(0)
    )
    assert len(loader) == 157
    sizes, labels = [], []
    for images, targets in loader:
        assert images.shape[1:] == (1, 28, 28) and images.dtype == np.float32
        assert targets.dtype == np.int64 and targets.shape == (images.shape[0],)
        sizes.append(images.shape[0])
        labels.append(targets.data)
    assert len(sizes) == 157 and set(sizes[:-1]) == {64} and sizes[-1] == 16
    labels = np.concatenate(labels)
    assert np.bincount(labels, minlength=10).tolist() == CLASS_COUNTS
    assert not np.array_equal(labels, digits.targets), "shuffle=True kept the file's order"
