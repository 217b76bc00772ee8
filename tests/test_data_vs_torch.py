"""The answer key for chapter 04 agrees with `torch.utils.data` and torchvision's transforms.

Given the same datasets and the same sampler order, kindling and torch produce:

- the same batches from a DataLoader (values, shapes, and dtypes: NumPy's dtype maps to
  torch's, Python ints to int64, Python floats to float64), with and without
  drop_last, over a TensorDataset and over a plain dataset of tuples, for a
  SequentialSampler, a fixed list of indices and a seeded RandomSampler's order;
  and the same `len(loader)`;
- the same index batches from BatchSampler;
- the same default_collate of nested structures (dicts of tuples, tuples of arrays,
  ints, floats, bools, NumPy scalars, strings): same structure (tuples become lists),
  same values and dtypes;
- the same random_split lengths from fractions (counts only: the generators differ),
  and the same refusal of fractions outside [0, 1];
- the same ConcatDataset indexing, empty parts included;
- ToTensor and Normalize values equal torchvision's formulas, written here with torch
  ops (torchvision itself is not installed): `from_numpy(img).permute(2, 0, 1).float()
  .div(255)` for (H, W, C) uint8, unsqueeze(0) for (H, W); `(t - mean[:, None, None]) /
  std[:, None, None]`.

Skipped where PyTorch is not installed (`pip install -e ".[torch]"`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import solutions.autograd as kd
import solutions.data as data
import solutions.transforms as transforms

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install -e '.[torch]'")
tdata = torch.utils.data


def torch_dtype(dtype: np.dtype):
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def assert_same(got, want, where: str = "batch") -> None:
    """kindling's (Tensors, lists, dicts, strings) equals torch's (tensors, lists, dicts, strings)."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, kd.Tensor), f"{where}: {type(got).__name__}, torch has a tensor"
        assert got.shape == tuple(want.shape), f"{where}: shape {got.shape}, torch {want.shape}"
        assert torch_dtype(got.dtype) == want.dtype, (
            f"{where}: dtype {got.dtype}, torch {want.dtype}"
        )
        np.testing.assert_array_equal(got.data, want.numpy(), err_msg=where)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{where}: keys {list(got)}"
        for key in want:
            assert_same(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want), f"{where}: {type(got).__name__}, torch {type(want)}"
        assert len(got) == len(want), f"{where}: {len(got)} fields, torch {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r}, torch {want!r}"


