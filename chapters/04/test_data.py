"""Graders for chapter 04 (data). Run them with: pytest chapters/04

Each test gives the same inputs to your `kindling.data`, `kindling.transforms`
and `kindling.datasets` and to the answer key's, and compares what comes out:
the examples of a dataset, the indices of a sampler or a split, the structure,
dtype and values of a collated batch, the window a crop took, the array in an
IDX file. Random choices come from NumPy generators with fixed seeds (passed
in, or the library's own generator seeded in both), so a failure reproduces.

Exercise 4.4 is graded with the answer key's samplers and default_collate in
place of yours, so the DataLoader does not need 4.2 and 4.3 to be finished.
IDX files are written by these tests into a temporary folder, and downloads
come from a small HTTP server on 127.0.0.1 that the tests start: nothing
here needs the network.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kindling.autograd as my_autograd
import kindling.data as my_data
import kindling.datasets as my_ds
import kindling.transforms as my_T
import solutions.autograd as ref_autograd
import solutions.data as ref_data
import solutions.datasets as ref_ds
import solutions.transforms as ref_T
from grading.check import (
    assert_same_array,
    describe,
    expect_error,
    expect_message_naming,
    fail,
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

TENSORS = (my_autograd.Tensor, ref_autograd.Tensor)


def seed_both(seed: int) -> None:
    """Your code draws from kindling.autograd's generator, the answer key from its own."""
    my_autograd.manual_seed(seed)
    ref_autograd.manual_seed(seed)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def kind(value: Any) -> str:
    """What a value is, for a message: `a float32 Tensor of shape (4, 2)`, `a tuple`."""
    if isinstance(value, TENSORS):
        return f"a {value.data.dtype} Tensor of shape {value.data.shape}"
    if isinstance(value, np.ndarray):
        return f"a NumPy {value.dtype} array of shape {value.shape}"
    text = repr(value)
    return f"a {type(value).__name__} ({text[:60]}{'...' if len(text) > 60 else ''})"


def sample_text(sample: Any) -> str:
    """The structure of one example: `((2, 3) float32 array, int)`."""
    if isinstance(sample, TENSORS):
        return f"{sample.data.shape} {sample.data.dtype} Tensor"
    if isinstance(sample, np.ndarray):
        return f"{sample.shape} {sample.dtype} array"
    if isinstance(sample, np.generic):
        return f"np.{type(sample).__name__}"
    if isinstance(sample, dict):
        return "{" + ", ".join(f"{k!r}: {sample_text(v)}" for k, v in sample.items()) + "}"
    if isinstance(sample, tuple):
        return "(" + ", ".join(sample_text(v) for v in sample) + ")"
    if isinstance(sample, list):
        return "[" + ", ".join(sample_text(v) for v in sample) + "]"
    return type(sample).__name__


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------
# Exercise 4.1: datasets
# ---------------------------------------------------------------------------


def named_dataset(data, prefix: str, n: int):
    """A Dataset subclass (of `data.Dataset`) of n examples: example i is the string
    f"{prefix}{i}", so a wrong index shows in the example itself."""

    class Named(data.Dataset):
        def __getitem__(self, index: int) -> str:
            return f"{prefix}{index}"

        def __len__(self) -> int:
            return n

    return Named()


def check_example(got: Any, expected: tuple, what: str, inputs: str) -> None:
    """A TensorDataset example: a tuple of NumPy rows (or scalars) like the answer key's."""
    if not isinstance(got, tuple) or len(got) != len(expected):
        fail(f"{what} should be a tuple of {len(expected)} entries, got {kind(got)} ({inputs})")
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        if not isinstance(g, (np.ndarray, np.generic)):
            fail(f"{what}[{k}] should be {kind(e)}, got {kind(g)} ({inputs})")
        assert_same_array(np.asarray(g), np.asarray(e), f"{what}[{k}]", inputs)


@pytest.mark.exercise("4.1")
@pytest.mark.parametrize("as_tensors", [False, True], ids=["arrays", "Tensors"])
def test_tensor_dataset(as_tensors):
    generator = rng(11)
    arrays = [
        generator.standard_normal((6, 3, 2)).astype(np.float32),
        generator.integers(0, 10, 6),
        generator.random(6) > 0.5,
        generator.standard_normal((6, 4)),
    ]
    for count in (1, 2, 4):
        used = arrays[:count]
        mine = my_data.TensorDataset(
            *[my_autograd.Tensor(a) if as_tensors else a.copy() for a in used]
        )
        ref = ref_data.TensorDataset(
            *[ref_autograd.Tensor(a) if as_tensors else a.copy() for a in used]
        )
        inputs = describe({f"array{k}": a for k, a in enumerate(used)}, 11)
        inputs += ", given as kindling Tensors" if as_tensors else ""
        for index in [*range(6), -1, -6]:
            check_example(mine[index], ref[index], f"TensorDataset(...)[{index}]", inputs)
        expect_error(
            IndexError, f"TensorDataset(...)[6] on 6 examples ({inputs})", mine.__getitem__, 6
        )


@pytest.mark.exercise("4.1")
def test_subset():
    indices = [4, 0, 4, 2, 5]
    mine = my_data.Subset(named_dataset(my_data, "x", 6), indices)
    ref = ref_data.Subset(named_dataset(ref_data, "x", 6), indices)
    for index in [*range(len(indices)), -1, -5]:
        got, want = mine[index], ref[index]
        if got != want:
            fail(
                f"Subset(dataset of 6 where example i is 'x<i>', indices={indices})[{index}] "
                f"is {got!r}, expected {want!r}"
            )


CONCAT_LENGTHS = [[3, 4], [3, 0, 4, 2], [1, 1, 1], [5]]


@pytest.mark.exercise("4.1")
@pytest.mark.parametrize("lengths", CONCAT_LENGTHS, ids=str)
def test_concat_dataset(lengths):
    parts = "abcdefgh"
    mine = my_data.ConcatDataset(
        [named_dataset(my_data, p, n) for p, n in zip(parts, lengths, strict=False)]
    )
    ref = ref_data.ConcatDataset(
        [named_dataset(ref_data, p, n) for p, n in zip(parts, lengths, strict=False)]
    )
    total = sum(lengths)
    what = f"ConcatDataset of datasets of lengths {lengths} (example i of the k-th is '<k-th letter><i>')"
    for index in range(-total, total):
        got, want = mine[index], ref[index]
        if got != want:
            fail(f"{what}[{index}] is {got!r}, expected {want!r}")
    for index in (total, total + 3, -total - 1):
        expect_error(IndexError, f"{what}[{index}] (out of range)", mine.__getitem__, index)


@pytest.mark.exercise("4.1")
def test_adding_datasets_concatenates():
    a, b, c = (named_dataset(my_data, p, n) for p, n in (("a", 2), ("b", 3), ("c", 1)))
    ra, rb, rc = (named_dataset(ref_data, p, n) for p, n in (("a", 2), ("b", 3), ("c", 1)))
    for mine, ref, text in ((a + b, ra + rb, "a + b"), (a + b + c, ra + rb + rc, "a + b + c")):
        got = [mine[i] for i in range(-len(ref), len(ref))]
        want = [ref[i] for i in range(-len(ref), len(ref))]
        if got != want:
            fail(
                f"({text})[i] for i from -{len(ref)} to {len(ref) - 1} (lengths a=2, b=3, c=1; "
                f"Dataset.__add__ makes a ConcatDataset) gave {got}, expected {want}"
            )


