"""How initialisation decides whether a signal survives ten layers (the book, chapter 02).

One fixed batch (512 samples of 256 standard-normal features) goes through a stack
of ten Linear(256, 256) + ReLU layers, once for each way of filling the weights.
The table gives the standard deviation of the activations after layers 1, 2, 5 and
10, and of the gradient that reaches the first layer's weight when the loss is the
mean of the output. Run it with the answer key (or with your own chapter 02):

    python examples/init_experiment.py --impl reference
    python examples/init_experiment.py --impl reference docs/snippets/init-experiment.md

The second form writes the table that the book includes.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from grading import impl_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", nargs="?", type=Path, help="write the table here, not to stdout")
    impl_option.add(parser)
    return parser


# The spine reads KINDLING_IMPL once, when kindling is first imported: --impl goes first.
if __name__ == "__main__":
    impl_option.apply(build_parser())

import numpy as np  # noqa: E402

import kindling  # noqa: E402
from kindling import nn  # noqa: E402

BATCH, WIDTH, DEPTH = 512, 256, 10
REPORTED_LAYERS = (1, 2, 5, 10)
SEED = 0


def normal_1(layer: nn.Linear) -> None:
    nn.init.normal_(layer.weight, 0.0, 1.0)
    nn.init.zeros_(layer.bias)


def normal_001(layer: nn.Linear) -> None:
    nn.init.normal_(layer.weight, 0.0, 0.01)
    nn.init.zeros_(layer.bias)


def kaiming(layer: nn.Linear) -> None:
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)


def linear_default(layer: nn.Linear) -> None:
    """Keep what nn.Linear drew: torch's default, U(-1/sqrt(256), 1/sqrt(256)), bias too."""


# (label for the table, how to fill one layer's weight and bias)
SCHEMES: list[tuple[str, Callable[[nn.Linear], None]]] = [
    ("`normal_(w, 0, 1)`, bias 0", normal_1),
    ("`normal_(w, 0, 0.01)`, bias 0", normal_001),
    ('`kaiming_normal_(w, nonlinearity="relu")`, bias 0', kaiming),
    ("`nn.Linear`'s default (torch's)", linear_default),
]


def measure(fill: Callable[[nn.Linear], None]) -> tuple[float, list[float], float]:
    """(weight std, activation std after each layer, std of the first weight's gradient)."""
    kindling.manual_seed(SEED)
    x = kindling.randn(BATCH, WIDTH)  # the same batch for every scheme
    layers = [nn.Linear(WIDTH, WIDTH) for _ in range(DEPTH)]
    for layer in layers:
        fill(layer)
    h, stds = x, []
    for layer in layers:
        h = nn.functional.relu(layer(h))
        stds.append(float(h.data.std()))
    h.mean().backward()
    first = layers[0].weight
    return float(first.data.std()), stds, float(np.std(first.grad))


def number(value: float) -> str:
    """Three significant digits, in scientific notation only when it is very large or small."""
    if not 1e-3 <= abs(value) < 1e3:
        return f"{value:.2e}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def table() -> str:
    header = ["initialisation", "weight std"]
    header += [f"layer {k}" for k in REPORTED_LAYERS] + ["gradient of layer 1's weight"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, fill in SCHEMES:
        weight_std, stds, grad_std = measure(fill)
        cells = [label, number(weight_std)]
        cells += [number(stds[k - 1]) for k in REPORTED_LAYERS] + [number(grad_std)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    impl_option.announce(args.impl)
    text = table()
    if args.table is not None:
        args.table.write_text(text, encoding="utf-8")
        print(f"wrote {args.table}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
