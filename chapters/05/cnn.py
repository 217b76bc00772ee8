"""Chapter 05: cnn, convolution and pooling, and the original tutorial's ConvNet (`torch.nn.Conv2d`).

A convolution slides a small filter over the image and takes a dot product at
every position. im2col turns that into one matrix product: each receptive
field becomes a row, each filter a column. Its backward is two more matrix
products and col2im, which adds every gradient back where its pixel came from.

Layout is NCHW, as in torch: (batch, channels, height, width).

This is YOUR file for chapter 05. Each function that raises
NotImplementedError("Exercise 5.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's chapter 05 explains the ideas. Check
your work with

    pytest chapters/05
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import functional as F
from . import init, kernels
from .autograd import Context, Function, Tensor, no_grad
from .nn import Linear, Module, Parameter

__all__ = [
    "Conv2d",
    "ConvNet",
    "MaxPool2d",
    "col2im",
    "conv2d",
    "conv_output_size",
    "evaluate",
    "im2col",
    "max_pool2d",
    "train_epoch",
]


# --8<-- [start:shape]
# ---------------------------------------------------------------------------
# Exercise 5.1: output sizes
# ---------------------------------------------------------------------------


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Return floor((size + 2 * padding - kernel) / stride) + 1.

    Raise ValueError when stride < 1 or padding < 0, and when the kernel is larger
    than the padded size (size + 2 * padding), naming both numbers.
    """
    raise NotImplementedError("Exercise 5.1: Output sizes")


# --8<-- [end:shape]


# --8<-- [start:im2col]
# ---------------------------------------------------------------------------
# Exercise 5.2: convolution by im2col
# ---------------------------------------------------------------------------


def im2col(x: np.ndarray, kernel_h: int, kernel_w: int, stride: int, padding: int) -> np.ndarray:
    """Return every receptive field of x (N, C, H, W) as a row of a (N*OH*OW, C*kh*kw) array.

    1. OH, OW from `conv_output_size`; pad H and W with `padding` zeros (np.pad).
    2. cols = an (N, C, kh, kw, OH, OW) array; for each kernel offset (i, j):
       cols[:, :, i, j] = padded[:, :, i : i + stride*OH : stride, j : j + stride*OW : stride]
    3. Reorder to (N, OH, OW, C, kh, kw) and reshape to (N*OH*OW, C*kh*kw): rows run
       over (n, oy, ox), columns over (c, i, j).
    """
    raise NotImplementedError("Exercise 5.2: Convolution by im2col")


class Conv2dFunction(Function):
    """out[n, f] = sum over c, i, j of weight[f, c, i, j] * x_padded[n, c, s*oy + i, s*ox + j] + bias[f].

    As matrices: out = cols @ W^T + b, with cols = im2col(x) (N*OH*OW, C*kh*kw)
    and W the weight reshaped to (F, C*kh*kw). The answer key runs it on the
    Numba kernels, arranged for speed (the book's "Speed, measured" explains how);
    your version only has to compute the same values.
    """

    @staticmethod
    def forward(
        ctx: Context, x: np.ndarray, weight: np.ndarray, bias: Any, stride: int, padding: int
    ) -> np.ndarray:
        """Return the convolution, shape (N, F, OH, OW); save what backward needs.

        x: (N, C, H, W); weight: (F, C, kh, kw); bias: (F,) or None.
        1. cols = im2col(x, kh, kw, stride, padding)   (N*OH*OW, C*kh*kw)
        2. out = cols @ weight.reshape(F, -1).T        (N*OH*OW, F), plus bias if given
           (np.matmul is fine; after exercises 5.5 and 5.6, kernels.matmul and
           kernels.im2col make it fast, as the answer key does).
        3. Reshape out to (N, OH, OW, F) and move F to axis 1; return it contiguous.
        Save cols and weight (ctx.save_for_backward) and the shapes, stride, padding
        and whether there is a bias.
        """
        raise NotImplementedError("Exercise 5.2: Convolution by im2col")

    # --8<-- [end:im2col]

    # --8<-- [start:conv-backward]
    # -- Exercise 5.3: convolution backward ----------------------------------

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple:
        """Return (grad_x, grad_weight, grad_bias or None, None, None).

        g = grad_output moved to (N, OH, OW, F) and reshaped to (N*OH*OW, F).
        grad_weight = (g.T @ cols) reshaped to the weight's shape;
        grad_bias = g summed over rows (None without a bias);
        grad_x = col2im(g @ weight.reshape(F, -1), x's shape, kh, kw, stride, padding).
        """
        raise NotImplementedError("Exercise 5.3: Convolution backward")


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_h: int,
    kernel_w: int,
    stride: int,
    padding: int,
) -> np.ndarray:
    """Return the (N, C, H, W) array in which every entry of `cols` is ADDED back
    at the input pixel it was copied from by im2col (pixels in the padding are dropped).

    Reshape cols to (N, OH, OW, C, kh, kw) and reorder to (N, C, kh, kw, OH, OW);
    into a zero (N, C, H + 2p, W + 2p) array add, for each offset (i, j), the block
    [:, :, i, j] at [:, :, i : i + stride*OH : stride, j : j + stride*OW : stride];
    return the part without padding (a copy).
    """
    raise NotImplementedError("Exercise 5.3: Convolution backward")


