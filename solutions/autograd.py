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
        """Store `data` as a NumPy array.

        dtype rule (as `torch.tensor`): an explicit `dtype` wins; a NumPy array keeps its
        dtype (and is shared, not copied); Python floats become float32, Python ints
        int64, Python bools bool. Only floating-point tensors may require gradients.
        """
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            array = np.asarray(data, dtype=dtype)
        elif isinstance(data, (np.ndarray, np.generic)):
            array = np.asarray(data)
        else:
            array = np.array(data)
            if array.dtype.kind == "f":
                array = array.astype(DEFAULT_FLOAT)
            elif array.dtype.kind in "iu":
                array = array.astype(np.int64)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {array.dtype}"
            )
        self.data: np.ndarray = array
        self.requires_grad: bool = requires_grad
        self.grad: np.ndarray | None = None
        self.grad_fn: Context | None = None

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element, this one has shape {self.shape}"
            )
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf tensor sharing this tensor's data, cut off from the graph."""
        return Tensor(self.data)

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

        1. Seed: dL/d(self) is `grad`, or 1 when self holds a single value.
        2. Order the graph's nodes so each comes after every node that uses it
           (reverse topological order), with a depth-first search from self.
        3. Visit nodes in that order. A node's gradient is complete once all its
           consumers are visited; pass it to its Function's backward and add the
           results to its inputs' gradients. Leaves add theirs into `.grad`, then
           run their post-accumulate-grad hooks.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of the "
                "computation had requires_grad=True (or it ran under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for single-value outputs, this one "
                    f"has shape {self.shape}: pass backward(grad) with dL/d(output)"
                )
            grad = np.ones_like(self.data)
        grad = np.asarray(_raw(grad), dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(grad): grad has shape {grad.shape}, expected {self.shape}")

        grads: dict[Tensor, np.ndarray] = {self: grad}
        for node in _reverse_topological_order(self):
            node_grad = grads.pop(node)
            if node.grad_fn is None:
                node.grad = node_grad.copy() if node.grad is None else node.grad + node_grad
                node._run_post_accumulate_grad_hooks()
                continue
            ctx = node.grad_fn
            input_grads = ctx.function.backward(ctx, node_grad)
            input_grads = _as_gradient_tuple(ctx, input_grads)
            for parent, parent_grad in zip(ctx.inputs, input_grads, strict=True):
                if parent is None or not parent.requires_grad or parent_grad is None:
                    continue
                parent_grad = _check_gradient(ctx, parent, parent_grad)
                grads[parent] = grads[parent] + parent_grad if parent in grads else parent_grad


def _reverse_topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that `root` depends on with requires_grad, each after all its consumers."""
    order: list[Tensor] = []
    visited: set[Tensor] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    # An explicit stack instead of recursion: deep graphs (long loops) would
    # overflow Python's recursion limit.
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        if node.grad_fn is not None:
            for parent in node.grad_fn.inputs:
                if parent is not None and parent.requires_grad and parent not in visited:
                    stack.append((parent, False))
    order.reverse()
    return order


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
        """Run `forward` on raw data and, when a gradient is wanted, record the graph.

        The result requires grad when grad mode is on and at least one Tensor
        argument requires grad; only then does it get a `grad_fn`: a Context
        holding this Function and the Tensor arguments (None for the others).
        """
        inputs = tuple(arg if isinstance(arg, Tensor) else None for arg in args)
        ctx = Context(cls, inputs)
        output = Tensor(cls.forward(ctx, *(_raw(arg) for arg in args)))
        if is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
            output.requires_grad = True
            output.grad_fn = ctx
        return output


# --8<-- [end:function]


# --8<-- [start:unbroadcast]
# ---------------------------------------------------------------------------
# Exercise 1.4: arithmetic with broadcasting
# ---------------------------------------------------------------------------


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    Broadcasting copies an input along new leading axes and along axes of
    size 1; every copy contributed to the loss, so the input's gradient is
    the sum over those axes.
    """
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(
        axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1
    )
    return np.asarray(grad.sum(axis=stretched, keepdims=True))


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
        ctx.shapes = (a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a_shape, b_shape = ctx.shapes
        return unbroadcast(grad_output, a_shape), unbroadcast(-grad_output, b_shape)


class Mul(Function):
    """out = a * b;  dL/da = dL/dout * b,  dL/db = dL/dout * a."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = ctx.saved_tensors
        return unbroadcast(grad_output * b, a.shape), unbroadcast(grad_output * a, b.shape)


class Div(Function):
    """out = a / b;  dL/da = dL/dout / b,  dL/db = -dL/dout * a / b**2."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = ctx.saved_tensors
        grad_a = grad_output / b
        grad_b = -grad_output * a / (b * b)
        return unbroadcast(grad_a, a.shape), unbroadcast(grad_b, b.shape)


class Neg(Function):
    """out = -a;  dL/da = -dL/dout."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        return -a

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        return -grad_output


class Pow(Function):
    """out = a ** p for a number p;  dL/da = dL/dout * p * a ** (p - 1)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, exponent: float) -> np.ndarray:
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return a**exponent

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        (a,) = ctx.saved_tensors
        p = ctx.exponent
        return grad_output * p * a ** (p - 1), None


# --8<-- [end:arithmetic]


# --8<-- [start:elementwise]
# ---------------------------------------------------------------------------
# Exercise 1.5: elementwise functions
# ---------------------------------------------------------------------------


class Exp(Function):
    """out = e^a;  dL/da = dL/dout * out."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        return grad_output * out


class Log(Function):
    """out = ln a;  dL/da = dL/dout / a."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved_tensors
        return grad_output / a


class Sqrt(Function):
    """out = sqrt(a);  dL/da = dL/dout / (2 out)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        return grad_output / (2 * out)


class ReLU(Function):
    """out = max(a, 0);  dL/da = dL/dout where a > 0, else 0 (also at a == 0, as torch)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(a > 0)
        return np.maximum(a, 0)

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        (positive,) = ctx.saved_tensors
        return grad_output * positive


class Sigmoid(Function):
    """out = 1 / (1 + e^-a);  dL/da = dL/dout * out * (1 - out)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        # e^-|a| never overflows; pick the algebraically equal form for each sign.
        z = np.exp(-np.abs(a))
        out = np.where(a >= 0, 1 / (1 + z), z / (1 + z))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        return grad_output * out * (1 - out)


class Tanh(Function):
    """out = tanh(a);  dL/da = dL/dout * (1 - out**2).

    No overflow for large |a|, where (e^2a - 1) / (e^2a + 1) would give inf / inf = NaN.
    """

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> np.ndarray:
        (out,) = ctx.saved_tensors
        return grad_output * (1 - out * out)


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
    """Put the reduced axes back into `grad` (size 1) so it broadcasts against the input."""
    if not keepdim:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


class Sum(Function):
    """out = sum of a over `dim`;  dL/da = dL/dout copied along the summed axes."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        ctx.axes = _reduced_axes(dim, a.ndim)
        ctx.keepdim = keepdim
        ctx.shape = a.shape
        return np.asarray(a.sum(axis=ctx.axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None, None]:
        grad = _expand_to_input(grad_output, ctx.axes, ctx.keepdim, ctx.shape)
        return grad.copy(), None, None


class Mean(Function):
    """out = sum / n where n counts the reduced elements;  dL/da = dL/dout / n, copied."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        ctx.axes = _reduced_axes(dim, a.ndim)
        ctx.keepdim = keepdim
        ctx.shape = a.shape
        return np.asarray(a.mean(axis=ctx.axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None, None]:
        count = int(np.prod([ctx.shape[axis] for axis in ctx.axes]))
        grad = _expand_to_input(grad_output, ctx.axes, ctx.keepdim, ctx.shape)
        return grad / grad.dtype.type(count), None, None


class Max(Function):
    """out = max of a over `dim`. The gradient goes to the elements equal to the max;
    when several tie, they share it equally (as `torch.amax`)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
        if a.size == 0:
            raise ValueError("max() of an empty tensor has no value")
        ctx.axes = _reduced_axes(dim, a.ndim)
        ctx.keepdim = keepdim
        out = np.asarray(a.max(axis=ctx.axes, keepdims=True))
        winners = a == out
        ctx.save_for_backward(winners / winners.sum(axis=ctx.axes, keepdims=True, dtype=a.dtype))
        return out if keepdim else np.squeeze(out, axis=ctx.axes)

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None, None]:
        (share,) = ctx.saved_tensors
        grad = _expand_to_input(grad_output, ctx.axes, ctx.keepdim, share.shape)
        return grad * share, None, None


# --8<-- [end:reductions]


# --8<-- [start:shapes]
# ---------------------------------------------------------------------------
# Exercise 1.7: shapes and indexing
# ---------------------------------------------------------------------------


class Reshape(Function):
    """out = a with a new shape (same elements, same order);  dL/da = dL/dout reshaped back."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        return grad_output.reshape(ctx.shape), None


class Permute(Function):
    """out = a with its axes reordered by `dims`;  dL/da = dL/dout with the inverse order."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        dims = tuple(d % max(a.ndim, 1) for d in dims)
        if sorted(dims) != list(range(a.ndim)):
            raise ValueError(f"permute{dims} is not a reordering of {a.ndim} dimensions")
        ctx.dims = dims
        return np.transpose(a, dims)

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        return np.transpose(grad_output, np.argsort(ctx.dims)), None


class GetItem(Function):
    """out = a[index];  dL/da = zeros with dL/dout added at the indexed places.

    Added, not assigned: an integer-array index may pick one element several
    times, and each pick contributes to the gradient.
    """

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, index: Any) -> np.ndarray:
        ctx.shape = a.shape
        ctx.index = index
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        grad = np.zeros(ctx.shape, dtype=grad_output.dtype)
        np.add.at(grad, ctx.index, grad_output)
        return grad, None


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
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs tensors with at least one dimension, got a scalar")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul shapes {a.shape} and {b.shape} do not match: "
                f"{a.shape[-1]} columns vs {b.shape[-2 if b.ndim > 1 else 0]} rows"
            )
        ctx.save_for_backward(a, b)
        return MatMul.product(a, b)

    @staticmethod
    def backward(ctx: Context, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = ctx.saved_tensors
        a2 = a[np.newaxis, :] if a.ndim == 1 else a
        b2 = b[:, np.newaxis] if b.ndim == 1 else b
        # Restore the dropped axes: b's column axis (last), then a's row axis.
        g = grad_output
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        grad_a = unbroadcast(MatMul.product(g, np.swapaxes(b2, -1, -2)), a2.shape)
        grad_b = unbroadcast(MatMul.product(np.swapaxes(a2, -1, -2), g), b2.shape)
        return grad_a.reshape(a.shape), grad_b.reshape(b.shape)

    @staticmethod
    def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The raw product a @ b, in one place so that it can be made fast.

        From chapter 05 on, big 2-D float products run on the parallel Numba kernels
        (kernels.fast_matmul); small ones and batches stay with NumPy, where a parallel
        kernel's start-up would cost more than it saves. With KINDLING_DEVICE=cuda,
        every 2-D float32 product runs on the GPU (gpu.matmul).
        """
        if DEVICE == "cuda" and a.ndim == b.ndim == 2 and a.dtype == b.dtype == np.float32:
            from .gpu import matmul as gpu_matmul

            return gpu_matmul(a, b)
        big = a.ndim == b.ndim == 2 and a.shape[0] * a.shape[1] * b.shape[1] >= 1 << 18
        if big and a.dtype == b.dtype and a.dtype.kind == "f":
            from .kernels import fast_matmul  # imported on first use: Numba compiles it then

            return fast_matmul(a, b)
        return np.matmul(a, b)


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

    The check runs in float64 on copies of `inputs`. With a fixed random
    weighting v of the output, L(x) = sum(v * fn(*inputs)). For each input that
    requires grad and each of its elements x_k:

        numerical_k = (L(x + eps e_k) - L(x - eps e_k)) / (2 eps)

    must match the analytical dL/dx_k within atol + rtol * |numerical_k|.
    Returns True, or raises GradcheckError naming the input (by position) and
    the element index, with both values.
    """
    xs = [Tensor(np.array(x.data, dtype=np.float64), requires_grad=x.requires_grad) for x in inputs]
    with no_grad():
        output_shape = fn(*xs).shape
    weights = np.asarray(np.random.default_rng(0).standard_normal(output_shape))

    def loss() -> float:
        with no_grad():
            return float(np.sum(weights * fn(*xs).data))

    (fn(*xs) * Tensor(weights)).sum().backward()
    for position, x in enumerate(xs):
        if not x.requires_grad:
            continue
        analytical = x.grad if x.grad is not None else np.zeros_like(x.data)
        for k in np.ndindex(x.shape):
            original = x.data[k]
            x.data[k] = original + eps
            plus = loss()
            x.data[k] = original - eps
            minus = loss()
            x.data[k] = original
            numerical = (plus - minus) / (2 * eps)
            if abs(analytical[k] - numerical) > atol + rtol * abs(numerical):
                raise GradcheckError(
                    f"gradient of input {position} (shape {x.shape}) differs at index {k}: "
                    f"backward gives {analytical[k]:.6g}, finite differences give {numerical:.6g}"
                )
    return True


# --8<-- [end:gradcheck]
