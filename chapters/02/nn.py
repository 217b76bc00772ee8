"""Chapter 02: nn, models as trees of Modules that own Parameters (`torch.nn`).

A `Module` holds its trainable tensors (Parameters), non-trainable state
(buffers) and sub-modules in three registries, filled in automatically when
you assign an attribute: `self.fc = Linear(4, 3)` registers `fc`. Everything
else (listing parameters with dotted names, switching train/eval, saving and
loading weights) is a walk over that tree.

This is YOUR file for chapter 02. Each function that raises
NotImplementedError("Exercise 2.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's chapter 02 explains the ideas. Check
your work with

    pytest chapters/02
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from os import PathLike
from typing import Any, NamedTuple

import numpy as np

from . import functional, init
from .autograd import Tensor

__all__ = [
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
    "init",
    "load",
    "save",
]


class Parameter(Tensor):
    """A Tensor that a Module trains: registered on assignment, requires_grad by default.

    Any Tensor can require grad and receive gradients; what makes a Parameter
    special is only that Modules find it and list it in `parameters()`, which is
    what an optimizer is given.
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclasses set attributes in `__init__`
    (after `super().__init__()`) and define `forward`."""

    training: bool

    def __init__(self) -> None:
        # object.__setattr__ skips our own __setattr__, which needs these to exist.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # --8<-- [start:registration]
    # -- Exercise 2.1: registration by assignment -----------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        """`self.name = value`, registering Parameters and Modules as a side effect.

        1. If `value` is a Parameter or a Module but `Module.__init__` has not run yet
           (`"_parameters" not in self.__dict__`), raise AttributeError:
           "cannot assign parameter 'w' before Module.__init__() call" (or "module").
        2. If `name` is a registered buffer (in `self._buffers`) and `value` is a Tensor
           that is not a Parameter, or None: store it in `self._buffers[name]` (a new
           value for a buffer keeps it a buffer).
        3. Otherwise, once `__init__` has run: remove `name` from all three registries
           (`_parameters`, `_buffers`, `_modules`; a name holds one kind of thing), then
           put a Parameter into `self._parameters[name]`, a Module into
           `self._modules[name]`; anything else (an int, a plain Tensor) is registered nowhere.
        4. In every case, finally store the attribute itself:
           `object.__setattr__(self, name, value)` (so `self.name` reads it back).
        Check Parameter before Tensor: a Parameter IS a Tensor.
        """
        raise NotImplementedError("Exercise 2.1: Registration by assignment")

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Register `tensor` (a Tensor or None) as the buffer `name`, and set the attribute.

        Buffers are state that is saved in `state_dict` but not trained (e.g. a
        running mean). Raise TypeError if `tensor` is neither a Tensor nor None, and
        KeyError("attribute 'x' already exists") if `self` already has an attribute
        `name` that is not a buffer. Then `self._buffers[name] = tensor` and
        `object.__setattr__(self, name, tensor)`.
        """
        raise NotImplementedError("Exercise 2.1: Registration by assignment")

    # --8<-- [end:registration]

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    # --8<-- [start:tree]
    # -- Exercise 2.2: walking the tree ---------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield `(name, module)` for each direct sub-module in `self._modules`, in
        assignment order, skipping entries whose value is None.
        """
        raise NotImplementedError("Exercise 2.2: Walking the module tree")

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield `(name, module)` for this module and every module below it, depth first.

        This module comes first, named `prefix`; a child `c` of a module named `p` is
        named `p + "." + c`, or just `c` when `p` is "". Children come in
        `named_children()` order, each followed by its own descendants (pre-order).
        A module reachable twice (shared) is yielded only the first time: remember the
        `id()`s you have yielded. A recursive inner generator is the simplest way.
        """
        raise NotImplementedError("Exercise 2.2: Walking the module tree")

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield `(dotted name, parameter)` for every Parameter in the tree.

        For each `(module_name, module)` in `self.named_modules(prefix)`, for each
        `(name, p)` in `module._parameters.items()`: the full name is
        `module_name + "." + name` (or `name` when module_name is ""). Skip None values,
        and skip a Parameter already yielded (compare `id()`s): a weight shared by two
        layers is listed once, under its first name.
        """
        raise NotImplementedError("Exercise 2.2: Walking the module tree")

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Yield `(dotted name, buffer)` for every buffer in the tree, named like
        `named_parameters` (skip None values).
        """
        raise NotImplementedError("Exercise 2.2: Walking the module tree")

    def train(self, mode: bool = True) -> Module:
        """Set `training = mode` on this module and on every module below it; return self."""
        raise NotImplementedError("Exercise 2.2: Walking the module tree")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradient of every parameter in the tree.

        With `set_to_none`: `p.grad = None`. Otherwise, for a parameter that has a
        gradient, fill it with zeros in place (`p.grad[...] = 0`).
        """
        raise NotImplementedError("Exercise 2.2: Walking the module tree")

    # --8<-- [end:tree]

    def children(self) -> Iterator[Module]:
        return (module for _, module in self.named_children())

    def modules(self) -> Iterator[Module]:
        return (module for _, module in self.named_modules())

    def parameters(self) -> Iterator[Parameter]:
        return (parameter for _, parameter in self.named_parameters())

    def buffers(self) -> Iterator[Tensor]:
        return (buffer for _, buffer in self.named_buffers())

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    # --8<-- [start:state]
    # -- Exercise 2.3: saving and restoring state -----------------------------

    def _state_tensors(self) -> dict[str, Tensor]:
        """Every parameter and buffer of the tree by dotted name, as a dict name -> Tensor.

        Order (torch's): for each `(module_name, module)` in `self.named_modules()`,
        first the module's own `_parameters`, then its own `_buffers`, skipping None.
        Names are `module_name + "." + name` (or `name` at the root). Unlike
        `named_parameters`, do not skip shared tensors: each name is a separate entry.
        """
        raise NotImplementedError("Exercise 2.3: state_dict and load_state_dict")

    def state_dict(self) -> dict[str, np.ndarray]:
        """A snapshot of the model: `{name: tensor.data.copy()}` for `_state_tensors()`.

        Copies, so that training on afterwards does not change the snapshot.
        """
        raise NotImplementedError("Exercise 2.3: state_dict and load_state_dict")

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy the values of `state_dict` into this model's tensors, in place.

        1. `own = self._state_tensors()`; turn each value of `state_dict` into a NumPy
           array (a Tensor's `.data`, else `np.asarray(value)`).
        2. missing = names of `own` not in `state_dict`; unexpected = names of
           `state_dict` not in `own` (both in order).
        3. Problems, in this order: with `strict`, "Missing key(s) in state_dict: "a", "b"."
           and "Unexpected key(s) in state_dict: "c"." (only when non-empty, names
           in double quotes, comma-separated); then, always, for each shared name
           whose shapes differ: "size mismatch for NAME: copying a param with shape
           (3, 4) from checkpoint, the shape in current model is (2, 4)."
        4. If there is any problem, load nothing and raise RuntimeError with
           "Error(s) in loading state_dict for CLASSNAME:" followed by each problem
           on its own line starting with "\n\t".
        5. Otherwise copy each value whose name is in `own`: `own[name].data[...] = value`
           (in place, keeping the parameter's array and dtype), and return
           `IncompatibleKeys(missing, unexpected)`.
        """
        raise NotImplementedError("Exercise 2.3: state_dict and load_state_dict")

    # --8<-- [end:state]

    # -- provided: a readable summary, like torch's ---------------------------

    def extra_repr(self) -> str:
        """The part inside the parentheses of this module's line; layers override it."""
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): {module!r}" for name, module in self.named_children()]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = ([self.extra_repr()] if self.extra_repr() else []) + children
        body = "\n".join("  " + line.replace("\n", "\n  ") for line in lines)
        return f"{type(self).__name__}(\n{body}\n)"


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


