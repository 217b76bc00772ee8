"""The original tutorial's models, on kindling: a linear regression and a two-headed network.

Run it with your own chapters (after chapter 02) or with the answer key:

    python examples/seed_models.py
    python examples/seed_models.py --impl reference

It fits the linear regression with plain gradient descent (chapter 03 turns
the update into an optimizer) and shows that one backward pass through a
two-headed model reaches the shared layer from both losses.
"""

from __future__ import annotations

import argparse

from grading import impl_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    impl_option.add(parser)
    return parser


# The spine reads KINDLING_IMPL once, when kindling is first imported: --impl goes first.
if __name__ == "__main__":
    impl_option.apply(build_parser())

import numpy as np  # noqa: E402

import kindling  # noqa: E402
import kindling.functional as F  # noqa: E402
from kindling import nn  # noqa: E402


# --8<-- [start:linear-regression]
class LinearRegression(nn.Module):
    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(input_size, output_size)

    def forward(self, x: kindling.Tensor) -> kindling.Tensor:
        return self.linear(x)


# --8<-- [end:linear-regression]


# --8<-- [start:two-heads]
class TwoHeads(nn.Module):
    """One shared body, two outputs: a class score vector and a number."""

    def __init__(self, in_features: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.classify = nn.Linear(hidden, classes)
        self.regress = nn.Linear(hidden, 1)

    def forward(self, x: kindling.Tensor) -> tuple[kindling.Tensor, kindling.Tensor]:
        h = self.body(x)
        return self.classify(h), self.regress(h)


# --8<-- [end:two-heads]


def fit_line(steps: int = 200, lr: float = 0.1) -> LinearRegression:
    """Recover y = 3x - 2 (plus noise) by gradient descent on the mean squared error."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(64, 1)).astype(np.float32)
    y = (3 * x - 2 + 0.05 * rng.standard_normal((64, 1))).astype(np.float32)
    model = LinearRegression(1, 1)
    inputs, targets = kindling.tensor(x), kindling.tensor(y)
    for _ in range(steps):
        model.zero_grad()
        loss = F.mse_loss(model(inputs), targets)
        loss.backward()
        with kindling.no_grad():
            for parameter in model.parameters():
                parameter.data -= lr * parameter.grad
    return model


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    impl_option.announce(args.impl)
    kindling.manual_seed(0)
    model = fit_line()
    weight, bias = model.linear.weight.data.item(), model.linear.bias.data.item()
    print(f"fitted weight {weight:.2f}, bias {bias:.2f}  (the data came from weight 3, bias -2)")

    net = TwoHeads(in_features=8, hidden=16, classes=3)
    print(net)
    x = kindling.randn(4, 8)
    scores, value = net(x)
    loss = F.cross_entropy(scores, np.array([0, 2, 1, 2])) + F.mse_loss(value, kindling.zeros(4, 1))
    loss.backward()
    for name, parameter in net.named_parameters():
        print(f"{name:18s} {parameter.shape!s:9s} grad norm {np.linalg.norm(parameter.grad):.3f}")


if __name__ == "__main__":
    main()
