"""The chapter 01 answer key agrees with real PyTorch, forward and backward.

`solutions/autograd.py` claims to mirror `torch.autograd`. These tests hold it to that:
the same NumPy inputs go through kindling and through torch, the same upstream gradient
comes back, and we require

* the same output: shape, dtype and values;
* the same gradient for every input, each compared on its own, so a failure names the op,
  the input, the shapes, and the first index where the two libraries differ.

What is covered:

1. every operation on its own, in float32 (float32 tolerances) and float64 (tight), with
   broadcasting, reductions over every kind of `dim`, `max` with ties (as `torch.amax`),
   indexing with repeated indices, axis reorderings and batched or 1-D `matmul`;
2. inputs that are not contiguous in memory (transposed arrays);
3. random composite expressions (hypothesis): trees of up to four levels over three inputs,
   reusing inputs and intermediate results, so gradients meet and must be summed;
4. the engine's semantics: gradients accumulate across `backward` calls and uses of a leaf,
   `no_grad` and `detach` cut the graph;
5. the dtype rules that decide whether a tensor is float32, float64 or int64;
6. comparisons, factories and `gradcheck`.

A difference here is a bug in the answer key (or a documented departure from torch): it is
what learners' work gets graded against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import solutions.autograd as kd

torch = pytest.importorskip(
    "torch", reason="PyTorch is the oracle for these cross-checks: pip install -e '.[torch]'"
)

# float32 keeps about 7 significant digits; float64 about 16.
TOLERANCES = {
    np.float32: {"rtol": 1e-5, "atol": 1e-6},
    np.float64: {"rtol": 1e-10, "atol": 1e-12},
}
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


# ---------------------------------------------------------------------------
# One definition, two libraries
# ---------------------------------------------------------------------------


def lib(x):
    """The module that `x` belongs to: `kd.tensor(...)` and `torch.tensor(...)` both work."""
    return kd if isinstance(x, kd.Tensor) else torch


def amax(x, dim=None, keepdim=False):
    """The largest values: kindling's `max` is torch's `amax` (values only, ties share)."""
    if isinstance(x, kd.Tensor):
        return x.max(dim, keepdim)
    return x.amax(dim=() if dim is None else dim, keepdim=keepdim)


# ---------------------------------------------------------------------------
# Running both libraries and comparing
# ---------------------------------------------------------------------------


def assert_agrees(what: str, got: np.ndarray | None, expected, tolerance: dict) -> None:
    """kindling's array `got` equals torch's tensor `expected` in shape, dtype and values."""
    if expected is None or got is None:
        assert got is None and expected is None, f"{what}: kindling {got}, torch {expected}"
        return
    expected = expected.detach().numpy()
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, torch {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype}, torch {expected.dtype}"
    close = np.isclose(got, expected, **tolerance)
    if not close.all():
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        pytest.fail(
            f"{what} differs first at index {index}: kindling {got[index].item()!r}, "
            f"torch {expected[index].item()!r} ({np.count_nonzero(~close)} of {close.size} "
            f"elements differ beyond {tolerance})",
            pytrace=False,
        )


def check_against_torch(name: str, fn: Callable, arrays: list[np.ndarray], seed: int = 0) -> None:
    """Run `fn` on leaves made from `arrays` in both libraries, backpropagate the same random
    upstream gradient, and compare the outputs and each input's gradient."""
    tolerance = TOLERANCES[arrays[0].dtype.type]
    # Both libraries share the arrays (nothing writes to them), strides included.
    kd_inputs = [kd.Tensor(a, requires_grad=True) for a in arrays]
    torch_inputs = [torch.from_numpy(a).requires_grad_() for a in arrays]
    kd_out, torch_out = fn(*kd_inputs), fn(*torch_inputs)

    shapes = ", ".join(str(a.shape) for a in arrays)
    assert_agrees(f"{name} on shapes {shapes}: output", kd_out.data, torch_out, tolerance)

    upstream = np.random.default_rng(seed).standard_normal(kd_out.shape).astype(kd_out.dtype)
    kd_out.backward(upstream)
    torch_out.backward(torch.from_numpy(upstream))
    for position, (kd_x, torch_x) in enumerate(zip(kd_inputs, torch_inputs, strict=True)):
        what = f"{name} on shapes {shapes}: grad of input {'abc'[position]} {kd_x.shape}"
        assert_agrees(what, kd_x.grad, torch_x.grad, tolerance)