# --8<-- [start:containers]
# ---------------------------------------------------------------------------
# Exercise 2.4: containers
# ---------------------------------------------------------------------------


class Sequential(Module):
    """Modules applied one after another; registered under the names "0", "1", ..."""

    def __init__(self, *modules: Module) -> None:
        """Call `super().__init__()`, then register each module under the name "0", "1", ...
        with `setattr(self, str(index), module)`.
        """
        raise NotImplementedError("Exercise 2.4: Containers")

    def forward(self, x: Any) -> Any:
        """Feed `x` through every registered module in order; return the last output."""
        raise NotImplementedError("Exercise 2.4: Containers")

    def __getitem__(self, index: int | slice) -> Module:
        """An int index (negative too) returns that module; a slice returns a new
        Sequential of the selected modules.
        """
        raise NotImplementedError("Exercise 2.4: Containers")

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of Modules whose parameters the parent module can see (a plain list hides them)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Register `module` under the next index as its name (`str(len(self))`); return self."""
        raise NotImplementedError("Exercise 2.4: Containers")

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        """An int index (negative too) returns that module; a slice returns a new
        ModuleList of the selected modules.
        """
        raise NotImplementedError("Exercise 2.4: Containers")

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of Modules by name, registered like attributes (a plain dict hides them)."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        for name, module in (modules or {}).items():
            self[name] = module

    def __setitem__(self, name: str, module: Module) -> None:
        """`self[name] = module` registers `module` under `name` (use setattr)."""
        raise NotImplementedError("Exercise 2.4: Containers")

    def __getitem__(self, name: str) -> Module:
        """The module registered under `name` (KeyError if there is none)."""
        raise NotImplementedError("Exercise 2.4: Containers")

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()


# --8<-- [end:containers]


# --8<-- [start:layers]
# ---------------------------------------------------------------------------
# Exercise 2.6: layers
# ---------------------------------------------------------------------------


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) and b of shape (out_features,).

    Initialised as torch does: W by kaiming_uniform_(a=sqrt(5)), which is
    U(-1/sqrt(in_features), 1/sqrt(in_features)), then b from that same range.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=np.float32))
        self.bias = Parameter(np.empty(out_features, dtype=np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise as torch does, drawing in this order (so that a seed reproduces it):

        1. `init.kaiming_uniform_(self.weight, a=math.sqrt(5))`: U(-1/sqrt(in), 1/sqrt(in)).
        2. If there is a bias: `init.uniform_(self.bias, -bound, bound)` with
           bound = 1 / sqrt(in_features).
        """
        raise NotImplementedError("Exercise 2.6: Layers")

    def forward(self, x: Tensor) -> Tensor:
        """Return `x @ self.weight.T + self.bias` (without the bias when it is None).

        `x` has shape (..., in_features); the result (..., out_features). Raise
        ValueError naming both when x's last dimension is not in_features.
        """
        raise NotImplementedError("Exercise 2.6: Layers")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        """Reshape so that dimensions start_dim..end_dim (inclusive; negative values count
        from the end) become one: (N, C, H, W) -> (N, C*H*W) with the defaults.
        """
        raise NotImplementedError("Exercise 2.6: Layers")

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """During training, zero each element with probability p and scale the rest by 1/(1-p);
    in evaluation mode, pass the input through unchanged."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        """Return `functional.dropout(x, self.p, self.training)`."""
        raise NotImplementedError("Exercise 2.6: Layers")

    def extra_repr(self) -> str:
        return f"p={self.p}"


# --8<-- [end:layers]


# ---------------------------------------------------------------------------
# Provided: activations and losses as modules
# ---------------------------------------------------------------------------


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return functional.relu(x)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return functional.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return functional.tanh(x)


class CrossEntropyLoss(Module):
    """`functional.cross_entropy` as a module: `criterion(logits, target)`."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__()
        self.register_buffer("weight", weight)  # saved with the model, as torch does
        self.reduction = reduction

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return functional.cross_entropy(
            logits, target, weight=self.weight, reduction=self.reduction
        )