# --8<-- [end:conv-backward]


# --8<-- [start:pool]
# ---------------------------------------------------------------------------
# Exercise 5.4: max pooling
# ---------------------------------------------------------------------------


class MaxPool2dFunction(Function):
    """out = the largest value in each kernel x kernel window (stride apart).

    Backward routes each window's gradient to the one input that was its max
    (the first, if several tie), as torch does; everything else gets 0.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
        """Return the max of each kernel x kernel window, shape (N, C, OH, OW).

        Windows start every `stride` pixels of the input padded by `padding` (padding
        never wins: treat it as -infinity). Check with conv_output_size that the window
        fits. Save, for backward, where each window's maximum was: the FIRST position
        holding it when several tie (scan rows, then columns), as torch does.
        Do the work in kernels.max_pool2d_forward (also yours, in this exercise).
        """
        raise NotImplementedError("Exercise 5.4: Max pooling")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple:
        """Return (grad_x, None, None, None).

        grad_x is zero except at each window's saved max position, which receives that
        window's gradient; when windows overlap, a position that won several of them
        receives the sum. Do the work in kernels.max_pool2d_backward.
        """
        raise NotImplementedError("Exercise 5.4: Max pooling")


# --8<-- [end:pool]


# --8<-- [start:modules]
# ---------------------------------------------------------------------------
# Exercise 5.7: conv2d and max_pool2d, as functions and as modules
# ---------------------------------------------------------------------------


def conv2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1, padding: int = 0
) -> Tensor:
    """Check the shapes, then return `Conv2dFunction.apply(input, weight, bias, stride, padding)`.

    ValueError, with torch's wording and the shapes, when: input is not 4-D
    ("Expected 4D (batched) input to conv2d, but got input of size: [28, 28]"),
    weight is not 4-D, input's channels differ from weight.shape[1] ("Given groups=1,
    weight of size [32, 1, 3, 3], expected input[64, 3, 28, 28] to have 1 channels,
    but got 3 channels instead"), or the kernel is larger than the padded input.
    """
    raise NotImplementedError("Exercise 5.7: Conv2d and MaxPool2d")


def max_pool2d(
    input: Tensor, kernel_size: int, stride: int | None = None, padding: int = 0
) -> Tensor:
    """Return `MaxPool2dFunction.apply(input, kernel_size, stride or kernel_size, padding)`.

    ValueError when input is not 4-D, or when padding > kernel_size // 2.
    """
    raise NotImplementedError("Exercise 5.7: Conv2d and MaxPool2d")


class Conv2d(Module):
    """A convolution layer, initialised as torch does: weight by kaiming_uniform_(a=sqrt(5)),
    bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels * kernel_size^2."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        """Create the parameters, initialised as torch does.

        Call super().__init__(); store in_channels, out_channels, kernel_size, stride,
        padding (as attributes of those names); weight = Parameter of shape
        (out_channels, in_channels, kernel_size, kernel_size), float32; bias = Parameter
        of shape (out_channels,) or None. Then, in this order (so a seed reproduces
        torch's recipe): init.kaiming_uniform_(weight, a=math.sqrt(5)); if there is a
        bias, init.uniform_(bias, -1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in from
        init.fan_in_and_fan_out(weight).
        """
        raise NotImplementedError("Exercise 5.7: Conv2d and MaxPool2d")

    def forward(self, x: Tensor) -> Tensor:
        """Return conv2d(x, self.weight, self.bias, self.stride, self.padding)."""
        raise NotImplementedError("Exercise 5.7: Conv2d and MaxPool2d")

    def extra_repr(self) -> str:
        k, s, p = self.kernel_size, self.stride, self.padding
        text = f"{self.in_channels}, {self.out_channels}, kernel_size=({k}, {k}), stride=({s}, {s})"
        text += f", padding=({p}, {p})" if p else ""
        return text + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def forward(self, x: Tensor) -> Tensor:
        """Return max_pool2d(x, self.kernel_size, self.stride, self.padding)."""
        raise NotImplementedError("Exercise 5.7: Conv2d and MaxPool2d")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# --8<-- [end:modules]


# --8<-- [start:convnet]
# ---------------------------------------------------------------------------
# Exercise 5.8: the original tutorial's ConvNet, with the right flatten size
# ---------------------------------------------------------------------------


class ConvNet(Module):
    """The original tutorial's model for 28x28 digits: two conv + ReLU + 2x2 max-pool stages, then two
    Linear layers. Each pool halves the 28x28 image: 28 -> 14 -> 7, so 64 channels of
    7x7 reach fc1 (the tutorial wrote 64 * 6 * 6, which crashes)."""

    def __init__(self) -> None:
        """Build the tutorial's layers, in this order: conv1 = Conv2d(1, 32, 3, padding=1),
        conv2 = Conv2d(32, 64, 3, padding=1), fc1 = Linear(64 * 7 * 7, 128), fc2 = Linear(128, 10).
        """
        raise NotImplementedError("Exercise 5.8: The original tutorial's ConvNet")

    def forward(self, x: Tensor) -> Tensor:
        """relu(conv1) -> 2x2 max-pool -> relu(conv2) -> 2x2 max-pool -> reshape to
        (-1, 64 * 7 * 7) -> relu(fc1) -> fc2. Return the (N, 10) class scores.
        """
        raise NotImplementedError("Exercise 5.8: The original tutorial's ConvNet")


# --8<-- [end:convnet]


# --8<-- [start:loop]
# ---------------------------------------------------------------------------
# Exercise 5.9: training and evaluation
# ---------------------------------------------------------------------------


def train_epoch(
    model: Module, loader: Iterable, optimizer: Any, criterion: Any
) -> tuple[float, float]:
    """Train for one pass over `loader`; return (mean loss per sample, accuracy).

    model.train(); for each (images, labels) batch: optimizer.zero_grad(); scores =
    model(images); loss = criterion(scores, labels); loss.backward(); optimizer.step().
    The mean loss weights each batch's loss.item() by its size; accuracy is the
    fraction of samples whose highest score is the label (labels may be a Tensor).
    """
    raise NotImplementedError("Exercise 5.9: Training and evaluation")


def evaluate(model: Module, loader: Iterable, criterion: Any) -> tuple[float, float]:
    """Return (mean loss per sample, accuracy) over `loader` without training:
    model.eval() and no_grad(), otherwise computed as in train_epoch.
    """
    raise NotImplementedError("Exercise 5.9: Training and evaluation")


# --8<-- [end:loop]


def _raw(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value
