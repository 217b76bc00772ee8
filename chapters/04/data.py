"""Chapter 04: data, feeding a model batches of examples (`torch.utils.data`).

A Dataset answers two questions: how many examples, and what is example i
(the map-style protocol: `len(ds)`, `ds[i]`). A sampler decides the order of
the indices, a batch sampler groups them, and the DataLoader fetches each
group and collates the examples into one batch of Tensors. Keeping these
apart lets any dataset be shuffled, split, batched or combined the same way.

`datasets` (MNIST) and `transforms` are reachable from here too, as in
torchvision: `from kindling.data import DataLoader, datasets, transforms`.

This is YOUR file for chapter 04. Each function that raises
NotImplementedError("Exercise 4.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's chapter 04 explains the ideas. Check
your work with

    pytest chapters/04
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import datasets, transforms
from .autograd import Tensor, default_generator

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "RandomSampler",
    "SequentialSampler",
    "Subset",
    "TensorDataset",
    "datasets",
    "default_collate",
    "random_split",
    "transforms",
]


class Dataset:
    """The map-style protocol: subclasses define `__len__` and `__getitem__(index)`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


# --8<-- [start:datasets]
# ---------------------------------------------------------------------------
# Exercise 4.1: datasets from arrays, subsets, splits and concatenation
# ---------------------------------------------------------------------------


class TensorDataset(Dataset):
    """Example i is (a[i], b[i], ...) for arrays (or Tensors) that share their first dimension."""

    def __init__(self, *arrays: Any) -> None:
        self.arrays = [np.asarray(a.data if isinstance(a, Tensor) else a) for a in arrays]
        lengths = {len(a) for a in self.arrays}
        if len(lengths) > 1:
            shapes = ", ".join(str(a.shape) for a in self.arrays)
            raise ValueError(f"TensorDataset: the arrays differ in their first dimension: {shapes}")

    def __getitem__(self, index: int) -> tuple:
        """Return the tuple `(a[index], b[index], ...)` over `self.arrays`."""
        raise NotImplementedError("Exercise 4.1: Datasets")

    def __len__(self) -> int:
        return len(self.arrays[0]) if self.arrays else 0


class Subset(Dataset):
    """The examples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = list(indices)

    def __getitem__(self, index: int) -> Any:
        """Return example `self.indices[index]` of the underlying dataset."""
        raise NotImplementedError("Exercise 4.1: Datasets")

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other: index i falls in the first dataset whose
    running total of lengths exceeds i."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __getitem__(self, index: int) -> Any:
        """Return example `index` of the datasets laid end to end.

        Negative indices count from the end; raise IndexError when out of range.
        `self.cumulative_sizes` holds the running totals of the lengths (e.g. [3, 8]
        for lengths 3 and 5): the dataset holding `index` is the first whose running
        total exceeds it (`bisect.bisect_right`), and the index inside it is `index`
        minus the total of the datasets before it.
        """
        raise NotImplementedError("Exercise 4.1: Datasets")

    def __len__(self) -> int:
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: np.random.Generator | None = None
) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets with the given lengths.

    1. n = len(dataset). If `lengths` sums to 1 (`math.isclose`, and the sum is at
       most 1), they are fractions: raise ValueError for one outside [0, 1];
       counts = floor(fraction * n) each, then hand out the n - sum(counts)
       leftover examples one by one, to subset 0, 1, ... (cycling). Otherwise the
       lengths are the counts (as ints).
    2. Raise ValueError naming the lengths and n when the counts do not sum to n
       or one is negative.
    3. order = `(generator or default_generator()).permutation(n)`: one draw.
    4. Subset i gets the next counts[i] entries of `order` (as a list of ints),
       in order: the first subset takes order[:counts[0]], and so on.
    """
    raise NotImplementedError("Exercise 4.1: Datasets")


# --8<-- [end:datasets]


# --8<-- [start:samplers]
# ---------------------------------------------------------------------------
# Exercise 4.2: samplers, the order of the indices
# ---------------------------------------------------------------------------


