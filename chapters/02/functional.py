"""Chapter 02: functional, the stateless side of nn (`torch.nn.functional`).

Activations, softmax, dropout and the losses, as plain functions of tensors.
Softmax and log-softmax are Functions with their own backward, written to stay
finite for any logits; the losses are composed from autograd operations, so
their gradients come for free.

This is YOUR file for chapter 02. Each function that raises
NotImplementedError("Exercise 2.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's chapter 02 explains the ideas. Check
your work with

    pytest chapters/02
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
        """Return softmax along `dim`; save the output and `dim` for backward.

        exps = e^(x - max(x along dim, keepdims)); out = exps / sum(exps along dim, keepdims).
        """
        raise NotImplementedError("Exercise 2.7: Softmax and log-softmax")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        """Return `(dL/dx, None)`: out * (g - sum(g * out along dim, keepdims))."""
        raise NotImplementedError("Exercise 2.7: Softmax and log-softmax")


class LogSoftmax(Function):
    """out_i = x_i - m - log(sum_j e^(x_j - m)) along `dim` (the log-sum-exp trick).

    Backward: dL/dx = g - softmax(x) * sum_j g_j, where softmax(x) = e^out.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dim: int) -> np.ndarray:
        """Return log-softmax along `dim`; save the output and `dim` for backward.

        shifted = x - max(x along dim, keepdims);
        out = shifted - log(sum(e^shifted along dim, keepdims)).
        Never compute log(softmax(x)): softmax rounds to 0 for very negative logits.
        """
        raise NotImplementedError("Exercise 2.7: Softmax and log-softmax")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        """Return `(dL/dx, None)`: g - e^out * sum(g along dim, keepdims)."""
        raise NotImplementedError("Exercise 2.7: Softmax and log-softmax")


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
    "mean" divides the sum by sum_n w[t_n] (that is N when unweighted), "sum"
    returns the sum, "none" the (N,) vector of per-sample losses.

    1. `labels = _class_indices(log_probs, target)` (checks shapes and range) and
       `_check_reduction(reduction)`.
    2. picked = `log_probs[np.arange(N), labels]`: one indexing operation, so the
       gradient flows back to exactly those entries.
    3. Without weight: `_reduce(-picked, reduction)`.
       With weight (a (C,) Tensor): w = Tensor(weight.data[labels]) and
       losses = -picked * w; "mean" is losses.sum() / (sum of w's values),
       otherwise `_reduce(losses, reduction)`.
    """
    raise NotImplementedError("Exercise 2.8: Losses")


def cross_entropy(
    logits: Tensor, target: Any, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """`nll_loss(log_softmax(logits, dim=1), target, weight=weight, reduction=reduction)`."""
    raise NotImplementedError("Exercise 2.8: Losses")


def mse_loss(prediction: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error, reduced by `reduction` ("mean", "sum" or "none").

    Check the reduction, then raise ValueError naming both shapes when
    prediction and target differ in shape (no silent broadcasting); return
    `_reduce((prediction - target) ** 2, reduction)`.
    """
    raise NotImplementedError("Exercise 2.8: Losses")


# --8<-- [end:losses]


# --8<-- [start:dropout]
def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    1. Raise ValueError unless 0 <= p <= 1.
    2. When not `training`, or p == 0: return `x` itself.
    3. keep = `default_generator().random(x.shape) >= p` (draw exactly this, so a
       seed reproduces the mask); scale = keep / (1 - p), or all zeros when p == 1.
    4. Return `x * Tensor(scale.astype(x.dtype))`.
    """
    raise NotImplementedError("Exercise 2.6: Layers")


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
