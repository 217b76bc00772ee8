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
        super().__init__()
        if not heads:
            raise ValueError("MultiTaskNet needs at least one head")
        self.trunk = trunk
        self.heads = ModuleDict(heads)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        features = self.trunk(x)
        return {task: head(features) for task, head in self.heads.items()}


# --8<-- [end:model]


# --8<-- [start:data]
# ---------------------------------------------------------------------------
# Exercise 6.2: a second task made from the first one's data
# ---------------------------------------------------------------------------


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """`image` (H, W) turned counter-clockwise by `degrees` about its centre.

    Each output pixel (y, x) takes the input's value at the point the rotation
    brings there, found by turning (y, x) back by the angle, and interpolated
    bilinearly from the four pixels around it; points outside the image count as 0.
    """
    height, width = image.shape
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    # Turn each output position back by the angle. Rows grow downwards, hence the signs.
    source_y = cy + (y - cy) * cos + (x - cx) * sin
    source_x = cx - (y - cy) * sin + (x - cx) * cos
    y0, x0 = np.floor(source_y).astype(int), np.floor(source_x).astype(int)
    fy, fx = source_y - y0, source_x - x0
    # A ring of zeros around the image: every point outside is clipped onto it, so reads 0.
    padded = np.pad(image.astype(np.float64), 1)

    def at(row: np.ndarray, column: np.ndarray) -> np.ndarray:
        return padded[np.clip(row, -1, height) + 1, np.clip(column, -1, width) + 1]

    out = (
        at(y0, x0) * (1 - fy) * (1 - fx)
        + at(y0, x0 + 1) * (1 - fy) * fx
        + at(y0 + 1, x0) * fy * (1 - fx)
        + at(y0 + 1, x0 + 1) * fy * fx
    )
    return out.astype(image.dtype)


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
        generator = np.random.default_rng([self.seed, index])
        return float(generator.uniform(-self.max_degrees, self.max_degrees))

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Any]]:
        image, label = self.base[index]
        pixels = np.asarray(image.data if isinstance(image, Tensor) else image)
        if pixels.ndim != 3 or pixels.shape[0] != 1:
            raise ValueError(f"RotatedDigits needs images of shape (1, H, W), got {pixels.shape}")
        angle = self.angle(index)
        turned = rotate(pixels[0], angle)[np.newaxis]
        digit = int(label.item() if isinstance(label, Tensor) else label)
        return Tensor(turned), {"digit": digit, "angle": np.float32(angle)}


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
        check_tasks(type(self).__name__, outputs, self.losses, "the losses")
        check_tasks(type(self).__name__, outputs, targets, "the targets")
        return {task: self.losses[task](outputs[task], targets[task]) for task in outputs}

    def forward(
        self, outputs: Mapping[str, Tensor], targets: Mapping[str, Any]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        parts = self.task_losses(outputs, targets)
        total = sum((self.weights[task] * loss for task, loss in parts.items()), tensor(0.0))
        return total, parts


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
        parts = self.task_losses(outputs, targets)
        total = tensor(0.0)
        for index, (task, kind) in enumerate(self.kinds.items()):
            if task not in parts:
                continue
            s = self.log_vars[index]
            scale = 0.5 if kind == "regression" else 1.0
            total = total + scale * exp(-s) * parts[task] + 0.5 * s
        return total, parts

    def task_weights(self) -> dict[str, float]:
        """Each task's current weight: exp(-s_t), halved for regression."""
        values = np.exp(-self.log_vars.data.astype(np.float64))
        return {
            task: float(value * (0.5 if kind == "regression" else 1.0))
            for (task, kind), value in zip(self.kinds.items(), values, strict=True)
        }


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
        """Record one epoch's mean training loss per task."""
        check_tasks("DynamicWeightAverage", self.tasks, mean_losses, "the epoch's losses")
        self.history.append({task: float(mean_losses[task]) for task in self.tasks})

    def weights(self) -> dict[str, float]:
        if len(self.history) < 2:
            return {task: 1.0 for task in self.tasks}
        before, last = self.history[-2], self.history[-1]
        rates = np.array([last[task] / before[task] for task in self.tasks])
        scaled = np.exp((rates - rates.max()) / self.temperature)  # stable: same ratios
        weights = len(self.tasks) * scaled / scaled.sum()
        return dict(zip(self.tasks, weights.tolist(), strict=True))


# --8<-- [end:dwa]


# --8<-- [start:loop]
# ---------------------------------------------------------------------------
# Exercise 6.6: training and evaluation, a metric per task
# ---------------------------------------------------------------------------


def train_epoch(
    model: Module, loader: Iterable, criterion: WeightedLoss, optimizer: Any
) -> dict[str, float]:
    """One pass over `loader` in training mode; the mean of each task's loss and of the
    total, per sample: {"total": ..., task: ...}.

    For each batch (images, targets): zero the gradients, outputs = model(images),
    (total, parts) = criterion(outputs, targets), total.backward(), optimizer.step().
    """
    model.train()
    sums: dict[str, float] = {}
    seen = 0
    for images, targets in loader:
        optimizer.zero_grad()
        total, parts = criterion(model(images), targets)
        total.backward()
        optimizer.step()
        batch = len(images)
        for name, loss in {"total": total, **parts}.items():
            sums[name] = sums.get(name, 0.0) + loss.item() * batch
        seen += batch
    return {name: value / seen for name, value in sums.items()}


def evaluate(
    model: Module,
    loader: Iterable,
    metrics: Mapping[str, Callable[[np.ndarray, np.ndarray], float]],
) -> dict[str, float]:
    """Each task's metric over the whole loader, in evaluation mode and without a graph.

    metrics[task](outputs, targets) gets the task's outputs and targets for the
    whole loader as NumPy arrays (batches concatenated), and returns one number.
    """
    model.eval()
    outputs: dict[str, list[np.ndarray]] = {task: [] for task in metrics}
    targets: dict[str, list[np.ndarray]] = {task: [] for task in metrics}
    with no_grad():
        for images, batch_targets in loader:
            batch_outputs = model(images)
            check_tasks("evaluate", metrics, batch_outputs, "the model's outputs")
            check_tasks("evaluate", metrics, batch_targets, "the targets")
            for task in metrics:
                outputs[task].append(batch_outputs[task].data)
                target = batch_targets[task]
                targets[task].append(
                    np.asarray(target.data if isinstance(target, Tensor) else target)
                )
    return {
        task: float(metric(np.concatenate(outputs[task]), np.concatenate(targets[task])))
        for task, metric in metrics.items()
    }


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of rows whose highest score is at the label."""
    return float((scores.argmax(axis=1) == labels).mean())


def mean_absolute_error(predictions: np.ndarray, targets: np.ndarray) -> float:
    """mean |prediction - target|, a (N, 1) prediction against (N,) targets."""
    return float(np.abs(predictions.reshape(targets.shape) - targets).mean())


# --8<-- [end:loop]