class SequentialSampler:
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        """Return an iterator over 0, 1, ..., len(data_source) - 1."""
        raise NotImplementedError("Exercise 4.2: Samplers")

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler:
    """A new random permutation of the indices every time it is iterated (every epoch),
    drawn from `generator` (default: the library's, seeded by `manual_seed`)."""

    def __init__(self, data_source: Any, generator: np.random.Generator | None = None) -> None:
        self.data_source = data_source
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        """Return an iterator over a NEW random permutation of the indices.

        Draw `generator.permutation(len(data_source))` at every call (so every epoch
        has its own order), from `self.generator`, or `default_generator()` when
        it is None; yield Python ints.
        """
        raise NotImplementedError("Exercise 4.2: Samplers")

    def __len__(self) -> int:
        return len(self.data_source)


class BatchSampler:
    """Groups the indices of `sampler` into lists of `batch_size`; the last, shorter
    group is kept unless `drop_last`."""

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        """Yield lists of `batch_size` consecutive indices from `self.sampler`.

        The last list may be shorter: yield it unless `drop_last`. Iterate the
        sampler only once per call (a RandomSampler gives a new order each time).
        """
        raise NotImplementedError("Exercise 4.2: Samplers")

    def __len__(self) -> int:
        """The number of batches: ceil(len(sampler) / batch_size), or the floor when drop_last."""
        raise NotImplementedError("Exercise 4.2: Samplers")


# --8<-- [end:samplers]


# --8<-- [start:collate]
# ---------------------------------------------------------------------------
# Exercise 4.3: collation, from a list of examples to one batch
# ---------------------------------------------------------------------------


def default_collate(batch: list[Any]) -> Any:
    """Merge a list of examples into one batch, following the type of `batch[0]`.

    - Tensor or np.ndarray: `Tensor(np.stack(arrays))` with a new first axis (use
      the `.data` of Tensors). If a sample's shape differs from sample 0's, raise
      ValueError naming both samples' indices and shapes.
    - bool (or np.bool_): a bool Tensor. Check bool BEFORE int: True is an int.
    - a NumPy scalar (np.generic): a Tensor of that dtype.
    - int: an int64 Tensor; float: a float64 Tensor (as torch does).
    - str: the list of strings, unchanged.
    - a Mapping (dict): `{key: default_collate([sample[key] for sample in batch])}`.
    - a tuple or list: a list, one collated entry per field
      (`zip(*batch)` gives the fields); ValueError if the samples' lengths differ.
    - anything else: TypeError naming the type.
    """
    raise NotImplementedError("Exercise 4.3: Collation")


# --8<-- [end:collate]


# --8<-- [start:loader]
# ---------------------------------------------------------------------------
# Exercise 4.4: the DataLoader
# ---------------------------------------------------------------------------


class DataLoader:
    """Batches of `dataset`, in the order a sampler gives, collated by `collate_fn`.

    shuffle=True uses a RandomSampler on `generator` (a new order every epoch);
    otherwise the indices run in order. A custom `sampler` replaces both (and
    cannot be combined with shuffle). Iterating the loader again starts a new epoch.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        sampler: Any = None,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        """Store the arguments and build the sampling pipeline.

        1. ValueError("sampler option is mutually exclusive with shuffle") when both
           a sampler and shuffle=True are given.
        2. Without a sampler: `RandomSampler(dataset, generator)` when shuffle, else
           `SequentialSampler(dataset)`.
        3. Set self.dataset, self.batch_size, self.drop_last, self.sampler,
           self.batch_sampler = BatchSampler(sampler, batch_size, drop_last), and
           self.collate_fn = collate_fn, or default_collate when it is None.
        """
        raise NotImplementedError("Exercise 4.4: The DataLoader")

    def __iter__(self) -> Iterator[Any]:
        """For each list of indices from the batch sampler, yield
        `self.collate_fn([self.dataset[i] for i in indices])`.
        """
        raise NotImplementedError("Exercise 4.4: The DataLoader")

    def __len__(self) -> int:
        """The number of batches per epoch: the batch sampler's length."""
        raise NotImplementedError("Exercise 4.4: The DataLoader")


# --8<-- [end:loader]
