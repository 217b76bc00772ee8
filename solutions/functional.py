"""Chapter 02: functional, the stateless side of nn (`torch.nn.functional`).

Activations, softmax, dropout and the losses, as plain functions of tensors.
Softmax and log-softmax are Functions with their own backward, written to stay
finite for any logits; the losses are composed from autograd operations, so
their gradients come for free.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autograd import Context, Function, Tensor, default_generator, relu, sigmoid, tanh

__all__ = [
    "cross_entropy",
    "dropout",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

REDUCTIONS = ("mean", "sum", "none")


# --8<-- [start:softmax]
# ---------------------------------------------------------------------------
# Exercise 2.7: softmax and log-softmax
# ---------------------------------------------------------------------------


class Softmax(Function):
    """out_i = e^(x_i - m) / sum_j e^(x_j - m) along `dim`, with m = max_j x_j.

    Subtracting m changes nothing mathematically and keeps every exponent <= 0,
    so e^... never overflows.  Backward: dL/dx = out * (g - sum_j g_j out_j).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int) -> np.ndarray:
        exps = np.exp(x - x.max(axis=dim, keepdims=True))
        out = exps / exps.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        (out,) = ctx.saved_tensors
        weighted = (grad_output * out).sum(axis=ctx.dim, keepdims=True)
        return out * (grad_output - weighted), None


class LogSoftmax(Function):
    """out_i = x_i - m - log(sum_j e^(x_j - m)) along `dim` (the log-sum-exp trick).

    Backward: dL/dx = g - softmax(x) * sum_j g_j, where softmax(x) = e^out.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int) -> np.ndarray:
        shifted = x - x.max(axis=dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        (out,) = ctx.saved_tensors
        return grad_output - np.exp(out) * grad_output.sum(axis=ctx.dim, keepdims=True), None


# --8<-- [end:softmax]


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """Probabilities along `dim`: positive, summing to 1."""
    return Softmax.apply(x, dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """log(softmax(x)), computed without ever taking the log of a rounded-to-zero value."""
    return LogSoftmax.apply(x, dim)


# --8<-- [start:losses]
# ---------------------------------------------------------------------------
# Exercise 2.8: losses
# ---------------------------------------------------------------------------


def nll_loss(
    log_probs: Tensor, target: Any, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of the target classes.

    log_probs: (N, C) log-probabilities; target: (N,) class indices in [0, C).
    Per sample: loss_n = -w[t_n] * log_probs[n, t_n]  (w = 1 without `weight`).
    "mean" divides the sum by sum_n w[t_n] (the number of samples when unweighted),
    "sum" returns the sum, "none" the (N,) vector.
    """
    labels = _class_indices(log_probs, target)
    _check_reduction(reduction)
    picked = log_probs[np.arange(len(labels)), labels]
    if weight is None:
        return _reduce(-picked, reduction)
    sample_weights = Tensor(weight.data[labels])
    losses = -picked * sample_weights
    if reduction == "mean":
        return losses.sum() / sample_weights.data.sum()
    return _reduce(losses, reduction)


def cross_entropy(
    logits: Tensor, target: Any, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy of raw scores against class indices: nll_loss(log_softmax(logits))."""
    return nll_loss(log_softmax(logits, dim=1), target, weight=weight, reduction=reduction)


def mse_loss(prediction: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: the mean (or sum, or none) of (prediction - target)^2."""
    _check_reduction(reduction)
    if prediction.shape != target.shape:
        raise ValueError(
            f"mse_loss: prediction has shape {prediction.shape} but target has shape "
            f"{target.shape}; they must match (reshape one of them)"
        )
    return _reduce((prediction - target) ** 2, reduction)


# --8<-- [end:losses]


# --8<-- [start:dropout]
def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    The scaling keeps every element's expected value unchanged, so nothing needs
    to change at evaluation time, when dropout does nothing (`training=False`).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    keep = default_generator().random(x.shape) >= p
    scale = keep / (1.0 - p) if p < 1.0 else np.zeros(x.shape)
    return x * Tensor(scale.astype(x.dtype))


# --8<-- [end:dropout]


# ---------------------------------------------------------------------------
# Provided: argument checks shared by the losses
# ---------------------------------------------------------------------------


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _class_indices(scores: Tensor, target: Any) -> np.ndarray:
    """`target` as an int64 array of class indices that fit `scores` (N, C), or a clear error."""
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if scores.ndim != 2:
        raise ValueError(f"expected scores of shape (N, C), got shape {scores.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"target must hold integer class indices, got dtype {labels.dtype}")
    if labels.shape != (scores.shape[0],):
        raise ValueError(
            f"expected target of shape ({scores.shape[0]},) to match the batch of scores "
            f"{scores.shape}, got shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        bad = labels[(labels < 0) | (labels >= scores.shape[1])][0]
        raise IndexError(f"target {bad} is out of bounds for {scores.shape[1]} classes")
    return labels.astype(np.int64)
