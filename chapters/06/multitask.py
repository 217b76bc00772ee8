"""Chapter 06: multitask, one network learning several tasks at once.

Hard parameter sharing: a trunk that every task shares turns the input into
features, and each task has a small head of its own on top. The model returns a
dict of outputs, one per task; a loss per task compares each with its target, and
one number, a weighted sum of the task losses, is what backward differentiates:

    L = sum over tasks t of w_t * L_t

The weights matter because the task losses come in different units (a
cross-entropy near 2.3, a squared error in degrees squared near 700). They can be
fixed by hand (`WeightedLoss`), learned with the network (`UncertaintyWeightedLoss`,
Kendall, Gal and Cipolla, 2018), or reset each epoch from how fast each loss is
falling (`DynamicWeightAverage`, Liu, Johns and Davison, 2019).

This is YOUR file for chapter 06. Each function that raises
NotImplementedError("Exercise 6.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's chapter 06 explains the ideas. Check
your work with

    pytest chapters/06
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .autograd import Tensor, exp, no_grad, tensor
from .data import Dataset
from .nn import Module, ModuleDict, Parameter

__all__ = [
    "DynamicWeightAverage",
    "MultiTaskNet",
    "RotatedDigits",
    "UncertaintyWeightedLoss",
    "WeightedLoss",
    "evaluate",
    "rotate",
    "train_epoch",
]

TaskLoss = Callable[[Tensor, Tensor], Tensor]


def check_tasks(where: str, expected: Iterable[str], given: Mapping[str, Any], what: str) -> None:
    """A KeyError naming the tasks that `given` lacks (`what` says what it is)."""
    missing = [task for task in expected if task not in given]
    if missing:
        raise KeyError(
            f"{where}: {what} have no {', '.join(repr(t) for t in missing)} "
            f"(they have {sorted(given)}; the tasks are {sorted(expected)})"
        )


# --8<-- [start:model]
# ---------------------------------------------------------------------------
# Exercise 6.1: a shared trunk with named heads
# ---------------------------------------------------------------------------


class MultiTaskNet(Module):
    """outputs[task] = heads[task](trunk(x)) for every task, with the trunk run once.

    `heads` is a ModuleDict, so every head's parameters are registered (and appear
    in parameters() and state_dict() as heads.<task>.<name>).
    """

    def __init__(self, trunk: Module, heads: Mapping[str, Module]) -> None:
        """Store the trunk and the heads.

        Call super().__init__() first. ValueError when `heads` is empty. self.trunk =
        trunk; self.heads = a ModuleDict of `heads` (so that each head's parameters are
        registered, as heads.<task>.<name>).
        """
        raise NotImplementedError("Exercise 6.1: A shared trunk with named heads")

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Return {task: head(features)} for every head, in the heads' order.

        features = self.trunk(x), computed ONCE and given to every head.
        """
        raise NotImplementedError("Exercise 6.1: A shared trunk with named heads")


# --8<-- [end:model]


