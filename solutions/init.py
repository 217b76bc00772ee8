"""Chapter 02: init, how a layer's weights are first filled in (`torch.nn.init`).

Every function fills a tensor's data IN PLACE with values drawn from the
library's generator (`kindling.manual_seed` makes them reproducible) and
returns the tensor. The scaled schemes pick the spread of the values from
the layer's fan-in and fan-out, so that signals keep roughly the same size
as they pass through many layers: see the book, chapter 02.
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
    """(fan_in, fan_out) of a weight: how many inputs feed each output, and the reverse.

    A Linear weight has shape (out_features, in_features). A conv weight has
    shape (out_channels, in_channels, kH, kW): each output also sees the kernel's
    kH * kW positions, so both fans are multiplied by the receptive field size.
    """
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}"
        )
    receptive_field = int(np.prod(tensor.shape[2:]))
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with values drawn uniformly from [a, b)."""
    tensor.data[...] = default_generator().uniform(a, b, size=tensor.shape)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with values drawn from the normal distribution N(mean, std^2)."""
    tensor.data[...] = default_generator().normal(mean, std, size=tensor.shape)
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot and Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)),
    which keeps the variance of signals forward and of gradients backward."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He et al. (2015): U(-bound, bound) with std = gain / sqrt(fan), bound = sqrt(3) * std.

    (A uniform distribution on [-b, b] has standard deviation b / sqrt(3).)
    `mode` picks fan_in (keeps forward signals) or fan_out (keeps gradients).
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He et al. (2015): N(0, std^2) with std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


# --8<-- [end:init]


def _fan(tensor: Tensor, mode: str) -> int:
    """fan_in or fan_out, by name."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out
