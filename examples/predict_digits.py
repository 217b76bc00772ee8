"""Use a trained ConvNet: load its weights and classify digits, with no training code.

This is what deploying a model means at its smallest: the model's definition, its
trained weights in a file, the same preprocessing as in training, and inference in
evaluation mode without a graph. Train and save first (the book, chapter 05), then:

    python examples/mnist_convnet.py --data ../shared/data/mnist --save convnet.npz
    python examples/predict_digits.py convnet.npz --data ../shared/data/mnist --count 10

It prints each digit's label, the predicted class and the model's confidence (the
softmax probability of that class), then the accuracy over the digits shown. The
weights file is an .npz written by `kindling.save`: arrays only, so loading it can
never run code (unlike a pickle).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grading import impl_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="an .npz file written by kindling.save")
    parser.add_argument("--data", type=Path, default=Path("./data"), help="the MNIST folder")
    parser.add_argument("--start", type=int, default=9000, help="first test digit (9000)")
    parser.add_argument("--count", type=int, default=10, help="how many digits (10)")
    impl_option.add(parser)
    return parser


# The spine reads KINDLING_IMPL once, when kindling is first imported: --impl goes first.
if __name__ == "__main__":
    impl_option.apply(build_parser())

import numpy as np  # noqa: E402

import kindling  # noqa: E402
from kindling.cnn import ConvNet  # noqa: E402
from kindling.data import datasets, transforms  # noqa: E402

# The preprocessing is part of the model: it must be the one used in training.
PREPROCESS = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


# --8<-- [start:predict]
def load_model(weights: Path) -> ConvNet:
    """A ConvNet holding the trained weights, ready for inference."""
    model = ConvNet()
    model.load_state_dict(kindling.load(weights))  # every name and shape is checked
    model.eval()  # inference behaviour for layers such as Dropout
    return model


def predict(model: ConvNet, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted classes, their probabilities) for a batch of preprocessed images."""
    with kindling.no_grad():  # no graph: less memory, less time
        scores = model(kindling.tensor(images)).data
    scores = scores - scores.max(axis=1, keepdims=True)
    probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    classes = probabilities.argmax(axis=1)
    return classes, probabilities[np.arange(len(classes)), classes]


# --8<-- [end:predict]


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    impl_option.announce(args.impl)
    try:
        model = load_model(args.weights)
        digits = datasets.MNIST(root=args.data, train=False, transform=PREPROCESS)
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        sys.exit(f"error: {error}")
    indices = range(args.start, min(args.start + args.count, len(digits)))
    if not indices:
        sys.exit(f"error: no digits from index {args.start} (the test split has {len(digits)})")
    samples = [digits[i] for i in indices]
    images = np.stack([image.data for image, _ in samples])
    labels = np.array([int(label) for _, label in samples])
    classes, confidence = predict(model, images)
    print(f"{'digit':>6} {'label':>6} {'predicted':>10} {'confidence':>11}")
    for index, label, guess, p in zip(indices, labels, classes, confidence, strict=True):
        mark = "" if guess == label else "  <- wrong"
        print(f"{index:>6} {label:>6} {guess:>10} {p:>11.3f}{mark}")
    print(f"accuracy: {(classes == labels).mean():.3f} on {len(labels)} digits")


if __name__ == "__main__":
    main()