def draw(domain: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Input values where the op is well defined and well conditioned."""
    if domain == "positive":  # log, sqrt, fractional powers
        values = rng.uniform(0.5, 2.0, shape)
    elif domain == "nonzero":  # denominators, negative powers
        values = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    elif domain == "ties":  # small integers: many equal values, and zeros
        values = rng.integers(-2, 3, shape).astype(np.float64)
    else:
        values = rng.standard_normal(shape)
    return np.asarray(values)  # a 0-d array, not a NumPy scalar, for shape ()


# ---------------------------------------------------------------------------
# 1. Every operation on its own
# ---------------------------------------------------------------------------


class Case(NamedTuple):
    name: str
    fn: Callable
    shapes: list[tuple[int, ...]]
    domains: tuple[str, ...] = ()  # one per input, see `draw`; () means all "normal"


def unary_cases() -> list[Case]:
    ops = [
        ("neg", lambda x: -x, "normal"),
        ("exp", lambda x: x.exp(), "normal"),
        ("log", lambda x: x.log(), "positive"),
        ("sqrt", lambda x: x.sqrt(), "positive"),
        ("relu", lambda x: x.relu(), "normal"),
        ("relu at 0", lambda x: x.relu(), "ties"),  # the gradient at 0 is 0, as in torch
        ("sigmoid", lambda x: x.sigmoid(), "normal"),
        ("tanh", lambda x: x.tanh(), "normal"),
        ("x**2", lambda x: x**2, "normal"),
        ("x**3", lambda x: x**3, "normal"),
        ("x**0.5", lambda x: x**0.5, "positive"),
        ("x**-1.5", lambda x: x**-1.5, "positive"),
        ("x**-1", lambda x: x**-1, "nonzero"),
        ("lib.exp(x)", lambda x: lib(x).exp(x), "normal"),
        ("lib.log(x)", lambda x: lib(x).log(x), "positive"),
        ("lib.sqrt(x)", lambda x: lib(x).sqrt(x), "positive"),
        ("lib.relu(x)", lambda x: lib(x).relu(x), "normal"),
        ("lib.sigmoid(x)", lambda x: lib(x).sigmoid(x), "normal"),
        ("lib.tanh(x)", lambda x: lib(x).tanh(x), "normal"),
    ]
    shapes = [(3, 4), ()]
    return [Case(f"{op} {s}", fn, [s], (d,)) for op, fn, d in ops for s in shapes]


def binary_cases() -> list[Case]:
    ops = [
        ("a+b", lambda a, b: a + b, "normal"),
        ("a-b", lambda a, b: a - b, "normal"),
        ("a*b", lambda a, b: a * b, "normal"),
        ("a/b", lambda a, b: a / b, "nonzero"),
    ]
    pairs = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((5, 1), (1, 6))]
    cases = [
        Case(f"{op} {sa}&{sb}", fn, [sa, sb], ("normal", b_domain))
        for op, fn, b_domain in ops
        for sa, sb in pairs
    ]
    scalar_ops = [  # a Python number on either side
        ("a+3", lambda a: a + 3, "normal"),
        ("3+a", lambda a: 3 + a, "normal"),
        ("a-0.5", lambda a: a - 0.5, "normal"),
        ("2-a", lambda a: 2.0 - a, "normal"),
        ("a*2.5", lambda a: a * 2.5, "normal"),
        ("-2*a", lambda a: -2 * a, "normal"),
        ("a/4", lambda a: a / 4, "normal"),
        ("1/a", lambda a: 1 / a, "nonzero"),
    ]
    return cases + [Case(op, fn, [(3, 4)], (d,)) for op, fn, d in scalar_ops]


def reduction_cases() -> list[Case]:
    ops = [
        ("sum", lambda x, dim, keepdim: x.sum(dim=dim, keepdim=keepdim), "normal"),
        ("mean", lambda x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim), "normal"),
        ("max", amax, "ties"),  # ties share the gradient equally, as in torch.amax
    ]
    dims = [None, 0, 1, -1, (0, 2), (-1, 0)]
    cases = [
        Case(
            f"{op}(dim={dim}, keepdim={keepdim})",
            lambda x, f=fn, dim=dim, keepdim=keepdim: f(x, dim, keepdim),
            [(2, 3, 4)],
            (domain,),
        )
        for op, fn, domain in ops
        for dim in dims
        for keepdim in (False, True)
    ]
    defaults = [  # the default arguments, and a 0-d input
        ("sum()", lambda x: x.sum(), (2, 3), "normal"),
        ("mean()", lambda x: x.mean(), (2, 3), "normal"),
        ("max()", lambda x: amax(x), (2, 3), "ties"),
        ("sum(0) of 0-d", lambda x: x.sum(0), (), "normal"),
        ("max(-1) of 0-d", lambda x: amax(x, -1), (), "normal"),
    ]
    return cases + [Case(name, fn, [shape], (d,)) for name, fn, shape, d in defaults]


def shape_cases() -> list[Case]:
    ops = [
        ("reshape(6, 4)", lambda x: x.reshape(6, 4)),
        ("reshape((4, -1))", lambda x: x.reshape((4, -1))),
        ("view(4, 6)", lambda x: x.view(4, 6)),
        ("view(-1)", lambda x: x.view(-1)),
        ("flatten()", lambda x: x.flatten()),
        ("flatten(1)", lambda x: x.flatten(1)),
        ("permute(2, 0, 1)", lambda x: x.permute(2, 0, 1)),
        ("permute((1, 2, 0))", lambda x: x.permute((1, 2, 0))),
        ("permute(-1, 0, 1)", lambda x: x.permute(-1, 0, 1)),
        ("transpose(0, 2)", lambda x: x.transpose(0, 2)),
        ("transpose(-1, -2)", lambda x: x.transpose(-1, -2)),
        ("x[1]", lambda x: x[1]),
        ("x[-1]", lambda x: x[-1]),
        ("x[0:2]", lambda x: x[0:2]),
        ("x[:, ::2]", lambda x: x[:, ::2]),
        ("x[1, :, -1]", lambda x: x[1, :, -1]),
        ("x[1, 2, 3]", lambda x: x[1, 2, 3]),
        ("x[..., 1:3]", lambda x: x[..., 1:3]),
        ("x[[1, 0, 1, 1]]", lambda x: x[[1, 0, 1, 1]]),  # repeats: gradients add up
        ("x[tensor([2, 2, -1])]", lambda x: x[:, lib(x).tensor([2, 2, -1])]),
        ("x[[0, 1, 0], [2, 2, 2]]", lambda x: x[[0, 1, 0], [2, 2, 2]]),  # (0, 2) twice
        ("x[1:, [3, 0, 3]]", lambda x: x[1:, :, [3, 0, 3]]),
    ]
    cases = [Case(name, fn, [(2, 3, 4)]) for name, fn in ops]
    return [*cases, Case(".T", lambda x: x.T, [(3, 4)])]


def matmul_cases() -> list[Case]:
    pairs = [
        ((3, 4), (4, 5)),
        ((4,), (4,)),
        ((4,), (4, 3)),
        ((3, 4), (4,)),
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4,)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 1, 3, 4), (5, 4, 2)),
    ]
    cases = [Case(f"{sa}@{sb}", lambda a, b: a @ b, [sa, sb]) for sa, sb in pairs]
    function_form = Case("lib.matmul(a, b)", lambda a, b: lib(a).matmul(a, b), [(3, 4), (4, 2)])
    return [*cases, function_form]


OP_CASES = unary_cases() + binary_cases() + reduction_cases() + shape_cases() + matmul_cases()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", OP_CASES, ids=lambda case: case.name)
def test_op_matches_torch(case: Case, dtype: type) -> None:
    rng = np.random.default_rng(0)
    domains = case.domains or ("normal",) * len(case.shapes)
    arrays = [draw(d, s, rng).astype(dtype) for d, s in zip(domains, case.shapes, strict=True)]
    check_against_torch(case.name, case.fn, arrays)


# ---------------------------------------------------------------------------
# 2. Non-contiguous inputs
# ---------------------------------------------------------------------------


def transposed(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """An array of `shape` whose memory is laid out in the reverse order (not C-contiguous)."""
    array = rng.standard_normal(shape[::-1]).T
    assert not array.flags.c_contiguous
    return array


NON_CONTIGUOUS = [
    Case("a+b", lambda a, b: a + b, [(3, 4), (3, 4)]),
    Case("a*b", lambda a, b: a * b, [(4, 3), (2, 4, 3)]),
    Case("a@b", lambda a, b: a @ b, [(3, 4), (4, 5)]),
    Case("exp", lambda x: x.exp(), [(3, 4)]),
    Case("sum(0)", lambda x: x.sum(0), [(2, 3, 4)]),
    Case("max(-1)", lambda x: amax(x, -1), [(2, 3, 4)]),
    Case("reshape(-1)", lambda x: x.reshape(-1), [(3, 4)]),
    Case("x[[2, 0, 2]]", lambda x: x[[2, 0, 2]], [(3, 4)]),
]


@pytest.mark.parametrize("case", NON_CONTIGUOUS, ids=lambda case: case.name)
def test_non_contiguous_inputs_match_torch(case: Case) -> None:
    rng = np.random.default_rng(1)
    arrays = [transposed(shape, rng).astype(np.float32, copy=False) for shape in case.shapes]
    check_against_torch(f"{case.name} (non-contiguous)", case.fn, arrays)


# ---------------------------------------------------------------------------
# 3. Random composite expressions
# ---------------------------------------------------------------------------

# Every op keeps values finite and away from the edge of its domain, whatever its input.
UNARY = {
    "neg": lambda x: -x,
    "exp(tanh)": lambda x: x.tanh().exp(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "square": lambda x: x**2,
    "sqrt(x*x+1)": lambda x: (x * x + 1).sqrt(),  # x is used twice
    "log(sigmoid+0.5)": lambda x: (x.sigmoid() + 0.5).log(),
    "x+tanh(x)": lambda x: x + x.tanh(),  # a diamond: two paths from x to the result
    "0.5*x-1": lambda x: 0.5 * x - 1,
}
BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/(b*b+1)": lambda a, b: a / (b * b + 1),
}
REDUCTIONS = {
    "sum": lambda x, dim, keepdim: x.sum(dim=dim, keepdim=keepdim),
    "mean": lambda x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim),
    "max": amax,
}


def expressions(depth: int) -> st.SearchStrategy:
    """Expression trees of at most `depth` operations, as nested tuples: (unary, e),
    (binary, e, e) or (reduction, how, k, e), where e is a smaller tree or ("input", i).
    Inputs are picked by index, so the same input often appears several times."""
    leaf = st.tuples(st.just("input"), st.integers(0, 2))
    sub = leaf if depth == 1 else st.one_of(leaf, expressions(depth - 1))
    return st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY)), sub),
        st.tuples(st.sampled_from(sorted(BINARY)), sub, sub),
        st.tuples(
            st.sampled_from(sorted(REDUCTIONS)),
            st.sampled_from(["keepdim", "leading", "all"]),
            st.integers(-3, 2),
            sub,
        ),
    )


def evaluate(tree: tuple, inputs: list):
    """The value of `tree`, in whichever library `inputs` come from.

    Input shapes broadcast together, and every node keeps that property: reductions either
    keep the reduced axis (size 1), drop the leading axis, or reduce everything.
    """
    op = tree[0]
    if op == "input":
        return inputs[tree[1]]
    if op in UNARY:
        return UNARY[op](evaluate(tree[1], inputs))
    if op in BINARY:
        return BINARY[op](evaluate(tree[1], inputs), evaluate(tree[2], inputs))
    how, k, child = tree[1:]
    x = evaluate(child, inputs)
    if how == "all" or x.ndim == 0:
        return REDUCTIONS[op](x, None, False)
    if how == "leading":
        return REDUCTIONS[op](x, 0, False)
    dim = k if -x.ndim <= k < x.ndim else k % x.ndim
    return REDUCTIONS[op](x, dim, True)


@st.composite
def inputs_for(draw_from, count: int = 3) -> list[np.ndarray]:
    """`count` float64 arrays in [-2, 2] whose shapes broadcast together."""
    shapes = draw_from(hnp.mutually_broadcastable_shapes(num_shapes=count, max_dims=3, max_side=4))
    values = st.floats(-2, 2, allow_nan=False, allow_infinity=False)
    return [
        draw_from(hnp.arrays(np.float64, shape, elements=values)) for shape in shapes.input_shapes
    ]


@settings(max_examples=400)  # more than the profile's 60: the broadest test, and fast
@given(tree=expressions(depth=4), arrays=inputs_for(), seed=st.integers(0, 2**16))
def test_composite_expressions_match_torch(tree: tuple, arrays: list, seed: int) -> None:
    check_against_torch(f"expression {tree}", lambda *xs: evaluate(tree, xs), arrays, seed)


# ---------------------------------------------------------------------------
# 4. Gradient accumulation, no_grad and detach
# ---------------------------------------------------------------------------


def leaves(values: list[float] | np.ndarray):
    """The same float64 leaf in both libraries."""
    array = np.array(values)
    return kd.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


def test_backward_twice_accumulates_like_torch() -> None:
    kd_x, torch_x = leaves([0.5, -1.0, 2.0])
    kd_y, torch_y = (kd_x * kd_x.tanh()).sum(), (torch_x * torch_x.tanh()).sum()
    kd_y.backward()
    torch_y.backward(retain_graph=True)  # torch frees the graph after a backward by default
    once = kd_x.grad.copy()
    kd_y.backward()
    torch_y.backward()
    assert_agrees("grad after two backward calls", kd_x.grad, torch_x.grad, TOLERANCES[np.float64])
    np.testing.assert_allclose(kd_x.grad, 2 * once, rtol=1e-15)


def test_backward_of_two_losses_adds_up_like_torch() -> None:
    kd_x, torch_x = leaves([0.5, -1.0, 2.0])
    for x in (kd_x, torch_x):
        (x**2).sum().backward()
        x.exp().mean().backward()
    assert_agrees("grad of two losses", kd_x.grad, torch_x.grad, TOLERANCES[np.float64])


def test_leaf_used_several_times_like_torch() -> None:
    kd_x, torch_x = leaves([0.5, -1.0, 2.0])
    for x in (kd_x, torch_x):
        (x * x + x.exp() * x - x[0] + amax(x) / x.sum()).sum().backward()
    assert_agrees("grad of a reused leaf", kd_x.grad, torch_x.grad, TOLERANCES[np.float64])


def test_post_accumulate_grad_hooks_run_like_torchs() -> None:
    """Once per backward pass and leaf, after the addition; not after remove()."""
    kd_x, torch_x = leaves([0.5, -1.0, 2.0])
    kd_y, torch_y = leaves([1.5, 3.0, -2.0])
    seen: dict[str, list] = {"kindling": [], "torch": []}
    handles = []
    for library, pair in (("kindling", (kd_x, kd_y)), ("torch", (torch_x, torch_y))):
        for name, leaf in zip("xy", pair, strict=True):
            copy = (lambda t: t.grad.clone()) if library == "torch" else (lambda t: t.grad.copy())
            record = seen[library].append
            handle = leaf.register_post_accumulate_grad_hook(
                lambda t, name=name, copy=copy, record=record: record((name, copy(t)))
            )
            handles.append(handle)
    for x, y in ((kd_x, kd_y), (torch_x, torch_y)):
        (x * x * y).sum().backward()
        (x * 3).sum().backward()  # y takes no part: its hook does not run
    for handle in handles:
        handle.remove()
    for x in (kd_x, torch_x):
        (x * 2).sum().backward()
    mine, theirs = (
        sorted(seen["kindling"], key=lambda e: e[0]),
        sorted(seen["torch"], key=lambda e: e[0]),
    )
    assert [name for name, _ in mine] == [name for name, _ in theirs] == ["x", "x", "y"]
    for (name, kd_grad), (_, torch_grad) in zip(mine, theirs, strict=True):
        assert_agrees(f"{name}.grad seen by its hook", kd_grad, torch_grad, TOLERANCES[np.float64])
    with pytest.raises(RuntimeError, match="non-leaf"):
        (kd_x * 2).register_post_accumulate_grad_hook(print)


def test_no_grad_records_nothing_like_torch() -> None:
    kd_x, torch_x = leaves([1.0, 2.0])
    with kd.no_grad(), torch.no_grad():
        kd_y, torch_y = kd_x * 2, torch_x * 2
    assert kd_y.requires_grad is torch_y.requires_grad is False
    assert kd_y.grad_fn is None and torch_y.grad_fn is None
    assert (kd_x * 2).requires_grad is (torch_x * 2).requires_grad is True  # restored on exit


def test_detach_cuts_the_graph_like_torch() -> None:
    kd_x, torch_x = leaves([0.5, -1.0, 2.0])
    for x in (kd_x, torch_x):
        assert x.detach().requires_grad is False
        (x.detach() * x).sum().backward()  # d/dx of c * x with c held constant is c
    assert_agrees("grad through detach", kd_x.grad, torch_x.grad, TOLERANCES[np.float64])


def test_max_ties_share_the_gradient_like_amax() -> None:
    kd_x, torch_x = leaves([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    for x in (kd_x, torch_x):
        amax(x, dim=1).sum().backward()
    assert_agrees("grad of max with ties", kd_x.grad, torch_x.grad, TOLERANCES[np.float64])
    np.testing.assert_allclose(kd_x.grad, [[0, 1 / 2, 1 / 2], [1 / 3, 1 / 3, 1 / 3]])


# ---------------------------------------------------------------------------
# 5. dtype rules
# ---------------------------------------------------------------------------


def torch_dtype_as_numpy(t) -> np.dtype:
    return t.detach().numpy().dtype


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda m: m.tensor(1.5), id="Python float is float32"),
        pytest.param(lambda m: m.tensor([1, 2]), id="Python ints are int64"),
        pytest.param(lambda m: m.tensor(True), id="Python bool is bool"),
        pytest.param(lambda m: m.tensor(np.array([1.0, 2.0])), id="float64 array stays"),
        pytest.param(lambda m: m.tensor(np.ones(2, np.float32)), id="float32 array stays"),
        pytest.param(lambda m: m.tensor([1.5, 2.5]) * 2.5, id="float32 * float stays"),
        pytest.param(lambda m: 2 * m.tensor([1.5]) + 1, id="float32 with ints stays"),
        pytest.param(lambda m: m.tensor(np.ones(2)) / 3.0, id="float64 / float stays"),
        pytest.param(lambda m: m.tensor([1.5]).exp().mean(), id="float32 through ops"),
        pytest.param(lambda m: m.zeros(2, 3), id="zeros is float32"),
        pytest.param(lambda m: m.arange(5), id="arange of ints is int64"),
        pytest.param(lambda m: m.arange(0, 1, 0.25), id="arange of floats is float32"),
        pytest.param(lambda m: m.tensor([1.0]) < 2, id="comparison is bool"),
    ],
)
def test_dtype_rules_match_torch(make: Callable) -> None:
    """`make(m)` builds a tensor with module `m`: kindling and torch must agree on it."""
    got, expected = make(kd), make(torch)
    assert got.dtype == torch_dtype_as_numpy(expected)
    assert got.shape == tuple(expected.shape)
    np.testing.assert_array_equal(got.data, expected.numpy())


# ---------------------------------------------------------------------------
# 6. Comparisons, factories and gradcheck
# ---------------------------------------------------------------------------

COMPARISONS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@pytest.mark.parametrize("op", COMPARISONS)
def test_comparisons_match_torch_and_carry_no_gradient(op: str) -> None:
    rng = np.random.default_rng(2)
    a, b = draw("ties", (3, 4), rng), draw("ties", (4,), rng)
    compare = COMPARISONS[op]

    def results(module) -> list:  # against a broadcast tensor, then a Python number
        x = module.tensor(a, requires_grad=True)
        return [compare(x, module.tensor(b)), compare(x, 0.0)]

    for got, expected in zip(results(kd), results(torch), strict=True):
        assert got.requires_grad is expected.requires_grad is False
        assert got.dtype == np.bool_ and expected.dtype == torch.bool
        np.testing.assert_array_equal(got.data, expected.numpy(), err_msg=op)


def test_factories_match_torch() -> None:
    for make in (lambda m: m.zeros(2, 3), lambda m: m.ones((2, 3))):
        np.testing.assert_array_equal(make(kd).data, make(torch).numpy())
    np.testing.assert_array_equal(kd.arange(1, 4, 0.5).data, torch.arange(1, 4, 0.5).numpy())
    for name in ("rand", "randn"):  # different generators: compare shape, dtype, seeding
        kd.manual_seed(7)
        first = getattr(kd, name)(2, 3)
        kd.manual_seed(7)
        again = getattr(kd, name)(2, 3)
        expected = getattr(torch, name)(2, 3)
        assert first.shape == tuple(expected.shape)
        assert first.dtype == torch_dtype_as_numpy(expected)
        np.testing.assert_array_equal(first.data, again.data)
    x = kd.zeros(2, requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad is None


def test_gradcheck_agrees_with_torch() -> None:
    """Both accept a correct function and reject one whose backward forgets a factor 2."""

    class KdBadSquare(kd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.saved_tensors[0]  # should be 2 * a

    class TorchBadSquare(torch.autograd.Function):
        forward = KdBadSquare.forward
        backward = KdBadSquare.backward

    def good(x, y):
        return (x * y.sigmoid()).sum(1) / (y * y + 1).sqrt().mean()

    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))]
    assert kd.gradcheck(good, [kd.tensor(a, requires_grad=True) for a in arrays])
    assert torch.autograd.gradcheck(good, [torch.tensor(a, requires_grad=True) for a in arrays])
    kd_x, torch_x = leaves(arrays[0])
    with pytest.raises(kd.GradcheckError):
        kd.gradcheck(KdBadSquare.apply, [kd_x])
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):  # torch's GradcheckError
        torch.autograd.gradcheck(TorchBadSquare.apply, [torch_x])
