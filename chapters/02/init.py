"""Chapter 02: init, how a layer's weights are first filled in (`torch.nn.init`).

Every function fills a tensor's data IN PLACE with values drawn from the
library's generator (`kindling.manual_seed` makes them reproducible) and
returns the tensor. The scaled schemes pick the spread of the values from
the layer's fan-in and fan-out, so that signals keep roughly the same size
as they pass through many layers: see the book, chapter 02.

This is YOUR file for chapter 02. Each function that raises
NotImplementedError("Exercise 2.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's chapter 02 explains the ideas. Check
your work with

    pytest chapters/02
"""

from __future__ import annotations

import math

import numpy as np

from .autograd import Tensor, default_generator

__all__ = [
    "calculate_gain",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_uniform_",
    "zeros_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which an activation shrinks the spread of its inputs, undone by init."""
    if nonlinearity in ("linear", "sigmoid", "conv2d", "identity"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def zeros_(tensor: Tensor) -> Tensor:
    tensor.data[...] = 0
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    tensor.data[...] = 1
    return tensor


# --8<-- [start:init]
# ---------------------------------------------------------------------------
# Exercise 2.5: initialisation
# ---------------------------------------------------------------------------


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """Return `(fan_in, fan_out)` of a weight tensor.

    For shape (out, in, *kernel): receptive = product of the kernel sizes (1 for a
    2-D Linear weight, `int(np.prod(shape[2:]))`); fan_in = in * receptive and
    fan_out = out * receptive. Raise ValueError for tensors with fewer than 2
    dimensions, naming the shape.
    """
    raise NotImplementedError("Exercise 2.5: Initialisation")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill `tensor.data` in place with `default_generator().uniform(a, b, size=shape)`;
    return `tensor`. Assign with `tensor.data[...] = ...` so the array (and its
    dtype) stays the same.
    """
    raise NotImplementedError("Exercise 2.5: Initialisation")


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill `tensor.data` in place with `default_generator().normal(mean, std, size=shape)`;
    return `tensor`.
    """
    raise NotImplementedError("Exercise 2.5: Initialisation")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """`uniform_(tensor, -a, a)` with a = gain * sqrt(6 / (fan_in + fan_out)); return it."""
    raise NotImplementedError("Exercise 2.5: Initialisation")


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """`uniform_(tensor, -bound, bound)` with std = calculate_gain(nonlinearity, a) / sqrt(fan)
    and bound = sqrt(3) * std, where fan = `_fan(tensor, mode)`; return the tensor.
    """
    raise NotImplementedError("Exercise 2.5: Initialisation")


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """`normal_(tensor, 0, std)` with std = calculate_gain(nonlinearity, a) / sqrt(fan),
    fan = `_fan(tensor, mode)`; return the tensor.
    """
    raise NotImplementedError("Exercise 2.5: Initialisation")


# --8<-- [end:init]


def _fan(tensor: Tensor, mode: str) -> int:
    """fan_in or fan_out, by name."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out
