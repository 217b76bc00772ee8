"""Chapter 05: cnn, convolution and pooling, and the original tutorial's ConvNet (`torch.nn.Conv2d`).

A convolution slides a small filter over the image and takes a dot product at
every position. im2col turns that into one matrix product: each receptive
field becomes a row, each filter a column. Its backward is two more matrix
products and col2im, which adds every gradient back where its pixel came from.

Layout is NCHW, as in torch: (batch, channels, height, width).
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
    """How many positions a window of `kernel` takes along an axis of `size`:
    floor((size + 2 * padding - kernel) / stride) + 1.

    ValueError when the stride is not positive, the padding is negative, or the
    window does not fit in the padded axis even once.
    """
    if stride < 1 or padding < 0:
        raise ValueError(
            f"stride must be >= 1 and padding >= 0, got stride={stride}, padding={padding}"
        )
    if kernel > size + 2 * padding:
        raise ValueError(
            f"kernel size {kernel} is larger than the padded input size {size + 2 * padding}"
        )
    return (size + 2 * padding - kernel) // stride + 1


# --8<-- [end:shape]


# --8<-- [start:im2col]
# ---------------------------------------------------------------------------
# Exercise 5.2: convolution by im2col
# ---------------------------------------------------------------------------


def im2col(x: np.ndarray, kernel_h: int, kernel_w: int, stride: int, padding: int) -> np.ndarray:
    """Every receptive field of x (N, C, H, W) as a row: shape (N*OH*OW, C*kernel_h*kernel_w).

    Rows run over (n, oy, ox), columns over (c, i, j), so that a weight of shape
    (F, C, kh, kw) reshaped to (F, C*kh*kw) multiplies them. One strided slice per
    kernel offset (i, j) gathers that offset for every output position at once.
    """
    n, c, h, w = x.shape
    out_h = conv_output_size(h, kernel_h, stride, padding)
    out_w = conv_output_size(w, kernel_w, stride, padding)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((n, c, kernel_h, kernel_w, out_h, out_w), dtype=x.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            cols[:, :, i, j] = padded[
                :, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride
            ]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(n * out_h * out_w, c * kernel_h * kernel_w)


class Conv2dFunction(Function):
    """out[n, f] = sum over c, i, j of weight[f, c, i, j] * x_padded[n, c, s*oy + i, s*ox + j] + bias[f].

    As matrices: out = cols @ W^T + b, with cols = im2col(x) (N*OH*OW, C*kh*kw)
    and W the weight reshaped to (F, C*kh*kw). The answer key runs it on the
    Numba kernels, or, with KINDLING_DEVICE=cuda and float32 arrays, on the GPU's
    direct kernels (gpu.conv2d_forward, conv2d_backward). On the CPU it computes the
    transposed product, W @ cols^T, one row per filter: (F, N*OH*OW) is NCHW with its
    first two axes swapped, so whole rows of OH*OW values land in place, where
    cols @ W^T needs an element-by-element transpose per image.
    """

    @staticmethod
    def forward(
        ctx: Context, x: np.ndarray, weight: np.ndarray, bias: Any, stride: int, padding: int
    ) -> np.ndarray:
        from kindling import DEVICE  # KINDLING_DEVICE=cuda: the GPU's direct kernels

        ctx.on_gpu = DEVICE == "cuda" and x.dtype == weight.dtype == np.float32
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, bias is not None)
        if ctx.on_gpu:
            from . import gpu

            return gpu.conv2d_forward(x, weight, bias, stride, padding)
        n, _, h, w = x.shape
        filters, _, kernel_h, kernel_w = weight.shape
        out_h = conv_output_size(h, kernel_h, stride, padding)
        out_w = conv_output_size(w, kernel_w, stride, padding)
        cols = kernels.im2col(x, kernel_h, kernel_w, stride, padding)
        # fast_matmul: the outer-product kernel for conv1's k = 9, matmul for conv2's 288.
        out = kernels.fast_matmul(weight.reshape(filters, -1), cols.T)
        if bias is not None:
            out += bias[:, np.newaxis]
        # (F, N, OH*OW) -> (N, F, OH*OW): whole rows move.
        out = out.reshape(filters, n, out_h * out_w).transpose(1, 0, 2)
        return np.ascontiguousarray(out).reshape(n, filters, out_h, out_w)

    # --8<-- [end:im2col]

    # --8<-- [start:conv-backward]
    # -- Exercise 5.3: convolution backward ----------------------------------

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple:
        """With g = grad_output as a (N*OH*OW, F) matrix (the layout of `out` before reshaping):

        dL/dW = g^T @ cols        (then reshaped to the weight's shape)
        dL/db = sum of g over its rows
        dL/dx = col2im(g @ W)     (each receptive field's gradient, added back in place)
        """
        if ctx.on_gpu:  # the forward ran on the GPU (KINDLING_DEVICE=cuda)
            from . import gpu

            return gpu.conv2d_function_backward(ctx, grad_output)
        x, weight = ctx.saved_tensors
        stride, padding, has_bias = ctx.geometry
        n, c, h, w = x.shape
        filters, _, kernel_h, kernel_w = weight.shape
        # g^T, one row per filter over every (image, position), is NCHW with its first two
        # axes swapped (whole rows move); cols^T is built from x in that layout.
        g_t = np.ascontiguousarray(grad_output.reshape(n, filters, -1).transpose(1, 0, 2))
        g_t = g_t.reshape(filters, -1)
        cols_t = kernels.im2col_transposed(x, kernel_h, kernel_w, stride, padding)
        grad_weight = kernels.fast_matmul(g_t, cols_t.T).reshape(weight.shape)
        grad_bias = g_t.sum(axis=1) if has_bias else None
        if ctx.inputs and not ctx.inputs[0].requires_grad:
            return None, grad_weight, grad_bias, None, None  # the images: no gradient wanted
        grad_cols = kernels.fast_matmul(g_t.T, weight.reshape(filters, -1))
        grad_x = kernels.col2im(grad_cols, n, c, h, w, kernel_h, kernel_w, stride, padding)
        return grad_x, grad_weight, grad_bias, None, None


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_h: int,
    kernel_w: int,
    stride: int,
    padding: int,
) -> np.ndarray:
    """The adjoint of im2col: sum each row's entries back into an array of x_shape.

    A pixel that lies in several receptive fields receives the sum of its copies.
    """
    n, c, h, w = x_shape
    out_h = conv_output_size(h, kernel_h, stride, padding)
    out_w = conv_output_size(w, kernel_w, stride, padding)
    blocks = cols.reshape(n, out_h, out_w, c, kernel_h, kernel_w).transpose(0, 3, 4, 5, 1, 2)
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            padded[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride] += (
                blocks[:, :, i, j]
            )
    return padded[:, :, padding : padding + h, padding : padding + w].copy()


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
        conv_output_size(x.shape[2], kernel, stride, padding)  # checks the window fits
        conv_output_size(x.shape[3], kernel, stride, padding)
        out, argmax = kernels.max_pool2d_forward(x, kernel, stride, padding)
        ctx.save_for_backward(argmax)
        ctx.input_hw = x.shape[2:]
        return out

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple:
        (argmax,) = ctx.saved_tensors
        height, width = ctx.input_hw
        return kernels.max_pool2d_backward(grad_output, argmax, height, width), None, None, None


# --8<-- [end:pool]


# --8<-- [start:modules]
# ---------------------------------------------------------------------------
# Exercise 5.7: conv2d and max_pool2d, as functions and as modules
# ---------------------------------------------------------------------------


def conv2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1, padding: int = 0
) -> Tensor:
    """2-D convolution of a (N, C, H, W) batch with (F, C, kh, kw) filters, after torch's checks."""
    if input.ndim != 4:
        raise ValueError(
            f"Expected 4D (batched) input to conv2d, but got input of size: {list(input.shape)}"
        )
    if weight.ndim != 4:
        raise ValueError(
            f"Expected a 4D weight (F, C, kh, kw), but got weight of size: {list(weight.shape)}"
        )
    if input.shape[1] != weight.shape[1]:
        raise ValueError(
            f"Given groups=1, weight of size {list(weight.shape)}, expected input{list(input.shape)} "
            f"to have {weight.shape[1]} channels, but got {input.shape[1]} channels instead"
        )
    padded = (input.shape[2] + 2 * padding, input.shape[3] + 2 * padding)
    if weight.shape[2] > padded[0] or weight.shape[3] > padded[1]:
        raise ValueError(
            f"Calculated padded input size per channel: ({padded[0]} x {padded[1]}). Kernel size: "
            f"({weight.shape[2]} x {weight.shape[3]}). Kernel size can't be greater than actual input size"
        )
    return Conv2dFunction.apply(input, weight, bias, stride, padding)


def max_pool2d(
    input: Tensor, kernel_size: int, stride: int | None = None, padding: int = 0
) -> Tensor:
    """The max over each kernel_size x kernel_size window; stride defaults to kernel_size."""
    if input.ndim != 4:
        raise ValueError(
            f"Expected 4D (batched) input to max_pool2d, but got input of size: {list(input.shape)}"
        )
    if padding > kernel_size // 2:
        raise ValueError(
            f"pad should be at most half of effective kernel size, but got pad={padding}, kernel_size={kernel_size}"
        )
    return MaxPool2dFunction.apply(
        input, kernel_size, kernel_size if stride is None else stride, padding
    )


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
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=np.float32))
        self.bias = Parameter(np.empty(out_channels, dtype=np.float32)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_fan_out(self.weight)
            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

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
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

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
        super().__init__()
        self.conv1 = Conv2d(1, 32, 3, padding=1)
        self.conv2 = Conv2d(32, 64, 3, padding=1)
        self.fc1 = Linear(64 * 7 * 7, 128)
        self.fc2 = Linear(128, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = x.reshape(-1, 64 * 7 * 7)
        return self.fc2(F.relu(self.fc1(x)))


# --8<-- [end:convnet]


# --8<-- [start:loop]
# ---------------------------------------------------------------------------
# Exercise 5.9: training and evaluation
# ---------------------------------------------------------------------------


def train_epoch(
    model: Module, loader: Iterable, optimizer: Any, criterion: Any
) -> tuple[float, float]:
    """One pass over `loader` in training mode: (mean loss per sample, accuracy).

    For each batch: zero the gradients, compute the loss, backward, step.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        optimizer.zero_grad()
        scores = model(images)
        loss = criterion(scores, labels)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(labels)
        correct += int((scores.data.argmax(axis=1) == np.asarray(_raw(labels))).sum())
        seen += len(labels)
    return total_loss / seen, correct / seen


def evaluate(model: Module, loader: Iterable, criterion: Any) -> tuple[float, float]:
    """(mean loss per sample, accuracy) in evaluation mode, without recording a graph."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with no_grad():
        for images, labels in loader:
            scores = model(images)
            total_loss += criterion(scores, labels).item() * len(labels)
            correct += int((scores.data.argmax(axis=1) == np.asarray(_raw(labels))).sum())
            seen += len(labels)
    return total_loss / seen, correct / seen


# --8<-- [end:loop]


def _raw(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value
