"""Chapter 01: autograd, a define-by-run reverse-mode automatic differentiation engine.

A `Tensor` wraps a NumPy array. Every operation on tensors is a `Function`
with a `forward` (compute the result from NumPy arrays) and a `backward`
(turn the gradient of the loss with respect to the result into gradients
with respect to the inputs). While the forward pass runs, `Function.apply`
records each result's parents; `Tensor.backward` then walks that graph in
reverse topological order, applying the chain rule

    dL/dx = sum over every use y of x:  (dy/dx)^T dL/dy

and accumulating gradients into the leaves' `.grad`.

This file mirrors `torch` and `torch.autograd` with one simplification: a
Function's `forward` and `backward` see plain NumPy arrays, never Tensors.

This is YOUR file. Work through the exercises in order: each function that
raises NotImplementedError("Exercise 1.N: ...") is yours to write, and its
docstring says exactly what to compute. The book's chapter 01 explains the
ideas (`mkdocs serve`, then open http://127.0.0.1:8000). Check your work with

    pytest chapters/01
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kindling import DEVICE  # 'cpu' or 'cuda': where MatMul.product runs

__all__ = [
    "Context",
    "Function",
    "GradcheckError",
    "Tensor",
    "arange",
    "enable_grad",
    "exp",
    "gradcheck",
    "is_grad_enabled",
    "log",
    "manual_seed",
    "matmul",
    "no_grad",
    "ones",
    "rand",
    "randn",
    "relu",
    "sigmoid",
    "sqrt",
    "tanh",
    "tensor",
    "zeros",
]


# --8<-- [start:grad-mode]
# ---------------------------------------------------------------------------
# Grad mode: is the graph being recorded right now?
# ---------------------------------------------------------------------------

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless we are inside a `no_grad()` block."""
    return _grad_enabled


