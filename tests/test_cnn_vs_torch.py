"""The chapter 05 answer key agrees with PyTorch: convolution, pooling, the kernels, a ConvNet.

1. conv2d's value and the gradients of x, weight and bias against
   `torch.nn.functional.conv2d`, over a grid of odd and non-square images, kernels 1 to 5,
   strides 1 to 3 and paddings 0 to 2, with and without bias, in float32 and float64;
2. max_pool2d's value and gradient against torch's, with overlapping windows, padding,
   and ties (torch routes a tied window's gradient to its first maximum; so must we);
3. `kernels.matmul` against NumPy, `kernels.im2col` against `torch.nn.functional.unfold`
   and `kernels.col2im` against `fold`;
4. the seed's ConvNet: from identical weights, the loss and every parameter's gradient
   against a torch model of the same architecture, then two steps of SGD with momentum
   (solutions.optim.SGD against torch.optim.SGD) and the updated weights;
5. the error messages of conv2d and max_pool2d against torch's.

A difference here is a bug in the answer key (or a documented departure from torch).
"""

from __future__ import annotations

import numpy as np
import pytest

import solutions.autograd as kd
import solutions.cnn as cnn
import solutions.functional as F
import solutions.kernels as kernels
import solutions.optim as optim

torch = pytest.importorskip(
    "torch", reason="PyTorch is the oracle for these cross-checks: pip install -e '.[torch]'"
)
TF = torch.nn.functional

TOLERANCE = {np.float32: {"rtol": 1e-4, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-12}}
DTYPES = [np.float32, np.float64]