SPLITS = [
    (10, [3, 7], 0),
    (10, [2, 3, 5], 1),
    (10, [0.7, 0.3], 2),
    (7, [0.5, 0.5], 3),
    (11, [0.3, 0.3, 0.4], 4),
    (6, [0.25, 0.25, 0.25, 0.25], 5),
    (5, [5, 0], 6),
]


def check_split(got: Any, expected: list, dataset: list, what: str) -> None:
    if not isinstance(got, list) or len(got) != len(expected):
        fail(f"{what} should return a list of {len(expected)} Subsets, got {kind(got)}")
    for k, (subset, want) in enumerate(zip(got, expected, strict=True)):
        if not isinstance(subset, my_data.Subset) or subset.dataset is not dataset:
            fail(f"{what}: part {k} should be Subset(dataset, indices), got {kind(subset)}")
        indices = subset.indices
        if list(indices) != want.indices:
            fail(f"{what}: subset {k} has indices {list(indices)}, expected {want.indices}")
        if not all(type(i) is int for i in indices):
            fail(f"{what}: subset {k}'s indices should be Python ints (use .tolist())")
        examples = [subset[j] for j in range(len(indices))]
        if examples != [dataset[i] for i in want.indices]:
            fail(
                f"{what}: subset {k} gave the examples {examples}, expected those at {want.indices}"
            )


@pytest.mark.exercise("4.1")
@pytest.mark.parametrize(("n", "lengths", "seed"), SPLITS, ids=str)
def test_random_split(n, lengths, seed):
    dataset = [f"x{i}" for i in range(n)]
    got = my_data.random_split(dataset, lengths, generator=rng(seed))
    expected = ref_data.random_split(dataset, lengths, generator=rng(seed))
    what = f"random_split(dataset of {n}, {lengths}, generator seed {seed})"
    sizes = [len(s.indices) for s in expected]
    check_split(got, expected, dataset, f"{what} (expected sizes {sizes})")


@pytest.mark.exercise("4.1")
def test_random_split_default_generator():
    dataset = [f"x{i}" for i in range(9)]
    for seed in (0, 1):
        seed_both(seed)
        got = my_data.random_split(dataset, [4, 5])
        expected = ref_data.random_split(dataset, [4, 5])
        check_split(
            got, expected, dataset, f"random_split(dataset of 9, [4, 5]) after manual_seed({seed})"
        )


@pytest.mark.exercise("4.1")
def test_random_split_lengths_must_add_up():
    dataset = [f"x{i}" for i in range(10)]
    for lengths in ([3, 3], [4, 7], [0.5, 0.4], [0.6, 0.6], [12, -2], [1.5, -0.5]):
        what = f"random_split(dataset of 10, {lengths}) (lengths that do not add up, or negative)"
        error = expect_error(
            ValueError, what, my_data.random_split, dataset, lengths, generator=rng(0)
        )
        if sum(lengths) != 1:  # not fractions: the counts do not add up to n
            expect_message_naming(error, what, str(lengths), "10")


@pytest.mark.exercise("4.1")
@pytest.mark.parametrize(
    ("n", "lengths"), [(10, [1.0, 0.0]), (10, [0.0, 1.0]), (10, [3.0, 7.0]), (0, [])], ids=str
)
def test_random_split_edge_lengths(n, lengths):
    """Fractions of exactly 0 and 1 are allowed; counts given as floats are used as ints."""
    dataset = [f"x{i}" for i in range(n)]
    what = f"random_split(dataset of {n}, {lengths}, generator seed 7)"
    try:
        got = my_data.random_split(dataset, lengths, generator=rng(7))
    except ValueError as error:
        fail(f"{what} raised ValueError({error}): these lengths are valid")
    check_split(got, ref_data.random_split(dataset, lengths, generator=rng(7)), dataset, what)


@pytest.mark.exercise("4.1")
@pytest.mark.parametrize(("n", "lengths"), [(10, [0.33, 0.56, 0.11]), (0, [1.5, -0.5])], ids=str)
def test_random_split_rejects_edge_lengths(n, lengths):
    """[0.33, 0.56, 0.11] sums to 1.0000000000000002, above 1: counts, as torch decides (they
    do not add up). A fraction outside [0, 1] is an error even for an empty dataset."""
    what = f"random_split(dataset of {n}, {lengths})"
    dataset = [f"x{i}" for i in range(n)]
    expect_error(ValueError, what, my_data.random_split, dataset, lengths, generator=rng(0))


# ---------------------------------------------------------------------------
# Exercise 4.2: samplers
# ---------------------------------------------------------------------------


def check_indices(got: Any, expected: list, what: str) -> None:
    if got != expected:
        fail(f"{what} gave {got}, expected {expected}")
    if not all(type(i) is int for i in got):
        fail(f"{what} should yield Python ints, got {sorted({type(i).__name__ for i in got})}")


@pytest.mark.exercise("4.2")
@pytest.mark.parametrize("n", [5, 1, 0])
def test_sequential_sampler(n):
    sampler = my_data.SequentialSampler(range(n))
    for epoch in (1, 2):
        check_indices(list(sampler), list(range(n)), f"SequentialSampler over {n}: epoch {epoch}")


def check_epochs(mine: Any, ref: Any, what: str, epochs: int = 3) -> None:
    got = [list(mine) for _ in range(epochs)]
    want = [list(ref) for _ in range(epochs)]
    for epoch, (g, w) in enumerate(zip(got, want, strict=True), start=1):
        if epoch > 1 and g == got[0] and w != want[0]:
            fail(
                f"{what}: epoch {epoch} repeated epoch 1's order {g}; draw a new permutation per __iter__"
            )
        check_indices(g, w, f"{what}: epoch {epoch}")


@pytest.mark.exercise("4.2")
@pytest.mark.parametrize(("n", "seed"), [(10, 3), (7, 0), (1, 5)])
def test_random_sampler_seeded(n, seed):
    mine = my_data.RandomSampler(range(n), generator=rng(seed))
    ref = ref_data.RandomSampler(range(n), generator=rng(seed))
    check_epochs(mine, ref, f"RandomSampler over {n} indices, generator seed {seed}")


@pytest.mark.exercise("4.2")
def test_random_sampler_yields_indices_not_examples():
    mine = my_data.RandomSampler(named_dataset(my_data, "x", 6), generator=rng(9))
    ref = ref_data.RandomSampler(named_dataset(ref_data, "x", 6), generator=rng(9))
    check_epochs(mine, ref, "RandomSampler over a dataset of 6 examples 'x0'...'x5', seed 9")


@pytest.mark.exercise("4.2")
def test_random_sampler_default_generator():
    for seed in (4, 8):
        seed_both(seed)
        mine, ref = my_data.RandomSampler(range(10)), ref_data.RandomSampler(range(10))
        check_epochs(mine, ref, f"RandomSampler over 10 indices after manual_seed({seed})")


BATCHING = [(10, 4), (12, 4), (1, 4), (3, 4), (5, 1), (0, 3)]


