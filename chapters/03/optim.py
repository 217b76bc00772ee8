"""Chapter 03: optim, the update rules that turn gradients into better parameters.

An optimizer holds the parameters of a model (Tensors) and, once
`loss.backward()` has filled their `.grad`, moves each one a small step
downhill. A training loop calls it three times per batch:

    optimizer.zero_grad()     # forget the previous batch's gradients
    loss.backward()           # fill every parameter's .grad
    optimizer.step()          # update every parameter's .data, in place

Parameters come in *parameter groups*, each with its own options (a learning
rate, a momentum...), and each parameter may carry *state* from one step to
the next (a momentum buffer, Adam's running averages). A learning-rate
scheduler changes each group's "lr" between steps; gradient clipping rescales
the gradients before a step.

This file mirrors `torch.optim` with the same update rules, option names,
defaults, error messages and `state_dict` format, plus `clip_grad_norm_` and
`clip_grad_value_`, which torch keeps in `torch.nn.utils`. Updates write into
each parameter's NumPy array in place, so every reference to `param.data`
sees the new values, and a float32 parameter stays float32.

This is YOUR file. Work through the exercises in order: each function that
raises NotImplementedError("Exercise 3.N: ...") is yours to write, and its
docstring says exactly what to compute. The book's chapter 03 explains the
ideas (`mkdocs serve`, then open http://127.0.0.1:8000). Check your work with

    pytest chapters/03
"""

from __future__ import annotations

import bisect
import copy
import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .autograd import Tensor

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearLR",
    "MultiStepLR",
    "Optimizer",
    "StepLR",
    "clip_grad_norm_",
    "clip_grad_value_",
]


# --8<-- [start:optimizer]
# ---------------------------------------------------------------------------
# Exercise 3.1: the Optimizer base class, parameter groups and zero_grad
# ---------------------------------------------------------------------------


def _param_list(params: Any) -> list[Tensor]:
    """A group's "params" as a list of leaf Tensors: one Tensor, or an ordered collection."""
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, set):
        raise TypeError(
            "optimizer parameters need to be organized in ordered collections, but the "
            "ordering of tensors in sets will change between runs. Please use a list instead."
        )
    params = list(params)
    for param in params:
        if not isinstance(param, Tensor):
            raise TypeError(
                f"optimizer can only optimize Tensors, but one of the params is "
                f"{type(param).__module__}.{type(param).__name__}"
            )
        if not param.is_leaf:
            raise ValueError("can't optimize a non-leaf Tensor")
    return params