class _GradMode:
    """Sets grad mode for the duration of a `with` block, then restores it."""

    enabled: bool

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self.enabled

    def __exit__(self, *exc_info: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous


class no_grad(_GradMode):
    """`with no_grad():` runs operations without recording the graph (evaluation, updates)."""

    enabled = False


class enable_grad(_GradMode):
    """`with enable_grad():` records the graph again inside a `no_grad()` block."""

    enabled = True


# --8<-- [end:grad-mode]


# ---------------------------------------------------------------------------
# Random numbers: one seeded generator for the whole library
# ---------------------------------------------------------------------------

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reseed the generator behind `rand`, `randn` and (later) weight initialisation."""
    global _generator
    _generator = np.random.default_rng(seed)


def default_generator() -> np.random.Generator:
    """The library's shared NumPy generator (reseeded by `manual_seed`)."""
    return _generator


# --8<-- [start:tensor]
# ---------------------------------------------------------------------------
# Exercise 1.1: the Tensor
# ---------------------------------------------------------------------------

DEFAULT_FLOAT = np.float32


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Attributes:
        data: the values, a NumPy array.
        requires_grad: whether gradients should flow into this tensor.
        grad: after `backward()`, dL/d(self) as a NumPy array of the same shape, else None.
        grad_fn: the `Context` of the Function that produced this tensor (None for leaves).
    """

    # Tensor defines `==` elementwise, so Python would otherwise make it unhashable;
    # the backward engine keeps tensors in sets, by identity.
    __hash__ = object.__hash__
    # Make NumPy hand `array + tensor` to Tensor.__radd__ instead of looping over it.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        """Store `data` as a NumPy array in `self.data`, and set up the graph fields.

        Set four attributes: `self.data` (np.ndarray), `self.requires_grad` (bool),
        `self.grad = None` and `self.grad_fn = None`.

        The dtype of `self.data`, as `torch.tensor` chooses it:
          - `data` is a Tensor: use its `.data`.
          - `dtype` is given: `np.asarray(data, dtype=dtype)`.
          - `data` is a NumPy array or NumPy scalar: keep its dtype; do not copy
            (`np.asarray`), so that `Tensor(array)` shares memory with `array`.
          - anything else (Python numbers, nested lists): convert with `np.array`, then
            floats become `DEFAULT_FLOAT` (float32) and integers become int64.
        If `requires_grad` is True but the dtype is not floating point
        (`array.dtype.kind != "f"`), raise TypeError: only floating-point tensors
        can require gradients.
        """
        raise NotImplementedError("Exercise 1.1: The Tensor")

    def item(self) -> float | int | bool:
        """Return the single value of a one-element tensor as a Python number.

        `Tensor([[2.5]]).item() == 2.5`. Raise ValueError, naming the shape, when the
        tensor has more or fewer than one element. (NumPy's `ndarray.item()` helps.)
        """
        raise NotImplementedError("Exercise 1.1: The Tensor")

    def detach(self) -> Tensor:
        """Return a new leaf Tensor that shares this tensor's data but has no history.

        The result has the same `.data` object (no copy), `requires_grad=False`
        and `grad_fn=None`: gradients never flow through it.
        """
        raise NotImplementedError("Exercise 1.1: The Tensor")

    # --8<-- [end:tensor]

    # -- provided: properties and conveniences -----------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """A leaf was created by the user, not computed by a recorded Function."""
        return self.grad_fn is None

    def numel(self) -> int:
        return self.data.size

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied). Refuses tensors that need grad."""
        if self.requires_grad:
            raise RuntimeError(
                "can't call numpy() on a tensor that requires grad: use tensor.detach().numpy()"
            )
        return self.data

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place (only on leaves), and return self."""
        if not self.is_leaf:
            raise RuntimeError("requires_grad_() can only change leaf tensors")
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        if self.grad_fn is not None:
            return f"tensor({body}, grad_fn={self.grad_fn!r})"
        if self.requires_grad:
            return f"tensor({body}, requires_grad=True)"
        return f"tensor({body})"

    # -- provided: operators, each one recorded through a Function ---------

    def __add__(self, other: Any) -> Tensor:
        return Add.apply(self, _as_tensor(other, self))

    def __radd__(self, other: Any) -> Tensor:
        return Add.apply(_as_tensor(other, self), self)

    def __sub__(self, other: Any) -> Tensor:
        return Sub.apply(self, _as_tensor(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return Sub.apply(_as_tensor(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return Mul.apply(self, _as_tensor(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return Mul.apply(_as_tensor(other, self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return Div.apply(self, _as_tensor(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return Div.apply(_as_tensor(other, self), self)

    def __neg__(self) -> Tensor:
        return Neg.apply(self)

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor):
            raise TypeError("kindling supports tensor ** number only, not tensor ** tensor")
        return Pow.apply(self, float(exponent))

    def __matmul__(self, other: Any) -> Tensor:
        return MatMul.apply(self, _as_tensor(other, self))

    def __rmatmul__(self, other: Any) -> Tensor:
        return MatMul.apply(_as_tensor(other, self), self)

    def __getitem__(self, index: Any) -> Tensor:
        return GetItem.apply(self, _as_index(index))

    # Comparisons are not differentiable: they return a plain bool tensor.
    def __lt__(self, other: Any) -> Tensor:
        return Tensor(self.data < _raw(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor(self.data <= _raw(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor(self.data > _raw(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor(self.data >= _raw(other))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor(self.data == _raw(other))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return Tensor(self.data != _raw(other))

    # -- provided: methods, each one recorded through a Function -----------

    def exp(self) -> Tensor:
        return Exp.apply(self)

    def log(self) -> Tensor:
        return Log.apply(self)

    def sqrt(self) -> Tensor:
        return Sqrt.apply(self)

    def relu(self) -> Tensor:
        return ReLU.apply(self)

    def sigmoid(self) -> Tensor:
        return Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return Tanh.apply(self)

    def sum(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return Sum.apply(self, dim, keepdim)

    def mean(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        return Mean.apply(self, dim, keepdim)

    def max(self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False) -> Tensor:
        """The largest values (like `torch.amax`: values only, ties share the gradient)."""
        return Max.apply(self, dim, keepdim)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(self, tuple(shape))

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        """Same as `reshape` here: NumPy decides whether a copy is needed."""
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0) -> Tensor:
        """Merge every dimension from `start_dim` on into one."""
        start_dim = start_dim % max(self.ndim, 1)
        return self.reshape(*self.shape[:start_dim], -1)

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return Permute.apply(self, tuple(dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return Permute.apply(self, tuple(dims))

    @property
    def T(self) -> Tensor:
        """All dimensions reversed (the matrix transpose for 2-D tensors)."""
        return Permute.apply(self, tuple(reversed(range(self.ndim))))

    # --8<-- [start:backward]
    # -- Provided: hooks that run once a backward pass has added into a leaf's .grad --
    # Chapter 07's DistributedDataParallel puts one on every parameter: each gradient starts
    # its journey to the other processes while the rest of the backward pass still runs.

    _post_accumulate_grad_hooks: tuple[Callable[[Tensor], None], ...] = ()

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Have `hook(self)` called each time a backward pass has added into this leaf's
        `.grad` (after the addition: the hook sees the new `.grad`). `.remove()` on the
        returned handle unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        self._post_accumulate_grad_hooks = (*self._post_accumulate_grad_hooks, hook)
        return RemovableHandle(self, hook)

    def _run_post_accumulate_grad_hooks(self) -> None:
        for hook in self._post_accumulate_grad_hooks:
            hook(self)

    # -- Exercise 1.3: the backward pass ------------------------------------

    def backward(self, grad: Any = None) -> None:
        """Accumulate dL/dx into `x.grad` for every leaf x with requires_grad.

        `grad` is dL/d(self); when it is None, self must hold a single value and the
        seed is 1 (`np.ones_like(self.data)`). A given `grad` may be an array, a
        Tensor or a number: use `np.asarray(_raw(grad), dtype=self.dtype)`. Raise
        RuntimeError when self does not require grad, or when `grad` is None and self
        has more than one element; raise ValueError, naming both shapes, when `grad`'s
        shape is not self's.

        Then:
          1. `grads = {self: seed}`: gradients waiting to be passed on, by tensor.
          2. For each node in `_reverse_topological_order(self)`:
             - pop its gradient from `grads`;
             - a leaf (`grad_fn is None`): set `node.grad` to a copy of it, or add it
               to the `node.grad` already there (gradients accumulate across calls),
               then call `node._run_post_accumulate_grad_hooks()` (provided above);
             - otherwise call `ctx.function.backward(ctx, node_grad)` with
               `ctx = node.grad_fn`, turn the result into a tuple with
               `_as_gradient_tuple(ctx, result)`, and for each (input, gradient)
               pair with an input Tensor that requires grad and a gradient that is
               not None, replace the gradient by `_check_gradient(ctx, input, gradient)`
               (it returns it as an array, or raises naming the bad shape or dtype) and
               ADD it into `grads[input]` (a tensor used twice gets both).
        Add with `+`, never `+=`, and copy before storing: the arrays backward returns
        may be the caller's `grad` itself, or one array shared by several inputs.
        """
        raise NotImplementedError("Exercise 1.3: The backward pass")


def _reverse_topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor `root` depends on (requiring grad), each listed after all its consumers.

    `root` comes first. A tensor's parents are `tensor.grad_fn.inputs` (skip
    None entries and tensors with requires_grad False; leaves have no parents).
    Each tensor appears once, however many paths lead to it.

    Recipe: a depth-first search that appends a node after all its parents have
    been appended (post-order) gives a topological order, parents before
    children; reverse it. Use an explicit stack rather than recursion, since a
    long chain of operations would hit Python's recursion limit: push
    `(node, False)`, and when popping a node the first time push `(node, True)`
    followed by its unvisited parents; popping `(node, True)` appends it.
    """
    raise NotImplementedError("Exercise 1.3: The backward pass")


def _as_gradient_tuple(ctx: Context, grads: Any) -> tuple:
    """A backward's result as a tuple with one entry per forward argument."""
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(ctx.inputs):
        raise RuntimeError(
            f"{ctx.function.__name__}.backward returned {len(grads)} gradients for "
            f"{len(ctx.inputs)} forward arguments: return one per argument (None for non-tensors)"
        )
    return grads


def _check_gradient(ctx: Context, parent: Tensor, grad: Any) -> np.ndarray:
    """`grad` as an array; a gradient of the wrong shape or dtype is an error that names it."""
    name = ctx.function.__name__
    if isinstance(grad, np.generic):  # NumPy reductions return scalars for 0-d results
        grad = np.asarray(grad)
    if not isinstance(grad, np.ndarray) or grad.shape != parent.shape:
        got = grad.shape if isinstance(grad, np.ndarray) else type(grad).__name__
        raise RuntimeError(
            f"{name}.backward returned a gradient of shape {got} for an input of shape "
            f"{parent.shape}: each gradient must have its input's shape"
        )
    if grad.dtype != parent.dtype:
        raise RuntimeError(
            f"{name}.backward returned a {grad.dtype} gradient for a {parent.dtype} input"
        )
    return grad


class RemovableHandle:
    """What `register_post_accumulate_grad_hook` returns: `remove()` unregisters the hook."""

    def __init__(self, tensor: Tensor, hook: Callable[[Tensor], None]) -> None:
        self.tensor = tensor
        self.hook = hook

    def remove(self) -> None:
        hooks = list(self.tensor._post_accumulate_grad_hooks)
        if self.hook in hooks:
            hooks.remove(self.hook)
            self.tensor._post_accumulate_grad_hooks = tuple(hooks)


# --8<-- [end:backward]


# ---------------------------------------------------------------------------
# Provided: turning Python values into tensors and arrays
# ---------------------------------------------------------------------------


def _raw(value: Any) -> Any:
    """The NumPy data inside a Tensor; anything else unchanged."""
    return value.data if isinstance(value, Tensor) else value


def _as_tensor(value: Any, like: Tensor) -> Tensor:
    """`value` as a Tensor. A Python number takes `like`'s float dtype, so that
    `x * 2.0` stays float32, as in torch."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float, bool)) and like.dtype.kind == "f":
        return Tensor(value, dtype=like.dtype)
    return Tensor(value)


def _as_index(index: Any) -> Any:
    """An index with every Tensor inside it replaced by its NumPy data."""
    if isinstance(index, tuple):
        return tuple(_raw(part) for part in index)
    return _raw(index)


# --8<-- [start:function]
# ---------------------------------------------------------------------------
# Exercise 1.2: Function and Context, recording the graph
# ---------------------------------------------------------------------------


class Context:
    """What one Function call remembers for its backward: a node of the graph.

    `inputs` holds, for each argument of `apply`, the Tensor it was (or None
    for a non-tensor argument such as a dim). Functions may also set any
    attribute they like on the context (`ctx.dim = dim`).
    """

    def __init__(self, function: type[Function] | None = None, inputs: tuple = ()) -> None:
        self.function = function
        self.inputs: tuple[Tensor | None, ...] = inputs
        self.saved_tensors: tuple[np.ndarray, ...] = ()

    def save_for_backward(self, *arrays: np.ndarray) -> None:
        """Keep arrays that backward will need (read them back from `saved_tensors`)."""
        self.saved_tensors = arrays

    def __repr__(self) -> str:
        name = self.function.__name__ if self.function is not None else "Function"
        return f"<{name}Backward>"


class Function:
    """An operation with a forward and a backward, like `torch.autograd.Function`.

    Subclasses define two static methods:
        forward(ctx, *args) -> np.ndarray: the result, from NumPy arrays
            (Tensor arguments arrive as their `.data`; other arguments unchanged).
        backward(ctx, grad_output) -> one gradient per forward argument
            (a NumPy array of that argument's shape and dtype, or None for non-tensors).
    Neither writes into its arguments or into what forward saved (a saved array
    may be the result tensor's data, or the caller's input).
    """

    @staticmethod
    def forward(ctx: Context, *args: Any) -> np.ndarray:
        raise NotImplementedError(f"{__class__.__name__}.forward is defined by subclasses")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> Any:
        raise NotImplementedError(f"{__class__.__name__}.backward is defined by subclasses")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run `cls.forward` on raw data and, when a gradient is wanted, record the graph.

        1. `inputs`: for each argument, the argument itself if it is a Tensor, else None.
        2. `ctx = Context(cls, inputs)`.
        3. Call `cls.forward(ctx, ...)` with each Tensor argument replaced by its
           `.data` (other arguments, like a dim or a shape, unchanged); wrap the
           NumPy result in a new Tensor.
        4. If `is_grad_enabled()` and any Tensor argument has requires_grad, set the
           result's `requires_grad = True` and `grad_fn = ctx`. Otherwise leave it a
           plain tensor with no history.
        Return the result.
        """
        raise NotImplementedError("Exercise 1.2: Recording the graph")


# --8<-- [end:function]


# --8<-- [start:unbroadcast]
# ---------------------------------------------------------------------------
# Exercise 1.4: arithmetic with broadcasting
# ---------------------------------------------------------------------------


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    `grad` has the broadcast shape of an operation's output; `shape` is one
    input's shape. Broadcasting (1) prepended axes to the input and (2)
    stretched its size-1 axes; every copy contributed to the loss, so:
      1. sum over the leading `grad.ndim - len(shape)` axes;
      2. sum, with keepdims=True, over every axis where `shape` has size 1 and
         `grad` does not.
    Example: grad of shape (4, 2, 3) and shape (2, 1) -> sum over axis 0,
    giving (2, 3), then over axis 1 with keepdims, giving (2, 1). (Axes are
    counted in the array at hand: axis 1 of (2, 3) was axis 2 of (4, 2, 3).)
    """
    raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")


# --8<-- [end:unbroadcast]


# --8<-- [start:arithmetic]
# Add is done for you: the pattern every operation below follows.
class Add(Function):
    """out = a + b;  dL/da = dL/dout,  dL/db = dL/dout (each unbroadcast)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.shapes = (a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a_shape, b_shape = ctx.shapes
        return unbroadcast(grad_output, a_shape), unbroadcast(grad_output, b_shape)


class Sub(Function):
    """out = a - b;  dL/da = dL/dout,  dL/db = -dL/dout."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the gradient of each forward argument (see the class docstring).

        Binary ops must `unbroadcast` each gradient to its input's shape. Pow returns
        `(grad_a, None)`: the exponent is a number, not a tensor.
        """
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")


class Mul(Function):
    """out = a * b;  dL/da = dL/dout * b,  dL/db = dL/dout * a."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the gradient of each forward argument (see the class docstring).

        Binary ops must `unbroadcast` each gradient to its input's shape. Pow returns
        `(grad_a, None)`: the exponent is a number, not a tensor.
        """
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")


class Div(Function):
    """out = a / b;  dL/da = dL/dout / b,  dL/db = -dL/dout * a / b**2."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the gradient of each forward argument (see the class docstring).

        Binary ops must `unbroadcast` each gradient to its input's shape. Pow returns
        `(grad_a, None)`: the exponent is a number, not a tensor.
        """
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")


class Neg(Function):
    """out = -a;  dL/da = -dL/dout."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        """Return the gradient of each forward argument (see the class docstring).

        Binary ops must `unbroadcast` each gradient to its input's shape. Pow returns
        `(grad_a, None)`: the exponent is a number, not a tensor.
        """
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")


class Pow(Function):
    """out = a ** p for a number p;  dL/da = dL/dout * p * a ** (p - 1)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, exponent: float) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        """Return the gradient of each forward argument (see the class docstring).

        Binary ops must `unbroadcast` each gradient to its input's shape. Pow returns
        `(grad_a, None)`: the exponent is a number, not a tensor.
        """
        raise NotImplementedError("Exercise 1.4: Arithmetic with broadcasting")


# --8<-- [end:arithmetic]


# --8<-- [start:elementwise]
# ---------------------------------------------------------------------------
# Exercise 1.5: elementwise functions
# ---------------------------------------------------------------------------


class Exp(Function):
    """out = e^a;  dL/da = dL/dout * out."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        """Return dL/da, an array of `a`'s shape and dtype (see the class docstring)."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")


class Log(Function):
    """out = ln a;  dL/da = dL/dout / a."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        """Return dL/da, an array of `a`'s shape and dtype (see the class docstring)."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")


class Sqrt(Function):
    """out = sqrt(a);  dL/da = dL/dout / (2 out)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        """Return dL/da, an array of `a`'s shape and dtype (see the class docstring)."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")


class ReLU(Function):
    """out = max(a, 0);  dL/da = dL/dout where a > 0, else 0 (also at a == 0, as torch)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        """Return dL/da, an array of `a`'s shape and dtype (see the class docstring)."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")


class Sigmoid(Function):
    """out = 1 / (1 + e^-a);  dL/da = dL/dout * out * (1 - out)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        """Return 1 / (1 + e^-a) without overflow warnings; save what backward needs.

        For very negative a, e^-a overflows. With z = e^-|a| (always <= 1):
        sigmoid(a) = 1 / (1 + z) where a >= 0, and z / (1 + z) where a < 0.
        """
        raise NotImplementedError("Exercise 1.5: Elementwise functions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        """Return dL/da, an array of `a`'s shape and dtype (see the class docstring)."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")


class Tanh(Function):
    """out = tanh(a);  dL/da = dL/dout * (1 - out**2).

    No overflow for large |a|, where (e^2a - 1) / (e^2a + 1) would give inf / inf = NaN.
    """

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        """Return dL/da, an array of `a`'s shape and dtype (see the class docstring)."""
        raise NotImplementedError("Exercise 1.5: Elementwise functions")


# --8<-- [end:elementwise]


# --8<-- [start:reductions]
# ---------------------------------------------------------------------------
# Exercise 1.6: reductions
# ---------------------------------------------------------------------------


def _reduced_axes(dim: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """`dim` as a tuple of non-negative axes; None means every axis."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(d % max(ndim, 1) for d in dims)) if ndim else ()


def _expand_to_input(
    grad: np.ndarray, axes: tuple[int, ...], keepdim: bool, shape: tuple[int, ...]
) -> np.ndarray:
    """Give `grad` (shaped like a reduction's output) the input's `shape` again.

    Unless `keepdim` was True, the reduced `axes` were removed: put them back
    with size 1 (`np.expand_dims`). Then `np.broadcast_to(grad, shape)`.
    That result is a read-only view in which every copy shares one memory cell,
    so a backward that returns it must copy it (or compute a new array from it):
    gradients are handed on as ordinary arrays, which their owner may write into.
    """
    raise NotImplementedError("Exercise 1.6: Reductions")


class Sum(Function):
    """out = sum of a over `dim`;  dL/da = dL/dout copied along the summed axes."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        """Reduce `a` over `dim` (None: all axes), keeping the axes if `keepdim`.

        `_reduced_axes(dim, a.ndim)` gives the axes as a sorted tuple of non-negative ints.
        Return a NumPy array (wrap NumPy scalars with `np.asarray`); save what backward needs.
        """
        raise NotImplementedError("Exercise 1.6: Reductions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None, None]:
        """Return `(grad_a, None, None)`: dL/da (`a`'s shape and dtype), then None for dim and keepdim."""
        raise NotImplementedError("Exercise 1.6: Reductions")


class Mean(Function):
    """out = sum / n where n counts the reduced elements;  dL/da = dL/dout / n, copied."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        """Reduce `a` over `dim` (None: all axes), keeping the axes if `keepdim`.

        `_reduced_axes(dim, a.ndim)` gives the axes as a sorted tuple of non-negative ints.
        Return a NumPy array (wrap NumPy scalars with `np.asarray`); save what backward needs.
        """
        raise NotImplementedError("Exercise 1.6: Reductions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None, None]:
        """Return `(grad_a, None, None)`: dL/da (`a`'s shape and dtype), then None for dim and keepdim."""
        raise NotImplementedError("Exercise 1.6: Reductions")


class Max(Function):
    """out = max of a over `dim`. The gradient goes to the elements equal to the max;
    when several tie, they share it equally (as `torch.amax`)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        """Reduce `a` with max over `dim` (None: all axes), keeping the axes if `keepdim`.

        For backward, save each element's share of the gradient: 1/k for the k
        elements equal to the max of their slice, 0 elsewhere (an array of `a`'s shape and
        dtype: a float64 share would make a float64 gradient for a float32 `a`). Raise ValueError for an empty tensor.
        """
        raise NotImplementedError("Exercise 1.6: Reductions")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None, None]:
        """Return `(grad_a, None, None)`: dL/da (`a`'s shape and dtype), then None for dim and keepdim."""
        raise NotImplementedError("Exercise 1.6: Reductions")


# --8<-- [end:reductions]


# --8<-- [start:shapes]
# ---------------------------------------------------------------------------
# Exercise 1.7: shapes and indexing
# ---------------------------------------------------------------------------


class Reshape(Function):
    """out = a with a new shape (same elements, same order);  dL/da = dL/dout reshaped back."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.7: Shapes and indexing")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        """Return `(grad_a, None)`: dL/da (`a`'s shape and dtype), then None for the shape/dims/index."""
        raise NotImplementedError("Exercise 1.7: Shapes and indexing")


class Permute(Function):
    """out = a with its axes reordered by `dims`;  dL/da = dL/dout with the inverse order."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        """Return `a` with its axes in the order `dims` (`np.transpose`).

        Normalise negative dims first (`d % a.ndim`); raise ValueError when `dims`
        is not a reordering of all of `a`'s axes.
        """
        raise NotImplementedError("Exercise 1.7: Shapes and indexing")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        """Return `(grad_a, None)`: dL/da (`a`'s shape and dtype), then None for the shape/dims/index."""
        raise NotImplementedError("Exercise 1.7: Shapes and indexing")


class GetItem(Function):
    """out = a[index];  dL/da = zeros with dL/dout added at the indexed places.

    Added, not assigned: an integer-array index may pick one element several
    times, and each pick contributes to the gradient.
    """

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, index: Any) -> np.ndarray:
        """Return the result (see the class docstring); save in `ctx` what backward needs."""
        raise NotImplementedError("Exercise 1.7: Shapes and indexing")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        """Return `(grad_a, None)`: dL/da (`a`'s shape and dtype), then None for the shape/dims/index."""
        raise NotImplementedError("Exercise 1.7: Shapes and indexing")


# --8<-- [end:shapes]


# --8<-- [start:matmul]
# ---------------------------------------------------------------------------
# Exercise 1.8: matrix multiplication
# ---------------------------------------------------------------------------


class MatMul(Function):
    """out = a @ b, batched over leading dimensions (NumPy/torch `matmul` rules).

    For matrices:  dL/da = dL/dout @ b^T,  dL/db = a^T @ dL/dout.
    A 1-D `a` acts as a row (1, n) and a 1-D `b` as a column (n, 1), and that
    axis is dropped from the result; batch dimensions broadcast, so their
    gradients are unbroadcast.
    """

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return `MatMul.product(a, b)` (the matrix product); save `a` and `b`.

        Raise ValueError for a 0-d input, or when `a`'s last axis and `b`'s
        row axis (its second to last, or its only axis if 1-D) differ in size,
        naming both shapes.
        """
        raise NotImplementedError("Exercise 1.8: Matrix multiplication")

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return `(grad_a, grad_b)`, with the shapes and dtypes of `a` and `b`.

        1. View a 1-D `a` as a row (1, n) and a 1-D `b` as a column (n, 1).
        2. Put the dropped axes back into `grad_output`: if `b` was 1-D, add a last
           axis; then if `a` was 1-D, add an axis at position -2.
        3. grad_a = g @ b^T and grad_b = a^T @ g, transposing the last two axes
           (`np.swapaxes(x, -1, -2)`); compute each product with `MatMul.product`.
        4. `unbroadcast` each to the 2-D-ified input's shape (batch axes may have
           been broadcast), then reshape to the original input's shape.
        """
        raise NotImplementedError("Exercise 1.8: Matrix multiplication")

    @staticmethod
    def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Return the raw product `np.matmul(a, b)`.

        forward and backward both call this, so there is one place to make the
        product fast: the answer key sends big 2-D products to chapter 05's
        parallel Numba kernel. `np.matmul` is all you need here.
        """
        raise NotImplementedError("Exercise 1.8: Matrix multiplication")


# --8<-- [end:matmul]


# ---------------------------------------------------------------------------
# Provided: factories and functions, as in the `torch` namespace
# ---------------------------------------------------------------------------


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (same dtype rule as `Tensor`)."""
    data = _raw(data)
    if isinstance(data, np.ndarray):
        data = data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _shape(shape: tuple) -> tuple[int, ...]:
    """Accept both `zeros(2, 3)` and `zeros((2, 3))`."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def zeros(*shape: int, dtype: Any = DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: int, dtype: Any = DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def rand(*shape: int, dtype: Any = DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), from the generator seeded by `manual_seed`."""
    return Tensor(_generator.random(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def randn(*shape: int, dtype: Any = DEFAULT_FLOAT, requires_grad: bool = False) -> Tensor:
    """Standard normal, from the generator seeded by `manual_seed`."""
    return Tensor(
        _generator.standard_normal(_shape(shape)).astype(dtype), requires_grad=requires_grad
    )


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """`arange(n)` is 0, 1, ..., n-1; `arange(a, b, step)` as in Python's range, for floats too."""
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = DEFAULT_FLOAT if values.dtype.kind == "f" else np.int64
    return Tensor(values, dtype=dtype)


def exp(x: Tensor) -> Tensor:
    return Exp.apply(x)


def log(x: Tensor) -> Tensor:
    return Log.apply(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x)


def relu(x: Tensor) -> Tensor:
    return ReLU.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return MatMul.apply(a, b)


# --8<-- [start:gradcheck]
# ---------------------------------------------------------------------------
# Exercise 1.9: checking gradients numerically
# ---------------------------------------------------------------------------


class GradcheckError(AssertionError):
    """An analytical gradient disagrees with the finite-difference estimate."""


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare the gradients that `backward` computes with central differences.

    1. Copy every input to float64: `Tensor(np.array(x.data, dtype=np.float64),
       requires_grad=x.requires_grad)`.
    2. Weights: run `fn(*copies)` once under `no_grad()` to learn its output shape,
       then v = `np.random.default_rng(0).standard_normal(that shape)`. Random, not
       ones: with all-ones weights, a backward that sends a gradient to the wrong
       element (say, the mirrored row) could still pass.
       The scalar being differentiated is L = sum(v * fn(*copies)).
    3. Analytical: build L from the copies with Tensor operations and call
       `backward()`; each copy's `.grad` holds dL/dx (None means zeros: that
       input does not reach the output).
    4. Numerical, for each copy that requires grad and each index k
       (`np.ndindex(x.shape)`): set x.data[k] to original + eps, compute L
       under `no_grad()`, then original - eps, then restore; the estimate is
       (L_plus - L_minus) / (2 eps).
    5. If |analytical - numerical| > atol + rtol * |numerical|, raise
       GradcheckError with a message that names the input's position, the
       index k, and both values.
    Return True when every element agrees.
    """
    raise NotImplementedError("Exercise 1.9: Checking gradients numerically")


# --8<-- [end:gradcheck]
