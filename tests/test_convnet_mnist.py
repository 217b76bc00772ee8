"""examples/mnist_convnet.py, the seed's ConvNet program on the answer key, learns real digits.

- On the real MNIST test set in ../shared/data/mnist (skipped where it is absent): the
  seed's model, trained with SGD (lr 0.01, momentum 0.9, batch 64, seed 0) for 3 epochs
  on the first 8,000 digits, classifies at least 97% of the other 2,000 correctly. It
  reaches 97.65%; but 3 epochs at lr 0.01 leave a spread of about a point between seeds
  (kindling, seeds 0, 1, 2: 97.65, 97.50, 96.90%; PyTorch with the same recipe and data:
  98.25, 97.90, 97.00%), so a change in the answer key's rounding (the order of a sum)
  can move this figure by a few tenths. This one trains for a minute or more: slow.
- A quick run (--limit 512 --epochs 1) saves a checkpoint that `kindling.load` reads
  back into a fresh ConvNet, which then scores exactly what the program printed.
- The same on small generated IDX files holding both splits, so that the program's
  other branch (train on the training split, evaluate on the test split) runs
  everywhere, with or without the shared folder.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import solutions.nn as nn
from solutions.cnn import ConvNet, evaluate
from solutions.data import DataLoader, Subset
from solutions.datasets import MNIST
from solutions.transforms import Compose, Normalize, ToTensor

ROOT = Path(__file__).resolve().parent.parent
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")

needs_real_digits = pytest.mark.skipif(
    not all((MNIST_DIR / name).is_file() for name in TEST_FILES),
    reason=f"the real MNIST test set is not at {MNIST_DIR}: CI has it; see COURSE.md (Data)",
)

EPOCH_LINE = re.compile(
    r"^epoch (\d+)/(\d+): train loss (\S+) acc (\S+), (held-out|test) loss (\S+) acc (\S+) ",
    flags=re.MULTILINE,
)


def run_convnet(*args: str, timeout: float) -> str:
    """Run examples/mnist_convnet.py on the answer key from the repository's root; its stdout."""
    env = {**os.environ, "KINDLING_IMPL": "reference"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mnist_convnet.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"mnist_convnet.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    )
    return result.stdout


def last_epoch(output: str) -> dict[str, float | str]:
    """The numbers on the program's last 'epoch i/n: ...' line."""
    lines = EPOCH_LINE.findall(output)
    assert lines, f"no 'epoch i/n: train loss ... acc ...' line in:\n{output}"
    epoch, epochs, train_loss, train_acc, name, eval_loss, eval_acc = lines[-1]
    assert epoch == epochs, f"the program stopped after epoch {epoch} of {epochs}:\n{output}"
    return {
        "train_loss": float(train_loss),
        "train_acc": float(train_acc),
        "name": name,
        "eval_loss": float(eval_loss),
        "eval_acc": float(eval_acc),
    }


def reloaded_accuracy(checkpoint: Path, evaluation, batch_size: int = 64) -> float:
    """Accuracy on `evaluation` of a fresh ConvNet given the checkpoint's weights, in batches
    of the program's size (so that every sum runs in the same order as there)."""
    model = ConvNet()
    model.load_state_dict(nn.load(checkpoint))  # strict: every name and shape must match
    loader = DataLoader(evaluation, batch_size=batch_size)
    _, accuracy = evaluate(model, loader, nn.CrossEntropyLoss())
    return accuracy


def seed_transform() -> Compose:
    return Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])


@pytest.mark.slow
@pytest.mark.timeout(1500)
@needs_real_digits
def test_the_seeds_convnet_reaches_97_percent_on_held_out_real_digits():
    output = run_convnet("--data", str(MNIST_DIR), timeout=1400)  # 3 epochs, lr 0.01, seed 0
    result = last_epoch(output)
    if not all((MNIST_DIR / name).is_file() for name in TRAIN_FILES):
        assert "training on the first 8000 test digits, holding out the other 2000" in output
        assert result["name"] == "held-out", output
    assert result["eval_acc"] >= 0.97, (
        f"the seed's ConvNet reached {result['eval_acc']:.2%} on the {result['name']} digits "
        f"after 3 epochs (it reached 97.65% when this test was written; PyTorch with the same "
        f"recipe, seeds 0-2: 97.0 to 98.25%):\n{output}"
    )


@pytest.mark.slow  # 3.8 s on the idle 2-core EPYC: a training run in a subprocess
@pytest.mark.timeout(300)
@needs_real_digits
def test_a_quick_run_saves_weights_that_load_into_a_fresh_convnet(tmp_path):
    checkpoint = tmp_path / "convnet.npz"
    args = ("--data", str(MNIST_DIR), "--limit", "512", "--epochs", "1")
    output = run_convnet(*args, "--save", str(checkpoint), timeout=280)
    result = last_epoch(output)
    assert "512 training digits, 512 held-out" in output, output
    assert f"saved the trained weights to {checkpoint}" in output, output
    # Held out: the 512 digits after the first 8,000 of the test split.
    digits = MNIST(MNIST_DIR, train=False, transform=seed_transform())
    held_out = Subset(digits, range(8000, 8512))
    assert round(reloaded_accuracy(checkpoint, held_out), 4) == result["eval_acc"], output


def idx_gz(array: np.ndarray) -> bytes:
    """An uint8 array as a gzipped IDX file: 0, 0, type 0x08, ndim, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.mark.slow  # 2 s on the idle 2-core EPYC: a training run in a subprocess
@pytest.mark.timeout(300)
def test_with_both_splits_it_trains_on_one_and_evaluates_on_the_other(tmp_path):
    rng = np.random.default_rng(5)
    sizes = {"train": 96, "t10k": 40}
    for split, size in sizes.items():
        images = rng.integers(0, 256, (size, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size, dtype=np.uint8)
        (tmp_path / f"{split}-images-idx3-ubyte.gz").write_bytes(idx_gz(images))
        (tmp_path / f"{split}-labels-idx1-ubyte.gz").write_bytes(idx_gz(labels))
    checkpoint = tmp_path / "convnet.npz"
    output = run_convnet(
        "--data", str(tmp_path), "--epochs", "2", "--batch-size", "32", "--save", str(checkpoint),
        timeout=280,
    )  # fmt: skip
    assert "training split is missing" not in output, output
    assert "96 training digits, 40 test" in output, output
    assert len(EPOCH_LINE.findall(output)) == 2, output
    result = last_epoch(output)
    assert result["name"] == "test", output
    test_set = MNIST(tmp_path, train=False, transform=seed_transform())
    assert round(reloaded_accuracy(checkpoint, test_set, 32), 4) == result["eval_acc"], output