@pytest.mark.exercise("4.2")
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler(drop_last):
    for n, batch_size in BATCHING:
        what = f"BatchSampler(range({n}), batch_size={batch_size}, drop_last={drop_last})"
        mine = my_data.BatchSampler(range(n), batch_size, drop_last)
        got = list(mine)
        want = list(ref_data.BatchSampler(range(n), batch_size, drop_last))
        if got != want:
            fail(f"{what} gave {got}, expected {want}")
        if not all(type(batch) is list and all(type(i) is int for i in batch) for batch in got):
            fail(f"{what} should yield lists of Python ints, got {[kind(b) for b in got][:3]}")
        expected_len = len(ref_data.BatchSampler(range(n), batch_size, drop_last))
        if len(mine) != expected_len:
            fail(f"len({what}) is {len(mine)}, expected {expected_len}")


class CountingSampler:
    """A sampler wrapper that counts how often it is iterated."""

    def __init__(self, sampler: Any) -> None:
        self.sampler, self.iterations = sampler, 0

    def __iter__(self):
        self.iterations += 1
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


@pytest.mark.exercise("4.2")
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_over_a_random_sampler(drop_last):
    what = f"BatchSampler(RandomSampler(range(10), generator seed 6), 3, drop_last={drop_last})"
    sampler = CountingSampler(ref_data.RandomSampler(range(10), generator=rng(6)))
    mine = my_data.BatchSampler(sampler, 3, drop_last)
    ref = ref_data.BatchSampler(ref_data.RandomSampler(range(10), generator=rng(6)), 3, drop_last)
    for epoch in (1, 2):
        got, want = list(mine), list(ref)
        if sampler.iterations != epoch:
            fail(
                f"{what}: epoch {epoch} iterated the sampler {sampler.iterations} times in all, expected {epoch}"
            )
        if got != want:
            fail(f"{what}: epoch {epoch} gave {got}, expected {want}")
    if len(mine) != len(ref):
        fail(f"len({what}) is {len(mine)}, expected {len(ref)}")


# ---------------------------------------------------------------------------
# Exercise 4.3: collation
# ---------------------------------------------------------------------------


def _arrays(seed: int, count: int, shape=(2, 3), dtype=np.float32) -> list[np.ndarray]:
    generator = rng(seed)
    return [generator.standard_normal(shape).astype(dtype) for _ in range(count)]


# name -> a function of the autograd module (whose Tensor the samples use) giving the batch
COLLATE_CASES: dict[str, Callable[[Any], list]] = {
    "arrays": lambda ag: _arrays(0, 4),
    "uint8 images": lambda ag: [a.astype(np.uint8) for a in _arrays(1, 3, (4, 4))],
    "Tensors": lambda ag: [ag.Tensor(a) for a in _arrays(2, 3, (3,))],
    "ints": lambda ag: [3, 1, 4, 1, 5],
    "floats": lambda ag: [0.5, -1.25, 3.0],
    "bools": lambda ag: [True, False, True],
    "NumPy float32 scalars": lambda ag: [np.float32(0.5), np.float32(-2.0)],
    "NumPy int16 scalars": lambda ag: [np.int16(7), np.int16(-3), np.int16(300)],
    "NumPy bools": lambda ag: [np.bool_(True), np.bool_(False)],
    "strings": lambda ag: ["cat", "dog", "emu"],
    "(data, target) tuples": lambda ag: [(a, i) for i, a in enumerate(_arrays(3, 4))],
    "[data, weight] lists": lambda ag: [[a, 0.5 * i] for i, a in enumerate(_arrays(4, 3))],
    "dicts": lambda ag: [
        {"image": a, "label": i, "name": f"n{i}"} for i, a in enumerate(_arrays(5, 3))
    ],
    "nested dicts of tuples": lambda ag: [
        {"pair": (ag.Tensor(a), 1.5 * i), "meta": {"id": i, "flag": i % 2 == 0}, "tag": "t"}
        for i, a in enumerate(_arrays(6, 3, (2,)))
    ],
}


def compare_collated(got: Any, expected: Any, where: str, inputs: str) -> None:
    """Walk the answer key's batch: Tensors by type, dtype, shape and values; lists,
    dicts and strings by structure."""
    if isinstance(expected, ref_autograd.Tensor):
        if not isinstance(got, my_autograd.Tensor):
            fail(
                f"default_collate's {where} should be {kind(expected)}, got {kind(got)} ({inputs})"
            )
        assert_same_array(got.data, expected.data, f"default_collate's {where}", inputs)
    elif isinstance(expected, dict):
        if not isinstance(got, dict):
            fail(f"default_collate's {where} should be a dict, got {kind(got)} ({inputs})")
        if list(got) != list(expected):
            fail(
                f"default_collate's {where} has the keys {list(got)}, expected "
                f"{list(expected)} ({inputs})"
            )
        for key in expected:
            compare_collated(got[key], expected[key], f"{where}[{key!r}]", inputs)
    elif isinstance(expected, list):
        if type(got) is not list or len(got) != len(expected):
            fail(
                f"default_collate's {where} should be a list of {len(expected)} entries, "
                f"got {kind(got)} ({inputs})"
            )
        for k, (g, e) in enumerate(zip(got, expected, strict=True)):
            compare_collated(g, e, f"{where}[{k}]", inputs)
    elif type(got) is not type(expected) or got != expected:
        fail(f"default_collate's {where} should be {kind(expected)}, got {kind(got)} ({inputs})")


@pytest.mark.exercise("4.3")
@pytest.mark.parametrize("case", list(COLLATE_CASES))
def test_default_collate(case):
    batch = COLLATE_CASES[case](my_autograd)
    got = my_data.default_collate(batch)
    expected = ref_data.default_collate(COLLATE_CASES[case](ref_autograd))
    inputs = f"a batch of {len(batch)} {case} like {sample_text(batch[0])}"
    compare_collated(got, expected, "result", inputs)


@pytest.mark.exercise("4.3")
@pytest.mark.parametrize("case", ["arrays", "ints", "dicts"])
def test_default_collate_of_one_sample(case):
    """A loader's last batch may hold a single sample."""
    batch = COLLATE_CASES[case](my_autograd)[:1]
    got = my_data.default_collate(batch)
    expected = ref_data.default_collate(COLLATE_CASES[case](ref_autograd)[:1])
    compare_collated(
        got, expected, "result", f"a batch of one {case} sample: {sample_text(batch[0])}"
    )


# case -> (the error, the batch, what its message must name: the odd sample and its shape)
ODD_BATCHES: dict[str, tuple[type[Exception], Callable[[], list], tuple[str, ...]]] = {
    "arrays of shapes (2, 3), (2, 3), (3, 2)": (
        ValueError,
        lambda: [*_arrays(0, 2), _arrays(1, 1, (3, 2))[0]],
        ("2", "(2, 3)", "(3, 2)"),
    ),
    "(array, int) tuples with arrays of shapes (4,) and (5,)": (
        ValueError,
        lambda: [(np.zeros(4, np.float32), 0), (np.zeros(5, np.float32), 1)],
        ("1", "(4,)", "(5,)"),
    ),
    "tuples of 2 and 3 fields": (ValueError, lambda: [(1, 2.0), (3, 4.0, 5)], ()),
    "objects of an unknown type": (TypeError, lambda: [object(), object()], ("object",)),
    "None values": (TypeError, lambda: [None, None], ("NoneType",)),
}


@pytest.mark.exercise("4.3")
def test_default_collate_errors():
    for case, (error, make, names) in ODD_BATCHES.items():
        what = f"default_collate of {case}"
        raised = expect_error(error, what, my_data.default_collate, make())
        expect_message_naming(raised, what, *names)