# --8<-- [start:data]
# ---------------------------------------------------------------------------
# Exercise 6.2: a second task made from the first one's data
# ---------------------------------------------------------------------------


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Return `image` (H, W) turned counter-clockwise by `degrees` about its centre.

    With theta = radians(degrees), the centre (cy, cx) = ((H - 1) / 2, (W - 1) / 2),
    and for every output pixel (y, x), dy = y - cy and dx = x - cx, the point it
    comes from is
        source_y = cy + dy * cos(theta) + dx * sin(theta)
        source_x = cx - dy * sin(theta) + dx * cos(theta)
    Its value is interpolated bilinearly: with y0 = floor(source_y), x0 =
    floor(source_x), fy = source_y - y0 and fx = source_x - x0,
        (1-fy)(1-fx) I[y0, x0] + (1-fy) fx I[y0, x0+1] + fy (1-fx) I[y0+1, x0] + fy fx I[y0+1, x0+1]
    where I is 0 outside the image. Compute in float64 (np.mgrid gives every (y, x)
    at once), return the image's dtype. rotate(image, 90) equals np.rot90(image).
    """
    raise NotImplementedError("Exercise 6.2: Rotated digits")


class RotatedDigits(Dataset):
    """Digits turned by a random angle: (image, {"digit": label, "angle": degrees}).

    `base` yields (image, label) with image of shape (1, H, W) (a Tensor or an
    array). Sample i is turned by an angle drawn uniformly from
    [-max_degrees, max_degrees] by np.random.default_rng([seed, i]): the same angle
    every time sample i is read, whatever the order. The angle is a float32 in degrees.
    """

    def __init__(self, base: Dataset, max_degrees: float = 45.0, seed: int = 0) -> None:
        self.base, self.max_degrees, self.seed = base, max_degrees, seed

    def __len__(self) -> int:
        return len(self.base)

    def angle(self, index: int) -> float:
        """Return sample `index`'s angle in degrees, a float.

        Drawn uniformly from [-max_degrees, max_degrees] with
        np.random.default_rng([self.seed, index]).uniform(...): the same for an index
        every time, whatever order the samples are read in.
        """
        raise NotImplementedError("Exercise 6.2: Rotated digits")

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Any]]:
        """Return (turned image, {"digit": label, "angle": angle}).

        image, label = self.base[index]; the image (a Tensor or an array) must have
        shape (1, H, W), else ValueError naming the shape. Turn its plane by
        self.angle(index) with `rotate` and return it as a Tensor of shape (1, H, W);
        "digit" is the label as a Python int, "angle" the angle as np.float32.
        """
        raise NotImplementedError("Exercise 6.2: Rotated digits")


# --8<-- [end:data]


# --8<-- [start:weighted]
# ---------------------------------------------------------------------------
# Exercise 6.3: fixed weights
# ---------------------------------------------------------------------------


class WeightedLoss(Module):
    """total = sum over tasks of weights[task] * losses[task](outputs[task], targets[task]).

    Returns (total, {task: that task's loss}). Weights default to 1. Every output
    must have a loss, and the targets must hold every task: KeyError otherwise.
    """

    def __init__(
        self, losses: Mapping[str, TaskLoss], weights: Mapping[str, float] | None = None
    ) -> None:
        super().__init__()
        self.losses = dict(losses)
        self.weights = {task: 1.0 for task in self.losses}
        if weights is not None:
            check_tasks("WeightedLoss", weights, self.losses, "the losses")
            self.weights.update(weights)

    def task_losses(
        self, outputs: Mapping[str, Tensor], targets: Mapping[str, Any]
    ) -> dict[str, Tensor]:
        """Return {task: self.losses[task](outputs[task], targets[task])} for every output.

        First, with check_tasks (which raises a KeyError naming what is missing), check
        that every task in `outputs` has a loss in self.losses ("the losses") and a
        target in `targets` ("the targets"). Use type(self).__name__ as `where`.
        """
        raise NotImplementedError("Exercise 6.3: Fixed loss weights")

    def forward(
        self, outputs: Mapping[str, Tensor], targets: Mapping[str, Any]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Return (total, parts): parts = self.task_losses(outputs, targets) and
        total = the sum over parts of self.weights[task] * parts[task], a scalar Tensor
        (start the sum from tensor(0.0)).
        """
        raise NotImplementedError("Exercise 6.3: Fixed loss weights")


# --8<-- [end:weighted]


# --8<-- [start:uncertainty]
# ---------------------------------------------------------------------------
# Exercise 6.4: uncertainty weighting (Kendall, Gal and Cipolla, 2018)
# ---------------------------------------------------------------------------


class UncertaintyWeightedLoss(WeightedLoss):
    """Weights learned with the network, from a log-variance s_t = log(sigma_t^2) per task:

        regression:      0.5 * exp(-s_t) * L_t + 0.5 * s_t
        classification:        exp(-s_t) * L_t + 0.5 * s_t

    summed over the tasks. The factor in front of L_t is the task's weight (see
    `task_weights`): 0.5 * exp(-s_t) for a regression, exp(-s_t) for a classification.
    The 0.5 * s_t term keeps s_t from growing without end (which would switch the task
    off). `log_vars` is one Parameter of shape (T,), zeros at first, in the order of
    `kinds`.
    """

    KINDS = ("classification", "regression")

    def __init__(self, losses: Mapping[str, TaskLoss], kinds: Mapping[str, str]) -> None:
        super().__init__(losses)
        check_tasks("UncertaintyWeightedLoss", self.losses, kinds, "the kinds")
        unknown = {task: kind for task, kind in kinds.items() if kind not in self.KINDS}
        if unknown:
            raise ValueError(f"UncertaintyWeightedLoss: unknown kinds {unknown}, use {self.KINDS}")
        self.kinds = {task: kinds[task] for task in self.losses}
        self.log_vars = Parameter(np.zeros(len(self.kinds), dtype=np.float32))

    def forward(
        self, outputs: Mapping[str, Tensor], targets: Mapping[str, Any]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Return (total, parts), parts from self.task_losses.

        For each task, in the order of self.kinds, with index its position and
        s = self.log_vars[index] (a Tensor, so that s gets a gradient):
            regression:      0.5 * exp(-s) * parts[task] + 0.5 * s
            classification:        exp(-s) * parts[task] + 0.5 * s
        total = the sum of these terms (tasks absent from `outputs` add nothing).
        """
        raise NotImplementedError("Exercise 6.4: Uncertainty weighting")

    def task_weights(self) -> dict[str, float]:
        """Return {task: its current weight} as floats:
        exp(-s_t) for classification, 0.5 * exp(-s_t) for regression, from self.log_vars.
        """
        raise NotImplementedError("Exercise 6.4: Uncertainty weighting")


# --8<-- [end:uncertainty]


# --8<-- [start:dwa]
# ---------------------------------------------------------------------------
# Exercise 6.5: dynamic weight average (Liu, Johns and Davison, 2019)
# ---------------------------------------------------------------------------


class DynamicWeightAverage:
    """Weights from how fast each task's loss fell over the last two epochs.

    With L_t(e) task t's mean training loss in epoch e, the rate r_t = L_t(e-1) / L_t(e-2),
    and for epoch e:  w_t = T * exp(r_t / temperature) / sum_k exp(r_k / temperature),
    with T the number of tasks, so the weights add up to T. A task whose loss falls
    slowly (r near 1 or above) gets more weight. Until two epochs are recorded, every
    weight is 1.
    """

    def __init__(self, tasks: Iterable[str], temperature: float = 2.0) -> None:
        self.tasks = list(tasks)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = temperature
        self.history: list[dict[str, float]] = []

    def end_epoch(self, mean_losses: Mapping[str, float]) -> None:
        """Append {task: float(mean_losses[task])} for every task to self.history.

        check_tasks first: a KeyError when mean_losses lacks a task.
        """
        raise NotImplementedError("Exercise 6.5: Dynamic weight average")

    def weights(self) -> dict[str, float]:
        """Return {task: weight} for the next epoch.

        Every weight is 1.0 until self.history holds two epochs. Then, with before and
        last the two most recent entries, r_t = last[t] / before[t] and
            w_t = T * exp(r_t / temperature) / sum_k exp(r_k / temperature)
        (T = number of tasks). Subtract max(r) before exp: the same weights, no overflow.
        """
        raise NotImplementedError("Exercise 6.5: Dynamic weight average")


# --8<-- [end:dwa]


# --8<-- [start:loop]
# ---------------------------------------------------------------------------
# Exercise 6.6: training and evaluation, a metric per task
# ---------------------------------------------------------------------------


def train_epoch(
    model: Module, loader: Iterable, criterion: WeightedLoss, optimizer: Any
) -> dict[str, float]:
    """Return each task's mean loss and the total's, per sample: {"total": .., task: ..}.

    model.train(); for each (images, targets) batch: optimizer.zero_grad(),
    (total, parts) = criterion(model(images), targets), total.backward(),
    optimizer.step(). Add loss.item() * batch size for "total" and each task, then
    divide by the number of samples.
    """
    raise NotImplementedError("Exercise 6.6: Training and evaluation per task")


def evaluate(
    model: Module,
    loader: Iterable,
    metrics: Mapping[str, Callable[[np.ndarray, np.ndarray], float]],
) -> dict[str, float]:
    """Return {task: metrics[task](outputs, targets)} over the whole loader.

    model.eval() and no_grad(). For each batch, check with check_tasks that the
    model's outputs and the targets hold every task of `metrics`; collect each task's
    outputs (.data) and targets (as NumPy arrays). Then, per task, concatenate the
    batches and call the metric once.
    """
    raise NotImplementedError("Exercise 6.6: Training and evaluation per task")


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of rows whose highest score is at the label."""
    return float((scores.argmax(axis=1) == labels).mean())


def mean_absolute_error(predictions: np.ndarray, targets: np.ndarray) -> float:
    """mean |prediction - target|, a (N, 1) prediction against (N,) targets."""
    return float(np.abs(predictions.reshape(targets.shape) - targets).mean())


# --8<-- [end:loop]
