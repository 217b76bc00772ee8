"""The answer key for chapter 02 agrees with PyTorch: layers, activations, softmax, losses
(values and every input's gradient), initialisation scales, and the Module API's names.

Skipped where PyTorch is not installed (`pip install -e ".[torch]"`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import solutions.autograd as kd
import solutions.functional as F
import solutions.init as init
import solutions.nn as nn

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install -e '.[torch]'")
TF = torch.nn.functional

TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-10, "atol": 1e-12}}


def close(got: np.ndarray, want, what: str, dtype) -> None:
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, torch {want.shape}"
    np.testing.assert_allclose(got, want, err_msg=what, **TOLERANCE[dtype])


def pair(array: np.ndarray, requires_grad: bool = True):
    return kd.Tensor(array.copy(), requires_grad=requires_grad), torch.tensor(
        array.copy(), requires_grad=requires_grad
    )


def run_both(kd_fn, torch_fn, arrays: list[np.ndarray], dtype, what: str) -> None:
    """Same inputs and upstream gradient to both; compare the value and each input's gradient."""
    pairs = [pair(a) for a in arrays]
    out = kd_fn(*[k for k, _ in pairs])
    want = torch_fn(*[t for _, t in pairs])
    close(out.data, want, f"{what}: value", dtype)
    g = np.random.default_rng(9).standard_normal(want.shape).astype(dtype)
    out.backward(g if out.ndim else None)
    want.backward(torch.tensor(g) if want.ndim else None)
    for i, (k, t) in enumerate(pairs):
        close(k.grad, t.grad, f"{what}: gradient of input {i}", dtype)


DTYPES = [np.float32, np.float64]


def rand(shape, seed, dtype, scale=1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("x_shape", "bias"), [((5, 4), True), ((2, 3, 4), True), ((4,), False)])
def test_linear(dtype, x_shape, bias):
    w, b = rand((3, 4), 1, dtype), rand((3,), 2, dtype)
    layer = nn.Linear(4, 3, bias=bias)
    layer.weight = nn.Parameter(w.copy())
    layer.bias = nn.Parameter(b.copy()) if bias else None
    reference = torch.nn.Linear(
        4, 3, bias=bias, dtype=torch.float64 if dtype == np.float64 else torch.float32
    )
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(w))
        if bias:
            reference.bias.copy_(torch.tensor(b))
    run_both(layer, reference, [rand(x_shape, 3, dtype)], dtype, f"Linear(4, 3, bias={bias})")
    close(layer.weight.grad, reference.weight.grad, "Linear weight gradient", dtype)
    if bias:
        close(layer.bias.grad, reference.bias.grad, "Linear bias gradient", dtype)


ACTIVATIONS = [
    ("ReLU", nn.ReLU(), torch.nn.ReLU()),
    ("Sigmoid", nn.Sigmoid(), torch.nn.Sigmoid()),
    ("Tanh", nn.Tanh(), torch.nn.Tanh()),
    ("Identity", nn.Identity(), torch.nn.Identity()),
    ("Flatten()", nn.Flatten(), torch.nn.Flatten()),
    ("Flatten(0, 2)", nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("name", "layer", "reference"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS]
)
def test_simple_layers(name, layer, reference, dtype):
    run_both(layer, reference, [rand((2, 3, 4, 5), 4, dtype, scale=3)], dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(name, dim, dtype):
    run_both(lambda x: getattr(F, name)(x, dim), lambda x: getattr(TF, name)(x, dim),
             [rand((3, 4, 5), 5, dtype, scale=4)], dtype, f"{name}(dim={dim})")  # fmt: skip


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_extreme_logits(name):
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [88.7, 89.0, 50.0]], np.float32)
    out = getattr(F, name)(kd.Tensor(logits), 1).data
    assert np.all(np.isfinite(out)), out
    close(out, getattr(TF, name)(torch.tensor(logits), 1), f"{name} of extreme logits", np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_and_nll(dtype, reduction, weighted):
    target = np.array([2, 0, 4, 4, 1, 3, 0])
    weight = np.linspace(0.2, 2.0, 5).astype(dtype) if weighted else None
    kd_weight = kd.Tensor(weight) if weighted else None
    torch_weight = torch.tensor(weight) if weighted else None
    logits = rand((7, 5), 6, dtype, scale=3)
    run_both(lambda x: F.cross_entropy(x, target, weight=kd_weight, reduction=reduction),
             lambda x: TF.cross_entropy(x, torch.tensor(target), weight=torch_weight, reduction=reduction),
             [logits], dtype, f"cross_entropy(reduction={reduction}, weighted={weighted})")  # fmt: skip
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    run_both(lambda x: F.nll_loss(x, target, weight=kd_weight, reduction=reduction),
             lambda x: TF.nll_loss(x, torch.tensor(target), weight=torch_weight, reduction=reduction),
             [log_probs], dtype, f"nll_loss(reduction={reduction}, weighted={weighted})")  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(dtype, reduction):
    run_both(lambda a, b: F.mse_loss(a, b, reduction=reduction),
             lambda a, b: TF.mse_loss(a, b, reduction=reduction),
             [rand((4, 3), 7, dtype), rand((4, 3), 8, dtype)], dtype, f"mse_loss({reduction})")  # fmt: skip
    criterion = nn.MSELoss(reduction=reduction)
    run_both(criterion, torch.nn.MSELoss(reduction=reduction),
             [rand((6,), 9, dtype), rand((6,), 10, dtype)], dtype, "MSELoss module")  # fmt: skip


def test_cross_entropy_module_matches():
    target = np.array([1, 0, 2])
    run_both(lambda x: nn.CrossEntropyLoss()(x, target),
             lambda x: torch.nn.CrossEntropyLoss()(x, torch.tensor(target)),
             [rand((3, 3), 11, np.float32)], np.float32, "CrossEntropyLoss module")  # fmt: skip


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics_and_eval(p):
    kd.manual_seed(0)
    x = np.ones((400, 500), np.float32)
    out = F.dropout(kd.Tensor(x), p).data
    kept = out != 0
    assert abs(1 - kept.mean() - p) < 0.01, f"dropped fraction {1 - kept.mean():.3f}, p = {p}"
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)  # torch's inverted scaling
    layer = nn.Dropout(p).eval()
    tensor = kd.Tensor(x)
    assert layer(tensor) is tensor


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (16, 1, 3)])
def test_fans_and_gains_match_torch(shape):
    fans = init.fan_in_and_fan_out(kd.Tensor(np.zeros(shape, np.float32)))
    assert fans == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    for name, param in [
        ("relu", None),
        ("tanh", None),
        ("sigmoid", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", None),
    ]:
        assert math.isclose(
            init.calculate_gain(name, param), torch.nn.init.calculate_gain(name, param)
        )


SCHEMES = [
    ("xavier_uniform_", {"gain": 1.5}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "relu"}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}),
]