# ---------------------------------------------------------------------------
# Exercise 4.4: the DataLoader
# ---------------------------------------------------------------------------


class Numbered:
    """A plain dataset of n examples: example i is (a (2,) float32 array of i's, the int i)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return np.full(2, index, np.float32), int(index)


class KeyRandomSampler(ref_data.RandomSampler):
    """The answer key's RandomSampler, drawing from kindling.autograd's generator (as your
    code does) when it is given none."""

    def __iter__(self):
        generator = self.generator or my_autograd.default_generator()
        return iter(generator.permutation(len(self.data_source)).tolist())


@pytest.fixture
def reference_parts(monkeypatch):
    """Your DataLoader, wired to the answer key's samplers and default_collate."""
    for name in ("SequentialSampler", "BatchSampler", "default_collate"):
        monkeypatch.setattr(my_data, name, getattr(ref_data, name))
    monkeypatch.setattr(my_data, "RandomSampler", KeyRandomSampler)


def labels_of(batch: Any) -> list[int] | None:
    """The example indices in a batch [images, labels] from default_collate (label i is i)."""
    if isinstance(batch, list) and len(batch) == 2 and isinstance(batch[1], ref_autograd.Tensor):
        return batch[1].data.tolist()
    return None


def check_loader_epochs(mine: Any, ref: Any, what: str, shuffled: bool) -> None:
    """Two epochs of your loader against two of the answer key's, batch by batch."""
    got = [list(mine) for _ in range(2)]
    want = [list(ref) for _ in range(2)]
    for epoch in (0, 1):
        if len(got[epoch]) != len(want[epoch]):
            fail(
                f"{what}: epoch {epoch + 1} gave {len(got[epoch])} batches, expected "
                f"{len(want[epoch])}: {[labels_of(b) for b in want[epoch]]}"
            )
        for k, (g, w) in enumerate(zip(got[epoch], want[epoch], strict=True)):
            indices, expected = labels_of(g), labels_of(w)
            if indices is None:
                fail(
                    f"{what}: epoch {epoch + 1}, batch {k} should be collate_fn's [images, labels], "
                    f"got {kind(g)}"
                )
            if indices != expected:
                fail(
                    f"{what}: epoch {epoch + 1}, batch {k} differs: expected indices {expected}, "
                    f"got {indices}"
                )
            assert_same_array(
                g[0].data,
                w[0].data,
                f"{what}: epoch {epoch + 1}, batch {k} images",
                "the same indices",
            )
    orders = [[i for b in epoch for i in labels_of(b)] for epoch in got]
    if not shuffled and orders[0] != orders[1]:
        fail(f"{what}: the two epochs differ ({orders[0]} then {orders[1]}) without shuffle")


LOADER_CASES = [
    (10, 4, False, False),
    (10, 4, True, False),
    (10, 4, True, True),
    (12, 4, False, True),
    (7, 3, True, False),
    (1, 4, False, False),
    (3, 4, False, True),
]