def rand(shape, seed, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def close(got: np.ndarray, want, what: str, dtype, scaled: bool = False) -> None:
    """Equal to float tolerance; `scaled` measures the absolute part against the largest
    value (gradients of a whole network are small: 1e-5 would hide a wrong one)."""
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, torch {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, torch {want.dtype}"
    tolerance = dict(TOLERANCE[dtype])
    if scaled:
        tolerance["atol"] = tolerance["rtol"] * float(np.abs(want).max())
    np.testing.assert_allclose(got, want, err_msg=what, **tolerance)


# (N, C, H, W, F, kernel_h, kernel_w, stride, padding)
CONV_GRID = [
    (1, 1, 5, 5, 1, 3, 3, 1, 0),
    (2, 3, 7, 9, 4, 3, 3, 1, 1),
    (2, 2, 8, 6, 3, 2, 2, 2, 0),
    (1, 3, 9, 11, 2, 5, 5, 3, 2),
    (3, 2, 6, 7, 5, 1, 1, 1, 0),
    (2, 4, 5, 8, 3, 3, 5, 2, 1),
    (1, 2, 4, 4, 2, 4, 4, 1, 0),
    (2, 3, 10, 10, 4, 3, 3, 3, 2),
    (1, 1, 3, 3, 2, 5, 5, 1, 1),
    (2, 1, 13, 5, 3, 4, 2, 2, 2),
]
CONV_IDS = ["N{}C{}H{}W{}F{}k{}x{}s{}p{}".format(*case) for case in CONV_GRID]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("case", CONV_GRID, ids=CONV_IDS)
def test_conv2d(case, bias, dtype):
    n, c, h, w, filters, kh, kw, stride, padding = case
    seed = CONV_GRID.index(case)
    arrays = [rand((n, c, h, w), seed, dtype), rand((filters, c, kh, kw), seed + 1, dtype)]
    if bias:
        arrays.append(rand((filters,), seed + 2, dtype))
    ours = [kd.Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = cnn.conv2d(*ours[:2], ours[2] if bias else None, stride, padding)
    want = TF.conv2d(*theirs[:2], theirs[2] if bias else None, stride=stride, padding=padding)
    what = f"conv2d {CONV_IDS[CONV_GRID.index(case)]} {np.dtype(dtype).name}"
    close(out.data, want, f"{what}: value", dtype)
    g = rand(want.shape, seed + 3, dtype)
    out.backward(g)
    want.backward(torch.tensor(g))
    for name, mine, reference in zip(("x", "weight", "bias"), ours, theirs, strict=False):
        close(mine.grad, reference.grad, f"{what}: gradient of {name}", dtype)


# (N, C, H, W, kernel, stride, padding)
POOL_GRID = [
    (1, 1, 4, 4, 2, 2, 0),
    (2, 3, 7, 9, 2, 2, 0),
    (2, 2, 7, 7, 3, 2, 1),
    (1, 2, 6, 5, 3, 1, 0),
    (2, 1, 9, 8, 3, 3, 1),
    (1, 3, 5, 6, 2, 1, 1),
    (3, 2, 8, 8, 2, 3, 0),
]
POOL_IDS = ["N{}C{}H{}W{}k{}s{}p{}".format(*case) for case in POOL_GRID]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("values", ["random", "ties", "negative", "minus-infinity"])
@pytest.mark.parametrize("case", POOL_GRID, ids=POOL_IDS)
def test_max_pool2d(case, values, dtype):
    kernel, stride, padding = case[4:]
    seed = 100 + POOL_GRID.index(case)
    if values == "ties":  # small integers: most windows hold their maximum more than once
        x = np.random.default_rng(seed).integers(0, 3, case[:4]).astype(dtype)
    else:
        x = rand(case[:4], seed, dtype)
        x = -np.abs(x) - 1 if values == "negative" else x  # the padding must never win
        if values == "minus-infinity":  # windows of -inf only: torch routes to the first pixel
            x = np.where(np.random.default_rng(seed).random(x.shape) < 0.8, -np.inf, x)
            x = x.astype(dtype)
    ours = kd.Tensor(x.copy(), requires_grad=True)
    theirs = torch.tensor(x.copy(), requires_grad=True)
    out = cnn.max_pool2d(ours, kernel, stride, padding)
    want = TF.max_pool2d(theirs, kernel, stride, padding)
    what = f"max_pool2d {POOL_IDS[POOL_GRID.index(case)]} ({values}, {np.dtype(dtype).name})"
    close(out.data, want, f"{what}: value", dtype)
    g = rand(want.shape, seed + 1, dtype)
    out.backward(g)
    want.backward(torch.tensor(g))
    close(ours.grad, theirs.grad, f"{what}: gradient of x", dtype)


def test_max_pool2d_default_stride_is_the_kernel():
    x = rand((2, 3, 9, 7), 7)
    close(
        cnn.MaxPool2d(3)(kd.Tensor(x)).data,
        torch.nn.MaxPool2d(3)(torch.tensor(x)),
        "MaxPool2d(3)",
        np.float32,
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize(
    "shape", [(1, 1, 1), (7, 5, 3), (33, 17, 29), (65, 10, 97), (5, 513, 7), (64, 3136, 128)]
)
def test_matmul_against_numpy(shape, dtype):
    m, k, n = shape
    a, b = rand((m, k), sum(shape), dtype), rand((k, n), sum(shape) + 1, dtype)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    bound = 8 * np.finfo(dtype).eps * np.sqrt(k) * scale  # met by any order of summation
    for got, what in (
        (kernels.matmul(a, b), "a @ b"),
        (kernels.matmul(b.T, a.T).T, "(b.T @ a.T).T"),
    ):
        assert got.dtype == dtype, f"{what}: dtype {got.dtype}"
        error = np.abs(got - exact)
        assert np.all(error <= bound), f"{what} {shape}: max error {error.max():.3g} vs exact"
        error = np.abs(got - a @ b)  # NumPy's BLAS, rounded its own way: twice the bound
        assert np.all(error <= 2 * bound), f"{what} {shape}: max error {error.max():.3g} vs NumPy"


KERNEL_GRID = [CONV_GRID[i] for i in (0, 1, 3, 5, 7, 8, 9)]


@pytest.mark.parametrize(
    "case", KERNEL_GRID, ids=[CONV_IDS[CONV_GRID.index(c)] for c in KERNEL_GRID]
)
def test_im2col_and_col2im_against_unfold_and_fold(case):
    n, c, h, w, _, kh, kw, stride, padding = case
    x = rand((n, c, h, w), 200 + KERNEL_GRID.index(case))
    geometry = {"kernel_size": (kh, kw), "stride": stride, "padding": padding}
    unfolded = TF.unfold(torch.tensor(x), **geometry)  # (N, C*kh*kw, L)
    want = unfolded.transpose(1, 2).reshape(-1, c * kh * kw)
    close(kernels.im2col(x, kh, kw, stride, padding), want, "kernels.im2col vs unfold", np.float32)
    close(cnn.im2col(x, kh, kw, stride, padding), want, "cnn.im2col vs unfold", np.float32)
    cols = rand(want.shape, 300 + KERNEL_GRID.index(case))
    blocks = torch.tensor(cols).reshape(n, -1, c * kh * kw).transpose(1, 2)
    folded = TF.fold(blocks, output_size=(h, w), **geometry)
    got = kernels.col2im(cols, n, c, h, w, kh, kw, stride, padding)
    close(got, folded, "kernels.col2im vs fold", np.float32)
    close(cnn.col2im(cols, (n, c, h, w), kh, kw, stride, padding), folded, "cnn.col2im", np.float32)


class TorchConvNet(torch.nn.Module):
    """The seed's model, written in torch, with the flatten size fixed to 64 * 7 * 7."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = torch.nn.Linear(64 * 7 * 7, 128)
        self.fc2 = torch.nn.Linear(128, 10)

    def forward(self, x):
        x = TF.max_pool2d(TF.relu(self.conv1(x)), 2, 2)
        x = TF.max_pool2d(TF.relu(self.conv2(x)), 2, 2)
        x = x.view(-1, 64 * 7 * 7)
        return self.fc2(TF.relu(self.fc1(x)))


def test_convnet_training_steps_match_torch():
    kd.manual_seed(0)
    model, reference = cnn.ConvNet(), TorchConvNet()
    ours = dict(model.named_parameters())
    theirs = dict(reference.named_parameters())
    assert {k: v.shape for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}
    with torch.no_grad():
        for name, parameter in ours.items():
            theirs[name].copy_(torch.tensor(parameter.data))
    rng = np.random.default_rng(1)
    images = rng.random((8, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 8)
    ours_sgd = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch_sgd = torch.optim.SGD(reference.parameters(), lr=0.01, momentum=0.9)
    for step in (1, 2):  # the second step also exercises the momentum buffer
        ours_sgd.zero_grad()
        torch_sgd.zero_grad()
        loss = F.cross_entropy(model(kd.Tensor(images)), labels)
        want = TF.cross_entropy(reference(torch.tensor(images)), torch.tensor(labels))
        loss.backward()
        want.backward()
        close(loss.data, want, f"step {step}: loss", np.float32)
        for name, parameter in ours.items():
            what = f"step {step}: gradient of {name}"
            close(parameter.grad, theirs[name].grad, what, np.float32, scaled=True)
        ours_sgd.step()
        torch_sgd.step()
        for name, parameter in ours.items():
            close(parameter.data, theirs[name], f"{name} after step {step}", np.float32)


def torch_error(call) -> str:
    with pytest.raises(RuntimeError) as error:
        call()
    return str(error.value)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "padding"),
    [
        ((2, 3, 8, 8), (4, 1, 3, 3), 0),
        ((1, 1, 3, 3), (3, 1, 6, 6), 1),
        ((1, 2, 6, 2), (3, 2, 3, 3), 0),
    ],
    ids=["channel mismatch", "kernel larger than padded input", "kernel wider than input"],
)
def test_conv2d_errors_read_like_torch(x_shape, w_shape, padding):
    x, w = np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32)
    with pytest.raises(ValueError) as ours:
        cnn.conv2d(kd.Tensor(x), kd.Tensor(w), None, 1, padding)
    theirs = torch_error(lambda: TF.conv2d(torch.tensor(x), torch.tensor(w), padding=padding))
    assert str(ours.value) == theirs


def test_max_pool2d_padding_error_reads_like_torch():
    x = np.zeros((1, 1, 8, 8), np.float32)
    with pytest.raises(ValueError) as ours:
        cnn.max_pool2d(kd.Tensor(x), 3, 1, 2)
    theirs = torch_error(lambda: TF.max_pool2d(torch.tensor(x), 3, 1, 2))
    assert theirs.startswith(str(ours.value)), (str(ours.value), theirs)