class Optimizer:
    """Base class of all optimizers: parameter groups, per-parameter state, the step loop.

    Attributes:
        defaults: the options given to the constructor (lr, momentum...), used by
            every group that does not set its own.
        param_groups: one dict per group, {"params": [Tensor, ...], "lr": ..., ...},
            holding every option of the optimizer.
        state: per-parameter state, keyed by the parameter Tensor itself, e.g.
            {"momentum_buffer": array}; an empty dict until the parameter's first step.

    A subclass validates its options, passes them to `__init__` as `defaults`, and
    defines `_update`, the rule for one parameter.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {type(params).__name__}"
            )
        self.defaults: dict[str, Any] = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)  # a generator such as model.parameters() can be read once only
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a new group to `self.param_groups`, e.g. a layer to train with its own lr.

        `param_group` is a dict with a "params" entry (one Tensor, or a list or
        generator of Tensors) and any options of its own: {"params": [w], "lr": 0.01}.
          1. Raise TypeError if `param_group` is not a dict.
          2. Work on a shallow copy, `dict(param_group)`: the caller's dict stays as it is.
          3. Replace its "params" by `_param_list(...)` of them: a list of leaf Tensors
             (`_param_list` raises the errors for a set, a non-Tensor, a non-leaf).
          4. For each (name, default) in `self.defaults`, set the option where the
             group does not have it (`dict.setdefault`): the group's own options win.
          5. If a parameter appears twice in this group, `warnings.warn(...)` and go on.
          6. If any of its parameters is already in another group, raise ValueError
             ("some parameters appear in more than one parameter group"). Compare
             parameters by identity, `id(param)`: a Tensor's `==` is elementwise.
          7. Append the new dict to `self.param_groups`.
        """
        raise NotImplementedError("Exercise 3.1: Parameter groups and zero_grad")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradient of every parameter, in every group.

        For each parameter whose `.grad` is not None:
          - `set_to_none` True (the default): set `param.grad = None`;
          - otherwise fill the existing array with zeros IN PLACE (`param.grad.fill(0)`),
            so it stays the same array object, with the same shape and dtype.
        """
        raise NotImplementedError("Exercise 3.1: Parameter groups and zero_grad")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, group by group.

        `closure`, if given, recomputes the loss (and the gradients) first, as in
        torch; its result is returned. A parameter whose `.grad` is None is skipped:
        it is not moved, and its state does not change.
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, param.grad, group, self.state[param])
        return loss

    def _update(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """Update `param.data` in place from `grad`, with `group`'s options and `state`."""
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    # --8<-- [end:optimizer]

    # --8<-- [start:state-dict]
    # -- Exercise 3.5: saving and resuming ----------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return {"state": ..., "param_groups": ...} in torch's format, holding copies.

        Number the parameters 0, 1, 2... group by group, and within a group in the
        order of its "params" list; look a parameter's number up by `id(param)`.
          - "param_groups": for each group, a dict of every option except "params",
            plus "params": the list of its parameters' numbers.
          - "state": {number: that parameter's state dict} for every parameter whose
            state is not empty.
        Copy every value deeply (`copy.deepcopy`): stepping the optimizer afterwards
        must not change a state dict returned earlier.
        """
        raise NotImplementedError("Exercise 3.5: Saving and resuming")

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what `state_dict()` returned, so that training continues exactly.

        1. Check before changing anything, and raise ValueError with a message that
           says what differs when the number of groups differs, or when a saved
           group's "params" list and this optimizer's group differ in length.
        2. Map each saved number to this optimizer's Tensor: pair each saved group's
           "params" list with the same group's Tensors, position by position.
        3. Build a new state, a `defaultdict(dict)`: for each saved number (ValueError
           if no group has it) and its state dict, the parameter's Tensor maps to a
           dict of copies. A NumPy array must have the parameter's shape (ValueError
           naming the state, the number and both shapes otherwise); copy it with
           `np.array(value, dtype=...)`, casting floating-point arrays to the
           parameter's dtype. Other values, such as the step count, `copy.deepcopy`.
        4. Set `self.state` to it, and `self.param_groups` to new dicts: each saved
           group's options (deep copies, "lr" included) with this optimizer's
           "params" list for that group.
        """
        raise NotImplementedError("Exercise 3.5: Saving and resuming")

    # --8<-- [end:state-dict]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            lines += [f"    {name}: {group[name]}" for name in sorted(group) if name != "params"]
        return "\n".join([*lines, ")"])


# --8<-- [start:sgd]
# ---------------------------------------------------------------------------
# Exercise 3.2: SGD with momentum, dampening, Nesterov and weight decay
# ---------------------------------------------------------------------------


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (heavy ball or Nesterov).

    For each parameter theta with gradient g (lr: the learning rate, wd: weight_decay,
    mu: momentum, tau: dampening), exactly as torch.optim.SGD:

        g <- g + wd * theta                       if wd != 0   (L2 penalty wd/2 |theta|^2)
        if mu != 0:
            b <- g                                at the parameter's first step
            b <- mu * b + (1 - tau) * g           at every later step
            g <- g + mu * b                       if nesterov
            g <- b                                otherwise (heavy ball)
        theta <- theta - lr * g

    The buffer b is the parameter's state "momentum_buffer". It starts as a copy of
    the first gradient, not at zero, so dampening first acts on the second step.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
    ) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _update(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """Update one parameter in place, with the rule in the class docstring.

        `grad` is `param.grad`: never modify it (build new arrays, `grad + ...`).
        `group` holds the options "lr", "momentum", "dampening", "weight_decay" and
        "nesterov"; `state` is this parameter's dict, empty before its first step.
          1. g = grad, plus weight_decay * param.data if weight_decay != 0.
          2. If momentum != 0, with b = state["momentum_buffer"]:
               - no buffer yet (first step): store a COPY of g as the buffer, with no
                 dampening;
               - otherwise update the stored array in place:
                 b = momentum * b + (1 - dampening) * g;
             then g = g + momentum * b if nesterov, else g = b.
          3. param.data -= lr * g: in place, so every reference to the array sees it.
        Python floats keep float32 arrays float32; so do in-place operators.
        """
        raise NotImplementedError("Exercise 3.2: SGD with momentum")


# --8<-- [end:sgd]


# --8<-- [start:adam]
# ---------------------------------------------------------------------------
# Exercise 3.3: Adam, with bias correction and AMSGrad
# ---------------------------------------------------------------------------


class Adam(Optimizer):
    """Adam: a step for each element, scaled by running averages of the gradient and its square.

    For each parameter theta with gradient g, at its step t = 1, 2, ... (lr, betas =
    (beta1, beta2), eps, wd: weight_decay), exactly as torch.optim.Adam:

        g <- g + wd * theta                        if wd != 0 (L2, through the gradient)
        m <- beta1 * m + (1 - beta1) * g           first moment, the mean; m starts at 0
        v <- beta2 * v + (1 - beta2) * g * g       second moment; v starts at 0
        v_max <- max(v_max, v)                     if amsgrad (elementwise); then use v_max as v
        m_hat = m / (1 - beta1^t)                  bias correction: m and v started at 0
        v_hat = v / (1 - beta2^t)
        theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    torch computes the last line as
        theta <- theta - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    (the same value up to rounding). State: "step" (t, an int), "exp_avg" (m),
    "exp_avg_sq" (v) and, with amsgrad, "max_exp_avg_sq" (v_max).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    def _update(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]
    ) -> None:
        """Update one parameter in place with Adam (the rule in the class docstring).

        `grad` is `param.grad` (never modify it); `group` holds "lr", "betas" (a pair
        beta1, beta2), "eps", "weight_decay" and "amsgrad"; `state` is this
        parameter's dict, empty before its first step.
          1. First step: state["step"] = 0, and state["exp_avg"], state["exp_avg_sq"]
             = np.zeros_like(param.data); with amsgrad also state["max_exp_avg_sq"].
          2. state["step"] += 1; call the new value t.
          3. g = self._apply_weight_decay(param, grad, group). Call it always: AdamW
             replaces that method.
          4. In place, m = state["exp_avg"] and v = state["exp_avg_sq"]:
             m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g.
          5. With amsgrad: state["max_exp_avg_sq"] = elementwise max of itself and v,
             in place (np.maximum(a, b, out=a)); use it instead of v in step 6.
          6. param.data -= (lr / (1 - beta1**t)) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
             with np.sqrt for the array and math.sqrt for the number (a NumPy float64
             scalar would make float32 arithmetic float64).
        """
        raise NotImplementedError("Exercise 3.3: Adam")

    def _apply_weight_decay(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any]
    ) -> np.ndarray:
        """Return the gradient Adam works with, after L2 weight decay.

        If group["weight_decay"] != 0, return grad + weight_decay * param.data (a new
        array: leave `grad` as it is). Otherwise return `grad` itself.
        """
        raise NotImplementedError("Exercise 3.3: Adam")


# --8<-- [end:adam]


# --8<-- [start:adamw]
# ---------------------------------------------------------------------------
# Exercise 3.4: AdamW, decoupled weight decay
# ---------------------------------------------------------------------------


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), as torch.optim.AdamW.

    Instead of adding wd * theta to the gradient, where Adam's per-element scaling
    would shrink the decay of weights with large gradients, AdamW shrinks every
    weight by the same factor before the Adam step, and the gradient stays as is:

        theta <- theta * (1 - lr * wd)
        ... then Adam's update with g unchanged (no L2 term).

    Everything else, options and state included, is Adam's. The default
    weight_decay is 1e-2 (Adam's is 0).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

    def _apply_weight_decay(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any]
    ) -> np.ndarray:
        """Decoupled weight decay: shrink the weights, and leave the gradient alone.

        If group["weight_decay"] != 0, multiply param.data IN PLACE by
        (1 - lr * weight_decay), with lr = group["lr"]. Return `grad` unchanged: no L2
        term is added, which is the whole difference from Adam.
        """
        raise NotImplementedError("Exercise 3.4: Decoupled weight decay (AdamW)")


# --8<-- [end:adamw]


# --8<-- [start:schedulers]
# ---------------------------------------------------------------------------
# Exercise 3.6: learning-rate schedules
# ---------------------------------------------------------------------------


class LRScheduler:
    """Base class of learning-rate schedulers: sets each group's "lr" from the epoch count.

    Call `scheduler.step()` after `optimizer.step()`, once per epoch (or per batch,
    if that is how you count). `last_epoch` counts the calls. The constructor makes
    the first one, so a new scheduler is at epoch 0 and has already set the epoch-0
    rates. Each group's starting rate is stored in the group as "initial_lr" (so it
    is saved with the optimizer's state_dict) and in `base_lrs`.

    Subclasses define `get_lr()`: the rate of each group at epoch `last_epoch`, from
    `base_lrs`. (torch's schedulers instead multiply each group's current rate, so
    that two schedulers can be chained; for one scheduler the values are the same.)
    """

    def __init__(self, optimizer: Any, last_epoch: int = -1) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for number, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{number}] when "
                        "resuming a scheduler with last_epoch >= 0: load the optimizer's "
                        "state_dict first"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of each group at epoch `self.last_epoch`."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr")

    def step(self) -> None:
        """Move to the next epoch and set every group's "lr" for it.

        1. Add 1 to `self.last_epoch` first: `get_lr()` reads it.
        2. rates = self.get_lr(), one per group.
        3. Set group["lr"] = rate for each group of `self.optimizer.param_groups`.
        4. Keep a new list of the rates in `self._last_lr`, for `get_last_lr()`.
        """
        raise NotImplementedError("Exercise 3.6: Learning-rate schedules")

    def get_last_lr(self) -> list[float]:
        """The rates the last `step()` set, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (which saves itself)."""
        return {name: value for name, value in self.__dict__.items() if name != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(copy.deepcopy(state_dict))


class StepLR(LRScheduler):
    """Multiply the rate by gamma every step_size epochs:  lr = base_lr * gamma^(epoch // step_size)."""

    def __init__(
        self, optimizer: Any, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return one rate per group: base_lr * gamma^(epoch // step_size).

        Use `self.base_lrs` and `self.last_epoch` (the epoch `step()` moved to).
        """
        raise NotImplementedError("Exercise 3.6: Learning-rate schedules")


class MultiStepLR(LRScheduler):
    """Multiply the rate by gamma at each milestone:  lr = base_lr * gamma^k, where k counts
    the milestones <= epoch (a milestone listed twice counts twice)."""

    def __init__(
        self, optimizer: Any, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return one rate per group: base_lr * gamma^k.

        k counts the milestones that are <= self.last_epoch; `self.milestones` is
        sorted and keeps repeats (`bisect.bisect_right` counts them).
        """
        raise NotImplementedError("Exercise 3.6: Learning-rate schedules")


class ExponentialLR(LRScheduler):
    """Multiply the rate by gamma every epoch:  lr = base_lr * gamma^epoch."""

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return one rate per group: base_lr * gamma^epoch."""
        raise NotImplementedError("Exercise 3.6: Learning-rate schedules")


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from base_lr down to eta_min over T_max epochs:

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    After T_max epochs the cosine climbs back up (torch's schedule does the same).
    """

    def __init__(
        self, optimizer: Any, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return one rate per group:

            eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

        with `math.cos` and `math.pi`, epoch = `self.last_epoch`.
        """
        raise NotImplementedError("Exercise 3.6: Learning-rate schedules")


class LinearLR(LRScheduler):
    """Scale the rate by a factor that moves linearly from start_factor to end_factor
    over total_iters epochs, then stays there (a warm-up, with the defaults):

        lr = base_lr * (start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters)
    """

    def __init__(
        self,
        optimizer: Any,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(
                "Starting multiplicative factor expected to be greater than 0 and less or "
                "equal to 1."
            )
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        """Return one rate per group: base_lr * factor, where

            factor = start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters

        so the factor stops changing after total_iters epochs.
        """
        raise NotImplementedError("Exercise 3.6: Learning-rate schedules")


# --8<-- [end:schedulers]


# --8<-- [start:clipping]
# ---------------------------------------------------------------------------
# Exercise 3.7: gradient clipping (torch keeps these in torch.nn.utils)
# ---------------------------------------------------------------------------


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients down, in place, so that their total norm is at most max_norm.

    1. `parameters` may be one Tensor, a list, or a generator such as
       `model.parameters()`: make it a list first (a generator reads once).
    2. grads: the `.grad` arrays that are not None. None at all: return 0.0.
    3. p = float(norm_type). Take the p-norm of each gradient as one flat vector,
       `np.linalg.norm(g.ravel(), ord=p)` (p = inf: the largest |element|), then
       the p-norm of the vector of those norms: that is the total norm, the same
       as the p-norm of all gradient elements together.
    4. If error_if_nonfinite and the total is nan or inf, raise RuntimeError.
    5. coef = max_norm / (total + 1e-6). If coef < 1, multiply every gradient by
       coef IN PLACE (the same arrays); otherwise leave them alone.
    6. Return the total norm before clipping, as a Python float.
    """
    raise NotImplementedError("Exercise 3.7: Gradient clipping")


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place.

    `parameters` is one Tensor or an iterable of them. Skip parameters whose
    `.grad` is None; change the other `.grad` arrays themselves
    (`np.clip(..., out=...)`): they must stay the same array objects.
    """
    raise NotImplementedError("Exercise 3.7: Gradient clipping")


# --8<-- [end:clipping]