@pytest.mark.exercise("4.4")
@pytest.mark.parametrize(("n", "batch_size", "shuffle", "drop_last"), LOADER_CASES, ids=str)
def test_data_loader(reference_parts, n, batch_size, shuffle, drop_last):
    seed = n + batch_size
    options = dict(batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    dataset = Numbered(n)
    mine = my_data.DataLoader(dataset, **options, generator=rng(seed))
    ref = ref_data.DataLoader(dataset, **options, generator=rng(seed))
    what = (
        f"DataLoader(batch_size={batch_size}, shuffle={shuffle}, drop_last={drop_last}) "
        f"over {n} samples, generator seed {seed}"
    )
    if len(mine) != len(ref):
        fail(f"len({what}) is {len(mine)}, expected {len(ref)}")
    check_loader_epochs(mine, ref, what, shuffle)


@pytest.mark.exercise("4.4")
def test_data_loader_default_generator(reference_parts):
    dataset = Numbered(9)
    for seed in (2, 3):
        seed_both(seed)
        mine = my_data.DataLoader(dataset, batch_size=4, shuffle=True)
        ref = ref_data.DataLoader(dataset, batch_size=4, shuffle=True)
        what = f"DataLoader(batch_size=4, shuffle=True) over 9 samples after manual_seed({seed})"
        check_loader_epochs(mine, ref, what, shuffled=True)


@pytest.mark.exercise("4.4")
def test_data_loader_attributes(reference_parts):
    dataset = Numbered(5)
    loader = my_data.DataLoader(dataset, batch_size=2, drop_last=True)
    wanted = {
        "dataset": (getattr(loader, "dataset", None) is dataset, "the dataset given"),
        "batch_size": (getattr(loader, "batch_size", None) == 2, "2"),
        "drop_last": (getattr(loader, "drop_last", None) is True, "True"),
        "sampler": (
            isinstance(getattr(loader, "sampler", None), ref_data.SequentialSampler),
            "a SequentialSampler (shuffle=False)",
        ),
        "batch_sampler": (
            isinstance(getattr(loader, "batch_sampler", None), ref_data.BatchSampler),
            "BatchSampler(sampler, batch_size, drop_last)",
        ),
        "collate_fn": (
            getattr(loader, "collate_fn", None) is ref_data.default_collate,
            "default_collate (collate_fn=None)",
        ),
    }
    for name, (ok, expected) in wanted.items():
        if not ok:
            fail(f"DataLoader(dataset, batch_size=2, drop_last=True).{name} should be {expected}")
    shuffled = my_data.DataLoader(dataset, shuffle=True, generator=rng(0))
    if not isinstance(shuffled.sampler, ref_data.RandomSampler):
        fail(
            f"DataLoader(shuffle=True).sampler should be a RandomSampler, got {kind(shuffled.sampler)}"
        )


@pytest.mark.exercise("4.4")
def test_data_loader_custom_collate_fn(reference_parts):
    def labels_only(samples: list) -> list[int]:
        return [label for _, label in samples]

    dataset = Numbered(10)
    for shuffle in (False, True):
        mine = my_data.DataLoader(
            dataset, batch_size=3, shuffle=shuffle, collate_fn=labels_only, generator=rng(1)
        )
        ref = ref_data.DataLoader(
            dataset, batch_size=3, shuffle=shuffle, collate_fn=labels_only, generator=rng(1)
        )
        what = f"DataLoader(batch_size=3, shuffle={shuffle}, collate_fn=labels_only) over 10 samples, generator seed 1"
        if mine.collate_fn is not labels_only:
            fail(f"{what}: .collate_fn should be the function given")
        for epoch in (1, 2):
            got, want = list(mine), list(ref)
            if got != want:
                fail(f"{what}: epoch {epoch} gave {got}, expected {want}")


@pytest.mark.exercise("4.4")
@pytest.mark.parametrize("drop_last", [False, True])
def test_data_loader_custom_sampler(reference_parts, drop_last):
    order = [5, 3, 8, 1, 0]
    dataset = Numbered(10)
    mine = my_data.DataLoader(dataset, batch_size=2, sampler=order, drop_last=drop_last)
    ref = ref_data.DataLoader(dataset, batch_size=2, sampler=order, drop_last=drop_last)
    what = f"DataLoader(batch_size=2, sampler={order}, drop_last={drop_last}) over 10 samples"
    if mine.sampler is not order:
        fail(f"{what}: .sampler should be the sampler given")
    if len(mine) != len(ref):
        fail(f"len({what}) is {len(mine)}, expected {len(ref)}")
    check_loader_epochs(mine, ref, what, shuffled=False)


@pytest.mark.exercise("4.4")
def test_data_loader_bad_options(reference_parts):
    dataset = Numbered(4)
    loader = my_data.DataLoader(dataset, batch_size=3)
    if len(loader) != 2:
        fail(f"len(DataLoader(batch_size=3)) over 4 samples is {len(loader)}, expected 2")
    what = "DataLoader(dataset, sampler=[0, 1], shuffle=True)"
    error = expect_error(
        ValueError, what, my_data.DataLoader, dataset, sampler=[0, 1], shuffle=True
    )
    expect_message_naming(error, what, "sampler", "shuffle")
    expect_error(
        ValueError, "DataLoader(dataset, batch_size=0) (build the BatchSampler in __init__)",
        my_data.DataLoader, dataset, batch_size=0,
    )  # fmt: skip


# ---------------------------------------------------------------------------
# Exercise 4.5: ToTensor and Normalize
# ---------------------------------------------------------------------------


def _image(shape, dtype, seed: int) -> np.ndarray:
    generator = rng(seed)
    if np.dtype(dtype) == np.uint8:
        return generator.integers(0, 256, shape).astype(np.uint8)
    if np.dtype(dtype).kind == "i":
        return generator.integers(-1000, 1000, shape).astype(dtype)
    return (generator.standard_normal(shape) * 3).astype(dtype)


TO_TENSOR_CASES = [
    ((5, 7), np.uint8),
    ((5, 7, 3), np.uint8),
    ((4, 6, 1), np.uint8),
    ((5, 7), np.float64),
    ((4, 6, 2), np.float32),
    ((3, 5), np.int16),
]


@pytest.mark.exercise("4.5")
@pytest.mark.parametrize(("shape", "dtype"), TO_TENSOR_CASES, ids=str)
def test_to_tensor(shape, dtype):
    image = _image(shape, dtype, seed=len(shape))
    before = image.copy()
    got = my_T.ToTensor()(image)
    expected = ref_T.ToTensor()(image.copy())
    inputs = describe({"image": image}, len(shape))
    if not isinstance(got, my_autograd.Tensor):
        fail(f"ToTensor() should return {kind(expected)}, got {kind(got)} ({inputs})")
    assert_same_array(got.data, expected.data, "ToTensor()(image)", inputs)
    if np.dtype(dtype) != np.uint8 and not got.data.flags.c_contiguous:
        fail(f"ToTensor()(image) should be a contiguous array (np.ascontiguousarray) ({inputs})")
    if not np.array_equal(image, before):
        fail(f"ToTensor() modified its input image in place ({inputs})")


@pytest.mark.exercise("4.5")
def test_to_tensor_rejects_bad_shapes():
    for shape in [(5,), (2, 3, 4, 1)]:
        image = np.zeros(shape, np.uint8)
        what = f"ToTensor() on an image of shape {shape}"
        error = expect_error(ValueError, what, my_T.ToTensor(), image)
        expect_message_naming(error, what, str(shape))


NORMALIZE_CASES = [
    ("Tensor", (1, 5, 6), np.float32, (0.5,), (0.25,)),
    ("Tensor", (3, 4, 5), np.float32, (0.1, 0.2, 0.3), (0.5, 0.6, 0.7)),
    ("Tensor", (3, 4, 5), np.float32, (0.2,), (0.4,)),
    ("array", (3, 4, 5), np.float32, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ("array", (2, 3, 3), np.float64, (0.0, 1.0), (1.0, 2.0)),
]


@pytest.mark.exercise("4.5")
@pytest.mark.parametrize(("given", "shape", "dtype", "mean", "std"), NORMALIZE_CASES, ids=str)
def test_normalize(given, shape, dtype, mean, std):
    image = _image(shape, dtype, seed=7)
    mine_input = my_autograd.Tensor(image.copy()) if given == "Tensor" else image.copy()
    ref_input = ref_autograd.Tensor(image.copy()) if given == "Tensor" else image.copy()
    got = my_T.Normalize(mean, std)(mine_input)
    expected = ref_T.Normalize(mean, std)(ref_input)
    inputs = describe({given: image}, 7, {"mean": mean, "std": std})
    if not isinstance(got, my_autograd.Tensor):
        fail(f"Normalize should return {kind(expected)}, got {kind(got)} ({inputs})")
    assert_same_array(got.data, expected.data, f"Normalize({mean}, {std})(x)", inputs)
    data_in = mine_input.data if given == "Tensor" else mine_input
    if not np.array_equal(data_in, image):
        fail(f"Normalize modified its input in place ({inputs}); return a new Tensor")
    if np.shares_memory(got.data, data_in):
        fail(f"Normalize's result shares memory with its input ({inputs}); return a new Tensor")


@pytest.mark.exercise("4.5")
def test_normalize_rejects_mismatched_channels():
    for shape, mean, std in [
        ((1, 4, 4), (0.1, 0.2, 0.3), (1, 1, 1)),  # would broadcast to (3, 4, 4) silently
        ((3, 4, 4), (0.1, 0.2), (1.0, 1.0)),
        ((4, 4), (0.1,), (1,)),
    ]:
        image = my_autograd.Tensor(np.zeros(shape, np.float32))
        what = f"Normalize(mean={mean}, std={std}) on a Tensor of shape {shape}"
        error = expect_error(ValueError, what, my_T.Normalize(mean, std), image)
        expect_message_naming(error, what, str(shape))


@pytest.mark.exercise("4.5")
def test_mnist_pipeline():
    image = _image((28, 28), np.uint8, seed=28)
    mine = my_T.Compose([my_T.ToTensor(), my_T.Normalize((0.1307,), (0.3081,))])
    ref = ref_T.Compose([ref_T.ToTensor(), ref_T.Normalize((0.1307,), (0.3081,))])
    got, expected = mine(image.copy()), ref(image.copy())
    what = "Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])(image)"
    if not isinstance(got, my_autograd.Tensor):
        fail(f"{what} should be {kind(expected)}, got {kind(got)}")
    assert_same_array(got.data, expected.data, what, describe({"image": image}, 28))


# ---------------------------------------------------------------------------
# Exercise 4.6: augmentation
# ---------------------------------------------------------------------------


def _padded(data: np.ndarray, padding: int, fill: float) -> np.ndarray:
    pad = [(0, 0)] * (data.ndim - 2) + [(padding, padding)] * 2
    return np.pad(data, pad, constant_values=fill)


def windows_of(crop: np.ndarray, padded: np.ndarray) -> list[tuple[int, int]]:
    """Every (top, left) at which `crop` occurs in the padded image (for messages)."""
    if crop.ndim != padded.ndim or crop.shape[:-2] != padded.shape[:-2]:
        return []
    (h, w), (height, width) = crop.shape[-2:], padded.shape[-2:]
    return [
        (top, left)
        for top in range(height - h + 1)
        for left in range(width - w + 1)
        if np.array_equal(padded[..., top : top + h, left : left + w], crop)
    ]


# (given as, image shape, dtype, size, padding, fill, seed)
CROP_CASES = [
    ("Tensor", (3, 8, 8), np.float32, 5, 0, 0, 1),
    ("Tensor", (3, 8, 8), np.float32, 5, 2, 0.5, 2),
    ("Tensor", (1, 6, 9), np.float32, (4, 6), 1, 0, 3),
    ("array", (10, 12), np.uint8, (4, 6), 0, 0, 4),
    ("array", (10, 12), np.float32, (6, 4), 3, 0, 5),
    ("array", (2, 3, 7, 7), np.float64, 4, 1, -1, 6),
    ("array", (8, 8), np.float32, 12, 2, 0, 7),
]


def check_crops(mine, ref, image: np.ndarray, given: str, what: str, inputs: str, calls: int = 4):
    padded = _padded(image, ref.padding, ref.fill)
    for call in range(1, calls + 1):
        mine_input = my_autograd.Tensor(image.copy()) if given == "Tensor" else image.copy()
        ref_input = ref_autograd.Tensor(image.copy()) if given == "Tensor" else image.copy()
        got, expected = mine(mine_input), ref(ref_input)
        if given == "Tensor" and not isinstance(got, my_autograd.Tensor):
            fail(f"{what} on a Tensor should return a Tensor, got {kind(got)} ({inputs})")
        if given == "array" and not isinstance(got, np.ndarray):
            fail(f"{what} on a NumPy array should return an array, got {kind(got)} ({inputs})")
        got_data = got.data if given == "Tensor" else got
        want_data = expected.data if given == "Tensor" else expected
        if got_data.shape == want_data.shape and not np.array_equal(got_data, want_data):
            want_at = windows_of(want_data, padded)
            got_at = windows_of(got_data, padded) or "no window of the padded image"
            fail(
                f"{what}, call {call}: expected the window at (top, left) = {want_at[0]}, "
                f"got {got_at} ({inputs}; draw top, then left)"
            )
        assert_same_array(got_data, want_data, f"{what}, call {call}", inputs)
        if not np.array_equal(mine_input.data if given == "Tensor" else mine_input, image):
            fail(f"{what} modified its input in place ({inputs})")


@pytest.mark.exercise("4.6")
@pytest.mark.parametrize(
    ("given", "shape", "dtype", "size", "padding", "fill", "seed"), CROP_CASES, ids=str
)
def test_random_crop(given, shape, dtype, size, padding, fill, seed):
    image = (np.arange(int(np.prod(shape))) + 1).reshape(shape).astype(dtype)
    mine = my_T.RandomCrop(size, padding=padding, fill=fill, generator=rng(seed))
    ref = ref_T.RandomCrop(size, padding=padding, fill=fill, generator=rng(seed))
    what = f"RandomCrop({size!r}, padding={padding}, fill={fill})"
    inputs = f"a {shape} {np.dtype(dtype)} {given}, generator seed {seed}"
    check_crops(mine, ref, image, given, what, inputs)


@pytest.mark.exercise("4.6")
def test_random_crop_default_generator():
    image = np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8) + 1
    for seed in (0, 5):
        seed_both(seed)
        mine, ref = my_T.RandomCrop(5, padding=1), ref_T.RandomCrop(5, padding=1)
        check_crops(
            mine, ref, image, "Tensor", "RandomCrop(5, padding=1)",
            f"a (3, 8, 8) float32 Tensor after manual_seed({seed})",
        )  # fmt: skip


@pytest.mark.exercise("4.6")
def test_random_crop_too_large():
    image = my_autograd.Tensor(np.zeros((3, 8, 8), np.float32))
    for size, padding in [(9, 0), ((8, 9), 0), ((9, 8), 0), (13, 2), ((12, 13), 2)]:
        what = f"RandomCrop({size!r}, padding={padding}) on a (3, 8, 8) Tensor"
        crop = my_T.RandomCrop(size, padding=padding, generator=rng(0))
        error = expect_error(ValueError, what, crop, image)
        too_big = max(size) if isinstance(size, tuple) else size
        expect_message_naming(error, what, str(too_big), str(8 + 2 * padding))


@pytest.mark.exercise("4.6")
@pytest.mark.parametrize(
    ("given", "size"), [("Tensor", 6), ("Tensor", 4), ("array", 6), ("array", 3)]
)
def test_random_crop_returns_a_copy(given, size):
    image = np.arange(36, dtype=np.float32).reshape(1, 6, 6)
    if given == "array":
        image = image[0]
    original = image.copy()
    given_image = my_autograd.Tensor(image) if given == "Tensor" else image
    got = my_T.RandomCrop(size, generator=rng(0))(given_image)
    data = got.data if isinstance(got, TENSORS) else np.asarray(got)
    data[...] = -7
    if not np.array_equal(image, original):
        fail(
            f"RandomCrop({size}) on a {image.shape} {given} returned a view: writing into the crop "
            "changed the image; return a copy"
        )


# ---------------------------------------------------------------------------
# Exercise 4.7: reading IDX files
# ---------------------------------------------------------------------------

IDX_TYPE_BYTES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding: 0, 0, type byte, ndim; big-endian uint32 sizes; big-endian values."""
    header = bytes([0, 0, IDX_TYPE_BYTES[array.dtype], array.ndim])
    sizes = np.asarray(array.shape, dtype=">u4").tobytes()
    return header + sizes + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_file(path: Path, raw: bytes, compress: bool | None = None) -> Path:
    """Write `raw` to `path`, gzipped when the name ends in .gz (unless compress says)."""
    compress = path.name.endswith(".gz") if compress is None else compress
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    return path


def _idx_array(shape, dtype, seed: int) -> np.ndarray:
    generator = rng(seed)
    if np.dtype(dtype).kind == "u":
        return generator.integers(0, 256, shape).astype(dtype)
    if np.dtype(dtype).kind == "i":
        info = np.iinfo(dtype)
        return generator.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    return (generator.standard_normal(shape) * 1000).astype(dtype)


# (file name, shape, dtype, expected_ndim)
IDX_CASES = [
    ("images-idx3-ubyte.gz", (4, 5, 6), np.uint8, 3),
    ("images-idx3-ubyte", (4, 5, 6), np.uint8, 3),
    ("labels-idx1-ubyte.gz", (7,), np.uint8, 1),
    ("labels-idx1-ubyte", (7,), np.uint8, None),
    ("signed-idx2-byte.gz", (3, 4), np.int8, 2),
    ("short-idx2-short", (3, 4), np.int16, None),
    ("int-idx2-int.gz", (2, 3), np.int32, 2),
    ("float-idx1-float", (5,), np.float32, 1),
    ("double-idx3-double.gz", (2, 2, 3), np.float64, None),
]


@pytest.mark.exercise("4.7")
@pytest.mark.parametrize(("name", "shape", "dtype", "expected_ndim"), IDX_CASES, ids=str)
def test_read_idx(tmp_path, name, shape, dtype, expected_ndim):
    array = _idx_array(shape, dtype, seed=len(name))
    path = write_file(tmp_path / name, idx_bytes(array))
    options = {} if expected_ndim is None else {"expected_ndim": expected_ndim}
    got = my_ds.read_idx(path, **options)
    expected = ref_ds.read_idx(path, **options)
    packing = "gzipped" if name.endswith(".gz") else "not compressed"
    inputs = f"an IDX file of a {shape} {np.dtype(dtype)} array, big-endian, {packing}"
    call = f"read_idx({name!r}{', expected_ndim=' + str(expected_ndim) if options else ''})"
    if isinstance(got, np.ndarray) and got.dtype.byteorder == ">":
        fail(f"{call} returned dtype {got.dtype} (big-endian); convert to native order ({inputs})")
    assert_same_array(got, expected, call, inputs)
    assert_same_array(got, array, f"{call} against the array written", inputs)
    again = my_ds.read_idx(str(path), **options)
    assert_same_array(again, expected, f"{call} with the path as a str", inputs)


@pytest.mark.exercise("4.7")
def test_read_idx_of_no_items(tmp_path):
    """A header that announces 0 items and no data after it is a valid, empty file."""
    path = write_file(tmp_path / "empty-idx1-ubyte", idx_bytes(np.zeros(0, np.uint8)))
    got = my_ds.read_idx(path)
    assert_same_array(got, np.zeros(0, np.uint8), "read_idx('empty-idx1-ubyte')", "shape (0,)")


def _valid(shape=(2, 3, 4)) -> bytes:
    return idx_bytes(_idx_array(shape, np.uint8, 0))


# name -> (file name, its bytes exactly as stored, expected_ndim)
BAD_IDX_FILES: dict[str, tuple[str, Callable[[], bytes], int | None]] = {
    "3-D data read with expected_ndim=1": ("images-idx3-ubyte", _valid, 1),
    "1-D data read with expected_ndim=3": ("labels-idx1-ubyte", lambda: _valid((5,)), 3),
    "a bad magic number (first byte 1)": ("magic-idx3-ubyte", lambda: b"\x01" + _valid()[1:], None),
    "a bad magic number (second byte 8)": (
        "magic2-idx3-ubyte",
        lambda: b"\x00\x08" + _valid()[2:],
        None,
    ),
    "a bad magic number (second byte 1), gzipped": (
        "magic2-idx1-ubyte.gz",
        lambda: gzip.compress(b"\x00\x01" + _valid((5,))[2:]),
        1,
    ),
    "an unknown type byte 0x0A": ("type-idx3-ubyte", lambda: b"\x00\x00\x0a" + _valid()[3:], None),
    "an empty file": ("empty-idx3-ubyte", lambda: b"", None),
    "a header cut after two of three sizes": ("header-idx3-ubyte", lambda: _valid()[:12], None),
    "data one byte short": ("short-idx3-ubyte", lambda: _valid()[:-1], None),
    "data one image short": ("shorter-idx3-ubyte.gz", lambda: gzip.compress(_valid()[:-12]), 3),
    "int32 data two bytes short": (
        "int-idx1-int",
        lambda: idx_bytes(_idx_array((6,), np.int32, 1))[:-2],
        1,
    ),
    "one extra byte after the data": ("extra-idx3-ubyte", lambda: _valid() + b"\x00", None),
    "a whole extra image after the data": (
        "extra-idx3-ubyte.gz",
        lambda: gzip.compress(_valid() + bytes(12)),
        3,
    ),
    "a gzip stream cut short": ("cut-idx3-ubyte.gz", lambda: gzip.compress(_valid())[:-12], None),
    "a .gz name on data that is not gzip": ("plain-idx3-ubyte.gz", _valid, None),
}


@pytest.mark.exercise("4.7")
@pytest.mark.parametrize("case", list(BAD_IDX_FILES))
def test_read_idx_rejects_damaged_files(tmp_path, case):
    name, make, expected_ndim = BAD_IDX_FILES[case]
    path = tmp_path / name
    path.write_bytes(make())
    options = {} if expected_ndim is None else {"expected_ndim": expected_ndim}
    call = f"read_idx({name!r}{', expected_ndim=' + str(expected_ndim) if options else ''})"
    error = expect_error(ValueError, f"{call} on {case}", my_ds.read_idx, path, **options)
    if name not in str(error):
        fail(f"{call} on {case}: the ValueError should name the file; it says {str(error)!r}")
    # A wrong data length names both lengths: the (2, 3, 4) header needs 24 bytes.
    lengths = {"data one byte short": ("23", "24"), "one extra byte after the data": ("25", "24")}
    expect_message_naming(error, f"{call} on {case}", *lengths.get(case, ()))


@pytest.mark.exercise("4.7")
def test_read_idx_missing_file(tmp_path):
    for name in ("missing-idx1-ubyte.gz", "missing-idx1-ubyte"):
        expect_error(
            FileNotFoundError, f"read_idx({name!r}) of a file that does not exist",
            my_ds.read_idx, tmp_path / name,
        )  # fmt: skip


def write_mnist(root: Path, layout: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Five test images (28x28 uint8) and their labels, in MNIST's four-file layout."""
    generator = rng(seed)
    images = generator.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = generator.integers(0, 10, 5).astype(np.uint8)
    folder = root if layout == "gzipped in root" else root / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if layout == "gzipped in root" else ""
    write_file(folder / f"t10k-images-idx3-ubyte{suffix}", idx_bytes(images))
    write_file(folder / f"t10k-labels-idx1-ubyte{suffix}", idx_bytes(labels))
    return images, labels


@pytest.mark.exercise("4.7")
@pytest.mark.parametrize("layout", ["gzipped in root", "uncompressed in root/MNIST/raw"])
def test_mnist_reads_with_your_read_idx(tmp_path, layout):
    images, labels = write_mnist(tmp_path, layout)
    what = f"MNIST(root, train=False) over 5 test images, {layout}"
    mine = my_ds.MNIST(tmp_path, train=False)
    if len(mine) != 5:
        fail(f"len({what}) is {len(mine)}, expected 5")
    for i in range(5):
        image, label = mine[i]
        assert_same_array(image, images[i], f"{what}[{i}] image", "read with your read_idx")
        if type(label) is not int or label != labels[i]:
            fail(f"{what}[{i}] label is {label!r}, expected {int(labels[i])!r}")
    normalize = ref_T.Compose([ref_T.ToTensor(), ref_T.Normalize((0.1307,), (0.3081,))])
    mine = my_ds.MNIST(
        tmp_path, train=False, transform=normalize, target_transform=lambda y: y + 10
    )
    ref = ref_ds.MNIST(
        tmp_path, train=False, transform=normalize, target_transform=lambda y: y + 10
    )
    for i in range(5):
        (image, label), (want_image, want_label) = mine[i], ref[i]
        assert_same_array(
            image.data, want_image.data, f"{what} with transform=ToTensor+Normalize: [{i}] image",
            "read with your read_idx",
        )  # fmt: skip
        if label != want_label:
            fail(
                f"{what} with target_transform=y+10: [{i}] label is {label!r}, expected {want_label!r}"
            )


# ---------------------------------------------------------------------------
# Exercise 4.8: downloading safely, from a small HTTP server on 127.0.0.1
# ---------------------------------------------------------------------------

GOOD = rng(48).integers(0, 256, 150_000).astype(np.uint8).tobytes()
GOOD_MD5 = hashlib.md5(GOOD, usedforsecurity=False).hexdigest()
CORRUPT = GOOD[:1000] + bytes([GOOD[1000] ^ 0xFF]) + GOOD[1001:]
DEAD = "http://127.0.0.1:1/"  # nothing listens on port 1: the connection is refused


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """Serves the server's routes: path -> (body, the Content-Length it announces); on a
    stalling route it then waits (1.8 s, or until the tests end) before closing."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path.startswith("/garbage/"):  # not HTTP at all: http.client's BadStatusLine
            self.wfile.write(b"this is not HTTP\r\n\r\n")
            self.close_connection = True
            return
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        body, announced = route
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)  # fewer bytes than announced: the connection just closes
        self.wfile.flush()
        if self.path in self.server.stalling:
            self.server.release.wait(1.8)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Mirror(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.requests: list[str] = []
        self.routes = {
            "/good/data.bin": (GOOD, len(GOOD)),
            "/corrupt/data.bin": (CORRUPT, len(CORRUPT)),
            "/interrupted/data.bin": (GOOD[:60_000], len(GOOD)),
            "/never/data.bin": (GOOD, len(GOOD)),
            "/stalled/data.bin": (GOOD[:60_000], len(GOOD)),
        }
        self.stalling = {"/stalled/data.bin"}
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def mirror():
    with pytest.MonkeyPatch.context() as patch:
        for name in ("no_proxy", "NO_PROXY"):  # never send 127.0.0.1 through a proxy
            patch.setenv(name, "127.0.0.1,localhost")
        server = Mirror()
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.release.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


@pytest.mark.exercise("4.8")
@pytest.mark.parametrize("as_str", [False, True], ids=["Path", "str"])
def test_download_file(mirror, tmp_path, as_str):
    url = f"{mirror.url}/good/data.bin"
    destination = tmp_path / "data.bin"
    my_ds.download_file(url, str(destination) if as_str else destination, GOOD_MD5, timeout=5)
    what = f"download_file({url!r}, folder/'data.bin', md5 of the 150000 bytes served)"
    if listing(tmp_path) != ["data.bin"]:
        fail(f"{what}: the folder holds {listing(tmp_path)}, expected ['data.bin'] only")
    data = destination.read_bytes()
    if data != GOOD:
        fail(f"{what}: the file has {len(data)} bytes that differ from the 150000 served")


FAILED_DOWNLOADS = {
    "a wrong MD5": ("/good/data.bin", hashlib.md5(b"other", usedforsecurity=False).hexdigest()),
    "corrupt bytes": ("/corrupt/data.bin", GOOD_MD5),
    "a 404": ("/missing/data.bin", GOOD_MD5),
    "an interrupted download": ("/interrupted/data.bin", GOOD_MD5),
    "an interrupted download whose part has the MD5 given (count the bytes)": (
        "/interrupted/data.bin",
        hashlib.md5(GOOD[:60_000], usedforsecurity=False).hexdigest(),
    ),
    "a server that answers garbage": ("/garbage/data.bin", GOOD_MD5),
    "a server that stalls mid-download (timeout=0.5)": ("/stalled/data.bin", GOOD_MD5),
    "a dead server": (None, GOOD_MD5),
}


@pytest.mark.exercise("4.8")
@pytest.mark.parametrize("existing", [False, True], ids=["no file yet", "a good file there"])
@pytest.mark.parametrize("case", list(FAILED_DOWNLOADS))
def test_download_file_failures_leave_nothing(mirror, tmp_path, case, existing):
    route, md5 = FAILED_DOWNLOADS[case]
    url = DEAD + "data.bin" if route is None else mirror.url + route
    destination = tmp_path / "data.bin"
    previous = b"a good copy from an earlier download"
    if existing:
        destination.write_bytes(previous)
    what = f"download_file of {case} ({url})" + (" over an existing file" if existing else "")
    start = time.monotonic()
    error = expect_error(
        my_ds.DownloadError, what, my_ds.download_file, url, destination, md5, timeout=0.5
    )
    waited = time.monotonic() - start
    if waited > 1.4:
        fail(f"{what} took {waited:.1f} s to fail: pass `timeout` on to urlopen")
    if url not in str(error):
        fail(f"{what}: the DownloadError should name the URL; it says {str(error)!r}")
    expected = ["data.bin"] if existing else []
    if listing(tmp_path) != expected:
        fail(f"{what}: the folder holds {listing(tmp_path)} afterwards, expected {expected}")
    if existing and destination.read_bytes() != previous:
        fail(f"{what}: the existing file was overwritten; only a verified download may replace it")


@pytest.mark.exercise("4.8")
def test_fetch_tries_mirrors_in_order(mirror, tmp_path):
    folder = tmp_path / "root" / "MNIST" / "raw"
    names = ("missing", "garbage", "corrupt", "interrupted", "good", "never")
    mirrors = [DEAD] + [f"{mirror.url}/{m}/" for m in names]
    mirror.requests.clear()
    what = (
        "fetch('data.bin', md5, folder, [dead, 404, garbage, corrupt, interrupted, good, another])"
    )
    result = my_ds.fetch("data.bin", GOOD_MD5, folder, mirrors)
    if Path(result) != folder / "data.bin":
        fail(f"{what} returned {result!r}, expected folder / 'data.bin'")
    if listing(folder) != ["data.bin"] or (folder / "data.bin").read_bytes() != GOOD:
        fail(f"{what}: the folder holds {listing(folder)}, expected the good data.bin only")
    tried = [path.split("/")[1] for path in mirror.requests]
    if tried != list(names[:-1]):
        fail(f"{what} asked the local mirrors {tried}, expected {list(names[:-1])}")


@pytest.mark.exercise("4.8")
def test_fetch_names_every_mirror_when_all_fail(mirror, tmp_path):
    folder = tmp_path / "raw"
    names = ("missing", "garbage", "corrupt", "interrupted")
    mirrors = [DEAD] + [f"{mirror.url}/{m}/" for m in names]
    what = "fetch('data.bin', md5, folder, [dead, 404, garbage, corrupt, interrupted])"
    error = expect_error(
        my_ds.DownloadError, what, my_ds.fetch, "data.bin", GOOD_MD5, folder, mirrors
    )
    message = str(error)
    for url in (m + "data.bin" for m in mirrors):
        if url not in message:
            fail(
                f"{what}: the DownloadError should list every URL tried; {url} is missing: {message!r}"
            )
    if str(folder) not in message:
        fail(f"{what}: the DownloadError should name the folder to put the file in ({folder})")
    if listing(folder) != []:
        fail(f"{what}: the folder holds {listing(folder)} afterwards, expected nothing")
    if not os.path.isdir(folder):
        fail(f"{what}: fetch should create the folder (with its parents)")


class NoLengthHandler(http.server.BaseHTTPRequestHandler):
    """Sends GOOD without a Content-Length: the body ends when the connection closes."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(GOOD)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.exercise("4.8")
def test_download_file_without_a_content_length(mirror, tmp_path):
    """`mirror` only sets no_proxy for 127.0.0.1; this server is another one."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoLengthHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/data.bin"
    destination = tmp_path / "data.bin"
    try:
        my_ds.download_file(url, destination, GOOD_MD5, timeout=10.0)
    except my_ds.DownloadError as error:
        fail(f"download_file of 150000 bytes sent without a Content-Length raised: {error}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    if not destination.exists() or destination.read_bytes() != GOOD:
        fail("download_file of a body sent without a Content-Length did not write it intact")


@pytest.mark.exercise("4.8")
def test_fetch_into_a_folder_that_exists(mirror, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    what = "fetch('data.bin', md5, folder, [good]) where folder already exists"
    try:
        result = my_ds.fetch("data.bin", GOOD_MD5, folder, [f"{mirror.url}/good/"])
    except FileExistsError as error:
        fail(f"{what} raised FileExistsError ({error}): create the folder only if it is missing")
    if Path(result) != folder / "data.bin" or (folder / "data.bin").read_bytes() != GOOD:
        fail(f"{what} returned {result!r} and did not leave the good data.bin in the folder")
