"""Chapter 04: data, feeding a model batches of examples (`torch.utils.data`).

A Dataset answers two questions: how many examples, and what is example i
(the map-style protocol: `len(ds)`, `ds[i]`). A sampler decides the order of
the indices, a batch sampler groups them, and the DataLoader fetches each
group and collates the examples into one batch of Tensors. Keeping these
apart lets any dataset be shuffled, split, batched or combined the same way.

`datasets` (MNIST) and `transforms` are reachable from here too, as in
torchvision: `from kindling.data import DataLoader, datasets, transforms`.
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
        return tuple(a[index] for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0]) if self.arrays else 0


class Subset(Dataset):
    """The examples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = list(indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other: index i falls in the first dataset whose
    running total of lengths exceeds i."""

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self)}")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]

    def __len__(self) -> int:
        return self.cumulative_sizes[-1] if self.cumulative_sizes else 0


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: np.random.Generator | None = None
) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths.

    Lengths are counts summing to len(dataset), or fractions summing to 1 (counts are
    then floor(fraction * n), with the remainder handed out one by one from the
    first subset on). One permutation from `generator` (default: the library's)
    is cut into consecutive pieces.
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # fractions, as torch decides
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        counts = [int(np.floor(f * n)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        counts = [int(length) for length in lengths]
    if sum(counts) != n or min(counts, default=0) < 0:
        raise ValueError(
            f"random_split: lengths {list(lengths)} do not add up to the dataset's {n}"
        )
    order = (generator or default_generator()).permutation(n)
    ends = np.cumsum(counts)
    return [
        Subset(dataset, order[end - count : end].tolist())
        for count, end in zip(counts, ends, strict=True)
    ]


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
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler:
    """A new random permutation of the indices every time it is iterated (every epoch),
    drawn from `generator` (default: the library's, seeded by `manual_seed`)."""

    def __init__(self, data_source: Any, generator: np.random.Generator | None = None) -> None:
        self.data_source = data_source
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        generator = self.generator or default_generator()
        return iter(generator.permutation(len(self.data_source)).tolist())

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
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        full, rest = divmod(len(self.sampler), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1


# --8<-- [end:samplers]


# --8<-- [start:collate]
# ---------------------------------------------------------------------------
# Exercise 4.3: collation, from a list of examples to one batch
# ---------------------------------------------------------------------------


def default_collate(batch: list[Any]) -> Any:
    """Merge a list of examples into a batch, following the structure of the first.

    - Tensors and NumPy arrays: stacked along a new first axis, as one Tensor.
    - Python ints: an int64 Tensor; Python floats: a float64 Tensor; NumPy
      scalars keep their dtype; bools: a bool Tensor.
    - strings: left as a list.
    - a dict: a dict of the collated values, key by key.
    - a tuple or a list: a list of the collated fields, position by position.
    Samples whose shapes or structure differ are an error that names them.
    """
    first = batch[0]
    if isinstance(first, (Tensor, np.ndarray)):
        arrays = [np.asarray(x.data if isinstance(x, Tensor) else x) for x in batch]
        for i, array in enumerate(arrays):
            if array.shape != arrays[0].shape:
                raise ValueError(
                    f"default_collate: sample {i} has shape {array.shape}, but sample 0 has "
                    f"{arrays[0].shape}; every sample in a batch needs the same shape"
                )
        return Tensor(np.stack(arrays))
    if isinstance(first, (bool, np.bool_)):
        return Tensor(np.array(batch, dtype=bool))
    if isinstance(first, np.generic):
        return Tensor(np.array(batch, dtype=first.dtype))
    if isinstance(first, int):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(first, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(first, str):
        return list(batch)
    if isinstance(first, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(sample) != len(first) for sample in batch):
            raise ValueError(
                "default_collate: the samples in a batch have different numbers of fields"
            )
        return [default_collate(list(field)) for field in zip(*batch, strict=True)]
    raise TypeError(f"default_collate cannot batch samples of type {type(first).__name__}")


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
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if sampler is None:
            sampler = RandomSampler(dataset, generator) if shuffle else SequentialSampler(dataset)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.collate_fn = collate_fn or default_collate

    def __iter__(self) -> Iterator[Any]:
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self) -> int:
        return len(self.batch_sampler)


# --8<-- [end:loader]
