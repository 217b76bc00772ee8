"""Data parallelism across processes, on MPI: the answer key of chapter 07.

The same script runs as P processes (ranks), started by an MPI launcher:

    mpiexec -n 4 python train.py           on a laptop
    srun -n 64 python train.py             on a cluster with Slurm

Every rank holds the whole model and trains on its own shard of each batch; after the
backward pass the ranks average their gradients, so every rank takes the same step. The
API follows `torch.distributed`: a process group, the rank and world size, and collective
operations that every rank calls together.

The collective that data parallelism rests on is the all-reduce: every rank ends with the
sum (or mean) over ranks of an array. `all_reduce` offers two ways: MPI's own (`"mpi"`),
and the ring (`"ring"`, `ring_all_reduce`), written here on point-to-point messages only.

The process group (`init_process_group`, `get_rank`, ...) is given: a thin layer over
mpi4py. The exercises build on it: the collectives (7.1 to 7.3), each rank's shard of the
data (7.4), the model whose gradients are averaged during backward (7.5), and evaluation and
checkpoints shared by the ranks (7.6).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from os import PathLike
from typing import Any

import numpy as np

from .autograd import Tensor
from .nn import Module, load, save

try:
    from mpi4py import MPI
except (ImportError, RuntimeError):  # no mpi4py, or no MPI library for it to load
    MPI = None

REDUCE_OPS = ("sum", "mean")
ALGORITHMS = ("ring", "mpi")

_world: Any = None  # the communicator of the process group, once initialised


# --8<-- [start:group]
# ---------------------------------------------------------------------------
# The process group (given)
# ---------------------------------------------------------------------------


def init_process_group(backend: str = "mpi") -> None:
    """Join the group of all processes the launcher started (MPI's COMM_WORLD)."""
    global _world
    if backend != "mpi":
        raise ValueError(f"backend {backend!r} is not supported: kindling has backend='mpi' only")
    if MPI is None:
        raise RuntimeError(
            "init_process_group(backend='mpi') needs mpi4py and an MPI library: "
            "pip install mpi4py mpich (Linux, macOS on Apple chips), pip install mpi4py impi-rt "
            "(Windows), or brew install mpich (an Intel Mac)"
        )
    _world = MPI.COMM_WORLD


def is_initialized() -> bool:
    return _world is not None


def destroy_process_group() -> None:
    global _world
    _world = None


def _group() -> Any:
    if _world is None:
        raise RuntimeError(
            "Default process group has not been initialized, "
            "please make sure to call init_process_group."
        )
    return _world


def get_rank() -> int:
    """This process's number, 0 to world size - 1."""
    return _group().Get_rank()


def get_world_size() -> int:
    """How many processes the group holds."""
    return _group().Get_size()


def barrier() -> None:
    """Wait until every rank has called barrier()."""
    _group().Barrier()


# --8<-- [end:group]


# --8<-- [start:collectives]
# ---------------------------------------------------------------------------
# Exercise 7.1: broadcast and all-gather. Every rank calls a collective, with arrays of the
# same shape and dtype; it works in place.
# ---------------------------------------------------------------------------


def _buffer(tensor: Tensor | np.ndarray) -> np.ndarray:
    """The array a collective writes into, in place: a Tensor's data or the array itself."""
    array = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
        raise TypeError(
            "collectives work in place on a C-contiguous NumPy array or a Tensor holding one, "
            f"got {type(array).__name__}"
        )
    return array


def broadcast(tensor: Tensor | np.ndarray, src: int = 0) -> None:
    """Overwrite `tensor` on every rank with rank `src`'s, in place."""
    _group().Bcast(_buffer(tensor), root=src)


def all_gather(tensor_list: list[Tensor | np.ndarray], tensor: Tensor | np.ndarray) -> None:
    """Fill `tensor_list[r]` with rank r's `tensor`, on every rank."""
    group = _group()
    if len(tensor_list) != group.Get_size():
        raise ValueError(
            f"tensor_list has {len(tensor_list)} entries for a world of {group.Get_size()} ranks"
        )
    mine = _buffer(tensor)
    gathered = np.empty((group.Get_size(), *mine.shape), dtype=mine.dtype)
    group.Allgather(mine, gathered)
    for out, part in zip(tensor_list, gathered, strict=True):
        _buffer(out)[...] = part


# --8<-- [end:collectives]


# --8<-- [start:ring]
# ---------------------------------------------------------------------------
# Exercise 7.2: the ring all-reduce, on point-to-point messages only
# ---------------------------------------------------------------------------


def chunk_bounds(length: int, parts: int) -> list[int]:
    """Where each of `parts` nearly equal chunks of `length` elements starts, and the end:
    chunk c is [bounds[c], bounds[c + 1]). Sizes differ by at most one; some may be empty."""
    return [c * length // parts for c in range(parts + 1)]


def ring_all_reduce(flat: np.ndarray, group: Any) -> None:
    r"""Sum the 1-D array `flat` over the ranks of `group`, in place, on a ring.

    The P ranks stand in a ring: rank r sends only to r + 1 and receives only from r - 1
    (mod P). The array is cut into P chunks (`chunk_bounds`).

    Reduce-scatter, P - 1 steps: at step s, rank r sends its chunk (r - s) mod P to the
    right and adds the chunk (r - s - 1) mod P it receives from the left into its own.
    After the last step rank r holds chunk (r + 1) mod P summed over all ranks.

    All-gather, P - 1 steps: at step s, rank r sends its finished chunk (r + 1 - s) mod P
    to the right and stores the finished chunk (r - s) mod P it receives.

    Each rank sends 2 (P - 1) chunks of n / P elements: 2 (P - 1) / P of the array,
    whatever P is, which is why the ring scales.
    """
    size, rank = group.Get_size(), group.Get_rank()
    right, left = (rank + 1) % size, (rank - 1) % size
    bounds = chunk_bounds(flat.size, size)

    def chunk(c: int) -> np.ndarray:
        c %= size
        return flat[bounds[c] : bounds[c + 1]]

    received = np.empty(bounds[1] - bounds[0] + 1, dtype=flat.dtype)
    for step in range(size - 1):
        outgoing, incoming = chunk(rank - step), chunk(rank - step - 1)
        group.Sendrecv(outgoing, dest=right, recvbuf=received[: incoming.size], source=left)
        incoming += received[: incoming.size]
    for step in range(size - 1):
        outgoing, incoming = chunk(rank + 1 - step), chunk(rank - step)
        group.Sendrecv(outgoing, dest=right, recvbuf=incoming, source=left)


# --8<-- [end:ring]


# --8<-- [start:all_reduce]
# ---------------------------------------------------------------------------
# Exercise 7.3: all_reduce, blocking or not
# ---------------------------------------------------------------------------


class Work:
    """A collective that may still be running (`all_reduce(..., async_op=True)`): `wait()`
    blocks until its result is in place, as torch.distributed's Work."""

    def __init__(self, array: np.ndarray, request: Any = None, divide_by: int = 1) -> None:
        self.array, self.request, self.divide_by = array, request, divide_by

    def wait(self) -> None:
        if self.request is not None:
            self.request.Wait()
            self.request = None
        if self.divide_by != 1:
            self.array /= self.divide_by
            self.divide_by = 1


def all_reduce(
    tensor: Tensor | np.ndarray, op: str = "sum", algorithm: str = "ring", async_op: bool = False
) -> Work | None:
    """Replace `tensor` on every rank with the sum (op="sum") or the mean (op="mean") over
    ranks, in place: by the ring (`ring_all_reduce`) or by MPI's own Allreduce.

    With `async_op=True` it returns at once a `Work` to `wait()` on: MPI's non-blocking
    Iallreduce runs meanwhile (the ring, written on blocking messages, has summed on return;
    the mean's division waits for `wait()`)."""
    if op not in REDUCE_OPS:
        raise ValueError(f"op must be one of {REDUCE_OPS}, got {op!r}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    array = _buffer(tensor)
    group = _group()
    divide_by = group.Get_size() if op == "mean" else 1
    if algorithm == "ring":
        ring_all_reduce(array.reshape(-1), group)
        request = None
    else:
        request = group.Iallreduce(MPI.IN_PLACE, array, op=MPI.SUM)
    work = Work(array, request, divide_by)
    if async_op:
        return work
    work.wait()
    return None


# --8<-- [end:all_reduce]


# --8<-- [start:sampler]
# ---------------------------------------------------------------------------
# Exercise 7.4: each rank its shard of the data
# ---------------------------------------------------------------------------


class DistributedSampler:
    """The indices of rank `rank`'s shard of `dataset`, as torch.utils.data's.

    Every rank draws the same permutation (from `seed + epoch`: call `set_epoch` at the start
    of each epoch for a new one), then takes every `num_replicas`-th index from position
    `rank` on. The shards are disjoint and equally long: unless `drop_last`, the permutation
    is padded with its own first indices up to a multiple of `num_replicas`; with
    `drop_last`, its tail is cut to one.
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        num_replicas = get_world_size() if num_replicas is None else num_replicas
        rank = get_rank() if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        length = len(dataset)
        if drop_last:
            self.num_samples = length // num_replicas
        else:
            self.num_samples = math.ceil(length / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Choose the permutation of epoch `epoch` (the same on every rank)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        length = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(length).tolist()
        else:
            order = list(range(length))
        if self.drop_last:
            order = order[: self.total_size]
        elif order:
            repeats = math.ceil(self.total_size / len(order))
            order = (order * repeats)[: self.total_size]
        return iter(order[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples


# --8<-- [end:sampler]


# --8<-- [start:ddp]
# ---------------------------------------------------------------------------
# Exercise 7.5: the model on every rank, its gradients averaged during backward
# ---------------------------------------------------------------------------


class DistributedDataParallel(Module):
    r"""Wrap `module` so that P ranks, each training on its shard of every batch, take the
    same steps as one process training on the whole batch.

    With the loss a mean over each rank's B/P examples, the gradient of the whole batch's
    mean loss is the mean of the ranks' gradients:

    $$\nabla \frac{1}{B}\sum_{i=1}^{B} \ell_i
       = \frac{1}{P}\sum_{r=1}^{P} \nabla \frac{P}{B}\sum_{i \in \text{shard}_r} \ell_i$$

    so every rank all-reduces its gradients with op="mean", and starting from the same
    weights (rank 0's, broadcast here) every rank's optimizer takes the same step.

    The averaging overlaps the backward pass. The parameters are packed, last layer first
    (the order backward produces their gradients), into buckets of at most `bucket_cap_mb`
    megabytes. A post-accumulate-grad hook on each parameter copies its gradient into its
    bucket; when a bucket's last gradient arrives, its all-reduce starts (non-blocking) while
    backward goes on with the layers before. The hook of the very last gradient waits for
    all buckets and puts the averages back in `.grad`: when backward() returns, the
    gradients are averaged, before `optimizer.step()`. (MPI needs every rank to start its
    collectives in the same order: so they do, since every rank's backward walks the same
    graph in the same order.)
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0, algorithm: str = "mpi") -> None:
        super().__init__()
        self.module = module
        object.__setattr__(self, "algorithm", algorithm)
        parameters = [p for p in module.parameters() if p.requires_grad]
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor is not None:
                broadcast(tensor, src=0)
        object.__setattr__(self, "buckets", _pack(parameters[::-1], bucket_cap_mb))
        object.__setattr__(self, "bucket_of", {})  # by id(parameter), as _Bucket.slots
        for bucket in self.buckets:
            for parameter in bucket.parameters:
                self.bucket_of[id(parameter)] = bucket
                parameter.register_post_accumulate_grad_hook(self._gradient_ready)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        unfinished = [p for bucket in self.buckets for p in bucket.waiting_for()]
        if unfinished and any(bucket.ready for bucket in self.buckets):
            raise RuntimeError(
                f"the last backward pass gave no gradient to {len(unfinished)} parameter(s) "
                "(shapes " + ", ".join(str(p.shape) for p in unfinished[:4]) + "): "
                "DistributedDataParallel averages a bucket when all its parameters have one"
            )
        return self.module(*args, **kwargs)

    def _gradient_ready(self, parameter: Tensor) -> None:
        self.bucket_of[id(parameter)].add(parameter, self.algorithm)
        if all(bucket.work is not None for bucket in self.buckets):
            for bucket in self.buckets:
                bucket.finish()


class _Bucket:
    """Gradients of some parameters, flat in one array, all-reduced together."""

    def __init__(self, parameters: list[Tensor]) -> None:
        self.parameters = parameters
        bounds = np.cumsum([0] + [p.data.size for p in parameters])
        # Tensor's == is elementwise: parameters are told apart by identity.
        spans = zip(parameters, bounds[:-1], bounds[1:], strict=True)
        self.slots = {id(p): slice(start, end) for p, start, end in spans}
        self.flat = np.zeros(int(bounds[-1]), dtype=parameters[0].dtype)
        self.ready: set[int] = set()
        self.work: Work | None = None

    def waiting_for(self) -> list[Tensor]:
        return [p for p in self.parameters if id(p) not in self.ready]

    def add(self, parameter: Tensor, algorithm: str) -> None:
        self.flat[self.slots[id(parameter)]] = parameter.grad.reshape(-1)
        self.ready.add(id(parameter))
        if len(self.ready) == len(self.parameters):
            self.work = all_reduce(self.flat, op="mean", algorithm=algorithm, async_op=True)

    def finish(self) -> None:
        """Wait for the all-reduce; each parameter's .grad becomes its average."""
        self.work.wait()
        for parameter in self.parameters:
            parameter.grad = self.flat[self.slots[id(parameter)]].reshape(parameter.shape).copy()
        self.ready.clear()
        self.work = None


def _pack(parameters: list[Tensor], cap_mb: float) -> list[_Bucket]:
    """Consecutive parameters of one dtype, in buckets of at most `cap_mb` megabytes (a
    larger parameter gets a bucket of its own)."""
    buckets: list[list[Tensor]] = []
    size = 0
    for parameter in parameters:
        fits = buckets and size + parameter.data.nbytes <= cap_mb * 2**20
        if fits and buckets[-1][0].dtype == parameter.dtype:
            buckets[-1].append(parameter)
            size += parameter.data.nbytes
        else:
            buckets.append([parameter])
            size = parameter.data.nbytes
    return [_Bucket(bucket) for bucket in buckets]


# --8<-- [end:ddp]


# --8<-- [start:evaluation]
# ---------------------------------------------------------------------------
# Exercise 7.6: evaluation and checkpoints, shared by the ranks
# ---------------------------------------------------------------------------


def average_metrics(sums: Mapping[str, float], count: int) -> dict[str, float]:
    r"""The mean of each metric over every rank's examples, the same on every rank.

    Each rank passes, for each metric, the sum of its values over the examples this rank
    evaluated, and how many examples that was. One all-reduce sums both over the ranks:

    $$\text{mean}_m = \frac{\sum_r \text{sums}_r[m]}{\sum_r \text{count}_r}$$

    (The mean of the ranks' means would be wrong when the ranks saw different counts.)
    """
    names = sorted(sums)  # every rank packs the metrics in the same order
    totals = np.array([float(sums[name]) for name in names] + [float(count)])
    all_reduce(totals, op="sum", algorithm="mpi")
    if totals[-1] == 0:
        raise ValueError("average_metrics: no rank evaluated any example (every count is 0)")
    return {name: float(totals[i] / totals[-1]) for i, name in enumerate(names)}


def save_checkpoint(state_dict: Mapping[str, Any], path: str | PathLike) -> None:
    """Rank 0 writes `state_dict` to `path` (kindling.nn's `save`); every rank returns once
    the file is complete.

    One writer: every rank holds the same weights, and P ranks writing one file at once can
    interleave into a corrupt file. Then a barrier, so that a rank that loads the file right
    after (`load_checkpoint`) never finds it missing or half written.
    """
    if get_rank() == 0:
        save(state_dict, path)
    barrier()


def load_checkpoint(path: str | PathLike) -> dict[str, np.ndarray]:
    """Every rank reads the checkpoint that `save_checkpoint` wrote (kindling.nn's `load`)."""
    return load(path)


# --8<-- [end:evaluation]