@pytest.mark.parametrize(("name", "options"), SCHEMES)
def test_init_scales_match_torch(name, options):
    """Different generators, same distribution: compare spreads and bounds of large samples."""
    shape = (512, 256, 3, 3)
    kd.manual_seed(1)
    ours = getattr(init, name)(kd.Tensor(np.zeros(shape, np.float32)), **options).data
    torch.manual_seed(1)
    theirs = getattr(torch.nn.init, name)(torch.zeros(shape), **options).numpy()
    assert math.isclose(ours.std(), theirs.std(), rel_tol=0.01), (ours.std(), theirs.std())
    assert math.isclose(
        np.abs(ours).max(), np.abs(theirs).max(), rel_tol=0.02 if "uniform" in name else 0.3
    )


def test_linear_default_init_range_matches_torch():
    kd.manual_seed(2)
    layer = nn.Linear(300, 200)
    bound = 1 / math.sqrt(300)  # torch: kaiming_uniform_(a=sqrt(5)) and the same bound for bias
    for parameter in (layer.weight, layer.bias):
        assert np.abs(parameter.data).max() <= bound
        assert np.abs(parameter.data).max() > 0.95 * bound
    assert math.isclose(layer.weight.data.std(), bound / math.sqrt(3), rel_tol=0.02)


def build(library):
    """The same model in kindling and torch: nesting, containers, a buffer, a bias-free layer."""

    class Net(library.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = library.Sequential(
                library.Linear(4, 8), library.ReLU(), library.Linear(8, 8, bias=False)
            )
            self.heads = library.ModuleDict(
                {"digit": library.Linear(8, 10), "angle": library.Linear(8, 1)}
            )
            self.blocks = library.ModuleList([library.Linear(8, 8) for _ in range(2)])
            zeros = kd.zeros(3) if library is nn else torch.zeros(3)
            self.register_buffer("running", zeros)

    return Net()


def test_module_names_and_state_dict_keys_match_torch():
    ours, theirs = build(nn), build(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert repr(ours.encoder) == repr(theirs.encoder)


def test_state_dict_moves_weights_between_the_libraries():
    ours, theirs = build(nn), build(torch.nn)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = rand((5, 4), 12, np.float32)
    np.testing.assert_allclose(
        ours.heads["digit"](ours.encoder(kd.Tensor(x))).data,
        theirs.heads["digit"](theirs.encoder(torch.tensor(x))).detach().numpy(),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip


def test_load_state_dict_error_names_the_same_keys_as_torch():
    ours, theirs = build(nn), build(torch.nn)
    state = {k: v.numpy() for k, v in theirs.state_dict().items()}
    del state["heads.angle.bias"]
    state["extra.weight"] = np.zeros(2, np.float32)
    with pytest.raises(RuntimeError) as ours_error:
        ours.load_state_dict(state)
    with pytest.raises(RuntimeError) as torch_error:
        theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    for line in ('Missing key(s) in state_dict: "heads.angle.bias".',
                 'Unexpected key(s) in state_dict: "extra.weight".'):  # fmt: skip
        assert line in str(ours_error.value) and line in str(torch_error.value)


def test_any_tensor_can_require_grad_not_only_parameters():
    """The seed's FAQ calls non-parameter tensors read-only; in torch and here they are not."""
    x = kd.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    (tx * tx).sum().backward()
    close(x.grad, tx.grad, "gradient of a plain tensor", np.float32)
    assert not isinstance(x, nn.Parameter) and isinstance(nn.Parameter(x), kd.Tensor)