class MSELoss(Module):
    """`functional.mse_loss` as a module: `criterion(prediction, target)`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        return functional.mse_loss(prediction, target, reduction=self.reduction)


# --8<-- [start:save]
# ---------------------------------------------------------------------------
# Exercise 2.9: saving and loading, safely
# ---------------------------------------------------------------------------

FORMAT_KEY = "__kindling_format__"
FORMAT = "kindling.state_dict.v1"
ZIP_SIGNATURE = b"PK\x03\x04"  # every .npz file is a zip archive and starts with these bytes


def save(state_dict: Mapping[str, Any], path: str | PathLike) -> None:
    """Write `state_dict` to `path` as an .npz archive, without pickle.

    1. For each (name, value): the array is `value.data` for a Tensor, else
       `np.asarray(value)`. Raise TypeError naming the entry when its dtype is not
       numeric or boolean (`array.dtype.kind not in "biuf"`), or when the name is
       FORMAT_KEY itself.
    2. Open `path` for binary writing and call
       `np.savez(file, **{FORMAT_KEY: np.array(FORMAT)}, **arrays)`: the marker entry
       lets `load` recognise the file. (Passing an open file stops np.savez from
       adding ".npz" to the name.)
    """
    raise NotImplementedError("Exercise 2.9: Saving and loading safely")


def load(path: str | PathLike) -> dict[str, np.ndarray]:
    """Read a state_dict written by `save`: a dict name -> np.ndarray.

    - No file: FileNotFoundError naming the path.
    - Every other problem is a ValueError whose message starts with
      f"cannot load {path} as a kindling checkpoint: " and says what is wrong:
      the file does not start with ZIP_SIGNATURE (not an .npz archive); the
      marker entry FORMAT_KEY is missing or is not FORMAT (not written by save);
      and any ValueError, OSError, EOFError or zipfile.BadZipFile raised by NumPy
      or zipfile while reading (truncated file, pickled objects inside).
    - Open with `np.load(path, allow_pickle=False)`: never unpickle, so a
      malicious file cannot run code. Use it as a context manager and return
      every entry except the marker.
    """
    raise NotImplementedError("Exercise 2.9: Saving and loading safely")


# --8<-- [end:save]