class Examples:
    """A plain map-style dataset (no base class: both libraries accept any such object).

    Example i is (features: float32 array (3,), label: int, weight: float, flag: bool).
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.features = rng.standard_normal((n, 3)).astype(np.float32)
        self.labels = rng.integers(0, 10, n).tolist()
        self.weights = rng.random(n).tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.features[i], self.labels[i], self.weights[i], i % 3 == 0


N = 13
rng = np.random.default_rng(1)
X, Y = rng.standard_normal((N, 2, 3)), rng.integers(0, 5, N)


def paired_datasets(kind: str):
    if kind == "TensorDataset":
        return data.TensorDataset(X, Y), tdata.TensorDataset(
            torch.from_numpy(X), torch.from_numpy(Y)
        )
    examples = Examples(N)
    return examples, examples


def paired_samplers(order: str, kd_dataset, torch_dataset):
    if order == "sequential":
        return data.SequentialSampler(kd_dataset), tdata.SequentialSampler(torch_dataset)
    if order == "list":
        indices = [7, 2, 2, 12, 0, 5, 11, 3, 9, 1]
        return indices, indices
    if order == "seeded random":  # kindling's first epoch, handed to torch as a list
        indices = list(data.RandomSampler(kd_dataset, np.random.default_rng(5)))
        return data.RandomSampler(kd_dataset, np.random.default_rng(5)), indices
    raise AssertionError(order)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [1, 4, 5, 13, 20])
@pytest.mark.parametrize("order", ["sequential", "list", "seeded random"])
@pytest.mark.parametrize("kind", ["TensorDataset", "plain"])
def test_loader_batches_match_torch(kind, order, batch_size, drop_last):
    kd_dataset, torch_dataset = paired_datasets(kind)
    kd_sampler, torch_sampler = paired_samplers(order, kd_dataset, torch_dataset)
    ours = data.DataLoader(
        kd_dataset, batch_size=batch_size, sampler=kd_sampler, drop_last=drop_last
    )
    theirs = tdata.DataLoader(
        torch_dataset, batch_size=batch_size, sampler=torch_sampler, drop_last=drop_last
    )
    assert len(ours) == len(theirs), f"len(loader) {len(ours)}, torch {len(theirs)}"
    got, want = list(ours), list(theirs)
    assert len(got) == len(want), f"{len(got)} batches, torch {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert_same(g, w, f"batch {i}")


def test_a_plain_datasets_fields_get_torchs_dtypes():
    (features, labels, weights, flags), *_ = data.DataLoader(Examples(N), batch_size=4)
    assert (features.dtype, labels.dtype, weights.dtype, flags.dtype) == (
        np.float32,
        np.int64,
        np.float64,
        np.bool_,
    )


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [1, 3, 7, 10, 11])
@pytest.mark.parametrize(
    "sampler", [range(10), [4, 4, 1, 0, 9, 3, 3], [], data.SequentialSampler(list("abcdefghij"))]
)
def test_batch_sampler_matches_torch(sampler, batch_size, drop_last):
    ours = data.BatchSampler(sampler, batch_size, drop_last)
    theirs = tdata.BatchSampler(sampler, batch_size, drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


def collate_cases():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    return {
        "ints": [1, 2, 3],
        "floats": [0.5, 1.5, -2.25],
        "bools": [True, False, True],
        "numpy scalars": [np.float32(1.5), np.float32(-2.0)],
        "numpy int32 scalars": [np.int32(3), np.int32(4)],
        "strings": ["a", "bb", "c"],
        "arrays": arrays,
        "uint8 arrays": [np.arange(4, dtype=np.uint8).reshape(2, 2) + i for i in range(3)],
        "tuples of arrays, ints, floats, bools": [
            (arrays[i], i, i / 2, i % 2 == 0) for i in range(3)
        ],
        "dict of tuples": [
            {"image": arrays[i], "target": (i, float(i) + 0.25), "name": f"n{i}"} for i in range(3)
        ],
        "lists nested in dicts in tuples": [
            ({"a": [i, i + 1], "b": {"c": np.int64(i), "d": True}}, arrays[i]) for i in range(3)
        ],
    }


@pytest.mark.parametrize(("case", "batch"), list(collate_cases().items()))
def test_default_collate_matches_torch(case, batch):
    assert_same(data.default_collate(batch), tdata.default_collate(batch), case)


@pytest.mark.parametrize("n", [3, 7, 10, 101])
@pytest.mark.parametrize(
    "fractions",
    [[0.5, 0.5], [0.3, 0.3, 0.4], [0.1] * 10, [0.25, 0.75], [1 / 3] * 3, [0.0, 1.0], [0.9, 0.1]],
)
def test_random_split_lengths_from_fractions_match_torch(n, fractions):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about empty splits
        theirs = [len(s) for s in tdata.random_split(range(n), fractions)]
    ours = [len(s) for s in data.random_split(list(range(n)), fractions)]
    assert ours == theirs, f"random_split({n} items, {fractions}): {ours}, torch {theirs}"


@pytest.mark.parametrize("lengths", [[3, 7], [10], [0, 10], [5, 5, 0]])
def test_random_split_counts_match_torch(lengths):
    theirs = [len(s) for s in tdata.random_split(range(10), lengths)]
    assert [len(s) for s in data.random_split(list(range(10)), lengths)] == theirs


@pytest.mark.parametrize("lengths", [[3, 8], [0.5, 0.4], [1.5, -0.5], [1.2, -0.1, -0.1]])
def test_random_split_refuses_what_torch_refuses(lengths):
    with pytest.raises(ValueError):
        tdata.random_split(range(10), lengths)
    with pytest.raises(ValueError):
        splits = data.random_split(list(range(10)), lengths)
        pytest.fail(f"random_split(10 items, {lengths}) gave lengths {[len(s) for s in splits]}")


@pytest.mark.parametrize(
    "sizes", [[3], [3, 5], [3, 0, 5, 1], [0, 4], [2, 0, 0, 2], [1, 1, 1, 1, 1]]
)
def test_concat_dataset_indexing_matches_torch(sizes):
    parts, start = [], 0
    for size in sizes:
        parts.append([f"item {start + i}" for i in range(size)])
        start += size
    ours, theirs = data.ConcatDataset(parts), tdata.ConcatDataset(parts)
    assert len(ours) == len(theirs) == sum(sizes)
    assert [int(c) for c in ours.cumulative_sizes] == theirs.cumulative_sizes
    for i in range(-len(theirs), len(theirs)):
        assert ours[i] == theirs[i], f"index {i}: {ours[i]!r}, torch {theirs[i]!r}"
    for i in (len(theirs), -len(theirs) - 1):
        with pytest.raises(IndexError):
            ours[i]


def torch_to_tensor(image: np.ndarray):
    """torchvision's ToTensor for a uint8 ndarray, in torch ops."""
    t = torch.from_numpy(image)
    t = t.unsqueeze(0) if image.ndim == 2 else t.permute(2, 0, 1)
    return t.float().div(255)


def torch_normalize(t, mean, std):
    mean, std = torch.tensor(mean, dtype=t.dtype), torch.tensor(std, dtype=t.dtype)
    return (t - mean[:, None, None]) / std[:, None, None]


IMAGE_SHAPES = [(28, 28), (5, 7), (5, 7, 1), (6, 4, 3), (32, 32, 3)]


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_to_tensor_equals_torchvisions_formula(shape):
    image = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    image.flat[:2] = (0, 255)
    got, want = transforms.ToTensor()(image), torch_to_tensor(image)
    assert isinstance(got, kd.Tensor) and got.dtype == np.float32
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.data, want.numpy())


@pytest.mark.parametrize(
    ("channels", "mean", "std"),
    [
        (1, (0.1307,), (0.3081,)),
        (3, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        (3, (0.5,), (0.25,)),  # one mean and std for every channel
    ],
)
def test_normalize_equals_torchvisions_formula(channels, mean, std):
    image = np.random.default_rng(4).random((channels, 6, 5), dtype=np.float32)
    got = transforms.Normalize(mean, std)(kd.Tensor(image))
    want = torch_normalize(torch.from_numpy(image), mean, std)
    assert got.dtype == np.float32 and got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.data, want.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_the_seed_pipeline_equals_torchvisions(shape):
    channels = 1 if len(shape) == 2 else shape[2]
    mean, std = (0.1307,) * channels, (0.3081,) * channels
    image = np.random.default_rng(5).integers(0, 256, shape, dtype=np.uint8)
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    want = torch_normalize(torch_to_tensor(image), mean, std)
    np.testing.assert_allclose(pipeline(image).data, want.numpy(), rtol=1e-6, atol=1e-6)
