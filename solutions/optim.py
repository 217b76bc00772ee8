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
        """Add a group of parameters with its own options, e.g. a layer to train more slowly.

        The group takes every option it does not set from `self.defaults`. A
        parameter may belong to one group only. The caller's dict is not changed.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        group["params"] = _param_list(group["params"])
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        ids = [id(param) for param in group["params"]]
        if len(set(ids)) != len(ids):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters", stacklevel=2
            )
        taken = {id(param) for other in self.param_groups for param in other["params"]}
        if not taken.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient before the next backward pass.

        `backward()` adds into `.grad`, so gradients from the previous batch must
        go. With `set_to_none` (the default, as in torch) `.grad` becomes None: it
        costs nothing, and `step()` skips a parameter that gets no new gradient.
        Otherwise the existing array is filled with zeros, in place.
        """
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad.fill(0)

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
        """The optimizer's options and state as plain data, in torch's format:

            {"state": {index: {name: value, ...}, ...},
             "param_groups": [{option: value, ..., "params": [index, ...]}, ...]}

        A checkpoint cannot hold the Tensors themselves, so parameters are numbered
        0, 1, 2... in the order of the groups and of each group's "params". Arrays
        are copies: later steps do not change a saved state dict. Parameters whose
        state is empty are left out.
        """
        index: dict[int, int] = {}
        param_groups = []
        for group in self.param_groups:
            saved = {
                name: copy.deepcopy(value) for name, value in group.items() if name != "params"
            }
            saved["params"] = [index.setdefault(id(param), len(index)) for param in group["params"]]
            param_groups.append(saved)
        state = {
            index[id(param)]: copy.deepcopy(param_state)
            for param, param_state in self.state.items()
            if param_state
        }
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by `state_dict()`, so that training resumes exactly.

        This optimizer must have as many groups, of the same sizes, as the saved
        one: saved parameter i is this optimizer's parameter i, counted in group
        order. Options (lr...) come from the saved groups. State arrays are copied
        and cast to their parameter's float dtype, and must have its shape. On an
        error, nothing is changed.
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        params: dict[int, Tensor] = {}
        for number, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"loaded state dict's parameter group {number} has {len(saved['params'])} "
                    f"parameters, this optimizer's has {len(group['params'])}"
                )
            params.update(zip(saved["params"], group["params"], strict=True))

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, saved_state in state_dict["state"].items():
            if index not in params:
                raise ValueError(f"loaded state dict has state for parameter {index}, in no group")
            param = params[index]
            restored = {}
            for name, value in saved_state.items():
                if isinstance(value, np.ndarray):
                    if value.shape != param.shape:
                        raise ValueError(
                            f"loaded state {name!r} of parameter {index} has shape "
                            f"{value.shape}, the parameter has shape {param.shape}"
                        )
                    dtype = param.dtype if value.dtype.kind == "f" else value.dtype
                    restored[name] = np.array(value, dtype=dtype)  # a copy
                else:
                    restored[name] = copy.deepcopy(value)
            state[param] = restored

        self.state = state
        self.param_groups = [
            {
                **{name: copy.deepcopy(value) for name, value in saved.items() if name != "params"},
                "params": group["params"],
            }
            for group, saved in zip(self.param_groups, saved_groups, strict=True)
        ]

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
        momentum, dampening = group["momentum"], group["dampening"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()  # never alias param.grad
            else:
                buf *= momentum
                buf += (1 - dampening) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param.data -= group["lr"] * grad


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
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        step = state["step"]
        grad = self._apply_weight_decay(param, grad, group)

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]

        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + group["eps"]
        param.data -= group["lr"] / bias_correction1 * exp_avg / denom

    def _apply_weight_decay(
        self, param: Tensor, grad: np.ndarray, group: dict[str, Any]
    ) -> np.ndarray:
        """Adam's weight decay is an L2 penalty: return g + wd * theta (a new array)."""
        if group["weight_decay"] != 0:
            return grad + group["weight_decay"] * param.data
        return grad


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
        if group["weight_decay"] != 0:
            param.data *= 1 - group["lr"] * group["weight_decay"]
        return grad


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
        """Move to the next epoch and set every group's "lr" to its rate there."""
        self.last_epoch += 1
        rates = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"] = lr
        self._last_lr = list(rates)

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
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


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
        passed = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by gamma every epoch:  lr = base_lr * gamma^epoch."""

    def __init__(self, optimizer: Any, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


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
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


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
        progress = min(self.last_epoch, self.total_iters) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base * factor for base in self.base_lrs]


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

    The total norm treats every gradient as part of one long vector; with p = norm_type,

        total = || (||g_1||_p, ||g_2||_p, ...) ||_p       (p = inf: the largest |element|)

    If max_norm / (total + 1e-6) < 1, every gradient is multiplied by that factor,
    so the directions are kept and only the length shrinks. Parameters without a
    gradient are ignored. Returns the total norm before clipping as a Python float
    (torch returns a 0-d tensor); 0.0 when no parameter has a gradient.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [param.grad for param in params if param.grad is not None]
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    norms = [np.linalg.norm(grad.ravel(), ord=norm_type) for grad in grads]
    total = np.linalg.norm(np.asarray(norms), ord=norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    clip_coef = max_norm / (total + 1e-6)
    if clip_coef < 1:
        for grad in grads:
            grad *= clip_coef
    return float(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    clip_value = float(clip_value)
    for param in params:
        if param.grad is not None:
            np.clip(param.grad, -clip_value, clip_value, out=param.grad)


# --8<-- [end:clipping]
