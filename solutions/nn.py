"""Chapter 02: nn, models as trees of Modules that own Parameters (`torch.nn`).

A `Module` holds its trainable tensors (Parameters), non-trainable state
(buffers) and sub-modules in three registries, filled in automatically when
you assign an attribute: `self.fc = Linear(4, 3)` registers `fc`. Everything
else (listing parameters with dotted names, switching train/eval, saving and
loading weights) is a walk over that tree.
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
        """`self.name = value`, registering Parameters, Modules and buffer updates.

        A name holds one kind of thing at a time: assigning drops any earlier
        registration of that name. Assigning a Tensor (or None) to a registered
        buffer's name keeps it a buffer.
        """
        if isinstance(value, (Parameter, Module)) and "_parameters" not in self.__dict__:
            kind = "parameter" if isinstance(value, Parameter) else "module"
            raise AttributeError(f"cannot assign {kind} {name!r} before Module.__init__() call")
        buffers = self.__dict__.get("_buffers", {})
        if (
            name in buffers
            and not isinstance(value, Parameter)
            and isinstance(value, (Tensor, type(None)))
        ):
            buffers[name] = value  # a new value for a buffer keeps it a buffer
        elif "_parameters" in self.__dict__:
            for registry in (self._parameters, self._buffers, self._modules):
                registry.pop(name, None)
            if isinstance(value, Parameter):
                self._parameters[name] = value
            elif isinstance(value, Module):
                self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Keep `tensor` as state that is saved and loaded but not trained (a running mean)."""
        if not isinstance(tensor, (Tensor, type(None))):
            raise TypeError(
                f"buffer {name!r} must be a Tensor or None, got {type(tensor).__name__}"
            )
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists")
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    # --8<-- [end:registration]

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    # --8<-- [start:tree]
    # -- Exercise 2.2: walking the tree ---------------------------------------

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules, in the order they were assigned."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named `prefix`) and every module below it, depth first, each once.

        Names are dotted paths from here: "", "encoder", "encoder.0", ...
        """
        seen: set[int] = set()

        def walk(name: str, module: Module) -> Iterator[tuple[str, Module]]:
            if id(module) in seen:
                return
            seen.add(id(module))
            yield name, module
            for child_name, child in module.named_children():
                yield from walk(f"{name}.{child_name}" if name else child_name, child)

        yield from walk(prefix, self)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every Parameter with its dotted name, module by module in definition order.
        A Parameter shared by two modules is listed once, under its first name."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, parameter in module._parameters.items():
                if parameter is None or id(parameter) in seen:
                    continue
                seen.add(id(parameter))
                yield (f"{module_name}.{name}" if module_name else name), parameter

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every buffer with its dotted name, like `named_parameters`."""
        for module_name, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every sub-module (Dropout and friends read it)."""
        for _, module in self.named_modules():
            module.training = mode
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: set it to None, or fill it with zeros."""
        for parameter in self.parameters():
            if set_to_none:
                parameter.grad = None
            elif parameter.grad is not None:
                parameter.grad[...] = 0

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
        """Every parameter and buffer by dotted name: each module's own parameters, then
        its own buffers, module by module (torch's order). Shared tensors appear under
        every name, so any of them loads."""
        state: dict[str, Tensor] = {}
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, tensor in (*module._parameters.items(), *module._buffers.items()):
                if tensor is not None:
                    state[prefix + name] = tensor
        return state

    def state_dict(self) -> dict[str, np.ndarray]:
        """A snapshot: a copy of every parameter's and buffer's data, by dotted name."""
        return {name: tensor.data.copy() for name, tensor in self._state_tensors().items()}

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values into this model's parameters and buffers, in place.

        Every problem is reported at once and nothing is loaded when there is one:
        a shape that differs always; with `strict`, also names the model has but
        `state_dict` lacks (missing) and names it has that the model lacks (unexpected).
        """
        own = self._state_tensors()
        values = {
            k: np.asarray(v.data if isinstance(v, Tensor) else v) for k, v in state_dict.items()
        }
        missing = [name for name in own if name not in values]
        unexpected = [name for name in values if name not in own]
        problems = [
            f"size mismatch for {name}: copying a param with shape {value.shape} from "
            f"checkpoint, the shape in current model is {own[name].shape}."
            for name, value in values.items()
            if name in own and value.shape != own[name].shape
        ]
        if strict:
            if unexpected:
                problems.insert(0, "Unexpected key(s) in state_dict: " + _quoted(unexpected) + ".")
            if missing:
                problems.insert(0, "Missing key(s) in state_dict: " + _quoted(missing) + ".")
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(problems)
            )
        for name, value in values.items():
            if name in own:
                own[name].data[...] = value
        return IncompatibleKeys(missing, unexpected)

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
        super().__init__()
        for index, module in enumerate(modules):
            setattr(self, str(index), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

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
        setattr(self, str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

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
        setattr(self, name, module)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

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
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects inputs whose last "
                f"dimension is {self.in_features}, got shape {x.shape}"
            )
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        start = self.start_dim % x.ndim
        end = self.end_dim % x.ndim
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1 :])

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
        return functional.dropout(x, self.p, self.training)

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
    """Write a state_dict (name -> array) to `path` as a NumPy .npz archive.

    No pickle: an .npz holds only arrays, so loading one can never run code.
    A marker entry (FORMAT_KEY: FORMAT) lets `load` recognise the file.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if name == FORMAT_KEY or array.dtype.kind not in "biuf":
            raise TypeError(
                f"save() stores numeric arrays by name (a state_dict); entry {name!r} holds "
                f"{type(value).__name__} of dtype {array.dtype}"
            )
        arrays[name] = array
    with open(path, "wb") as file:
        np.savez(file, **{FORMAT_KEY: np.array(FORMAT)}, **arrays)


def load(path: str | PathLike) -> dict[str, np.ndarray]:
    """Read a state_dict written by `save`; anything else is a clear error.

    A missing file is FileNotFoundError; a file that is not an .npz archive, is
    truncated, holds pickled objects or lacks the marker is ValueError.
    """
    try:
        with open(path, "rb") as file:
            if file.read(4) != ZIP_SIGNATURE:
                raise ValueError("it is not an .npz archive (the files kindling.save writes)")
        with np.load(path, allow_pickle=False) as archive:
            if FORMAT_KEY not in archive.files or str(archive[FORMAT_KEY]) != FORMAT:
                raise ValueError(
                    f"it has no {FORMAT_KEY!r} entry, so kindling.save did not write it"
                )
            return {name: archive[name] for name in archive.files if name != FORMAT_KEY}
    except FileNotFoundError:
        raise FileNotFoundError(f"no checkpoint at {path}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"cannot load {path} as a kindling checkpoint: {error}") from None


# --8<-- [end:save]
