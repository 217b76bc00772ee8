"""Chapter 07: data parallelism across processes, on MPI.

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
    """Overwrite `tensor` on every rank with rank `src`'s, in place.

            array = _buffer(tensor)       (the NumPy array to write into)
            _group().Bcast(array, root=src)

    Every rank calls it (rank `src` sends, the others receive). In place means the caller's
    own array changes: assigning a new array to a local name would change nothing outside.
    """
    raise NotImplementedError("Exercise 7.1: Broadcast and all-gather")


def all_gather(tensor_list: list[Tensor | np.ndarray], tensor: Tensor | np.ndarray) -> None:
    """Fill `tensor_list[r]` with rank r's `tensor`, on every rank, in place.

    - len(tensor_list) must be the world size: otherwise raise ValueError saying both numbers.
    - gathered = np.empty((P, *shape), dtype) and `_group().Allgather(mine, gathered)` puts rank
      r's array in gathered[r] on every rank.
    - Copy each gathered[r] into _buffer(tensor_list[r])[...]: the caller's arrays or Tensors are
      filled, the list itself is not replaced.
    """
    raise NotImplementedError("Exercise 7.1: Broadcast and all-gather")


# --8<-- [end:collectives]


# --8<-- [start:ring]
# ---------------------------------------------------------------------------
# Exercise 7.2: the ring all-reduce, on point-to-point messages only
# ---------------------------------------------------------------------------


def chunk_bounds(length: int, parts: int) -> list[int]:
    """Return the P + 1 bounds that cut `length` elements into `parts` nearly equal chunks:
    chunk c is [bounds[c], bounds[c + 1]).

        bounds[c] = c * length // parts        (integer division after the product)

    so bounds[0] = 0, bounds[parts] = length, and the sizes differ by at most one (some are
    empty when length < parts). Dividing first, c * (length // parts), loses the last
    length mod parts elements.
    """
    raise NotImplementedError("Exercise 7.2: Ring all-reduce")


def ring_all_reduce(flat: np.ndarray, group: Any) -> None:
    """Sum the 1-D array `flat` over the ranks of `group`, in place, on a ring.

    Use only group.Get_size(), group.Get_rank() and group.Sendrecv(sendbuf, dest=...,
    recvbuf=..., source=...): no collective. P = size; rank r sends to right = (r + 1) % P and
    receives from left = (r - 1) % P. Cut `flat` into P chunks with chunk_bounds(flat.size, P);
    chunk(c) is the view flat[bounds[c % P] : bounds[c % P + 1]].

    Reduce-scatter, for step s = 0 .. P - 2:
        send chunk(r - s) to the right; receive into a scratch array the left neighbour's
        chunk(r - s - 1), and add it into your own chunk(r - s - 1).
    Then rank r holds chunk (r + 1) mod P summed over every rank.

    All-gather, for step s = 0 .. P - 2:
        send chunk(r + 1 - s) to the right; receive straight into chunk(r - s).

    The scratch array must be as long as the longest chunk (bounds[1] - bounds[0] + 1 is
    enough), of flat's dtype (the ranks send float32 and float64 arrays); receive into its
    first chunk(...).size elements. With P = 1 there is nothing to do.
    """
    raise NotImplementedError("Exercise 7.2: Ring all-reduce")


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
        """Block until the collective has finished, then leave its result in `self.array`.

        - If self.request is not None: self.request.Wait(), then set it to None.
        - If self.divide_by != 1 (a mean): self.array /= self.divide_by, then set divide_by to 1,
          so that a second wait() changes nothing.
        """
        raise NotImplementedError("Exercise 7.3: All-reduce, blocking or not")


def all_reduce(
    tensor: Tensor | np.ndarray, op: str = "sum", algorithm: str = "ring", async_op: bool = False
) -> Work | None:
    """Replace `tensor` on every rank with its sum (op="sum") or mean (op="mean") over the
    ranks, in place.

    - op not in REDUCE_OPS, or algorithm not in ALGORITHMS: ValueError naming the value.
    - array = _buffer(tensor); divide_by = the world size for "mean", else 1.
    - algorithm="ring": ring_all_reduce(array.reshape(-1), _group()) (a view: in place);
      request = None.
      algorithm="mpi": request = _group().Iallreduce(MPI.IN_PLACE, array, op=MPI.SUM), MPI's
      non-blocking all-reduce, which sums into `array` itself.
    - work = Work(array, request, divide_by). With async_op=True return work (the caller
      waits on it later); otherwise work.wait() and return None.
    """
    raise NotImplementedError("Exercise 7.3: All-reduce, blocking or not")


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
        """Return an iterator over this rank's indices.

        - order: np.random.default_rng(self.seed + self.epoch).permutation(len(dataset)) as a
          list when self.shuffle, else 0, 1, ..., len - 1. The seed must not depend on the rank:
          every rank draws the same permutation, so that the shards are disjoint.
        - drop_last: cut order to its first self.total_size indices. Otherwise pad it, repeating
          order from its start (as often as needed), up to self.total_size.
        - This rank's shard: order[self.rank : self.total_size : self.num_replicas].
        """
        raise NotImplementedError("Exercise 7.4: Each rank its shard")

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
        """Wrap `module`; make every rank start from rank 0's weights; hook every parameter.

        - super().__init__(); self.module = module (a child module: its parameters are ours).
        - Store algorithm, buckets and bucket_of with object.__setattr__ (Module's __setattr__
          would register them).
        - broadcast(tensor, src=0) for every parameter and buffer of `module`.
        - buckets = _pack(parameters in REVERSE order, bucket_cap_mb), over the parameters that
          require a gradient: backward produces the last layer's gradients first, so the first
          bucket fills, and its all-reduce starts, while backward is still running.
        - bucket_of[id(p)] = p's bucket, and p.register_post_accumulate_grad_hook(
          self._gradient_ready) for every parameter in a bucket.
        """
        raise NotImplementedError("Exercise 7.5: DistributedDataParallel")

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
        """The hook: `parameter.grad` has just been accumulated in this backward pass.

        Add it to its bucket (self.bucket_of[id(parameter)].add(parameter, self.algorithm)). When
        every bucket has started its all-reduce (bucket.work is not None for all), this was the
        last gradient of the pass: finish() every bucket, so that when backward() returns every
        .grad holds the mean over the ranks, before the optimizer's step.
        """
        raise NotImplementedError("Exercise 7.5: DistributedDataParallel")


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
        """Copy `parameter.grad` (flattened) into its slot, self.flat[self.slots[id(parameter)]],
        and mark it ready (self.ready.add(id(parameter))). When every parameter of the bucket is
        ready, start the bucket's all-reduce without waiting:
            self.work = all_reduce(self.flat, op="mean", algorithm=algorithm, async_op=True)
        """
        raise NotImplementedError("Exercise 7.5: DistributedDataParallel")

    def finish(self) -> None:
        """Wait for the bucket's all-reduce, then give each parameter its averaged gradient:
        parameter.grad = a copy of its slot of self.flat, reshaped to the parameter's shape (a copy:
        the next pass writes into self.flat again). Then clear self.ready and set self.work to None.
        """
        raise NotImplementedError("Exercise 7.5: DistributedDataParallel")


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
    """Return {metric: its mean over the examples of every rank}, the same on every rank.

    `sums[m]` is the sum of metric m over the examples this rank evaluated; `count` how many.
        totals = [sums[m] for m in sorted(sums)] + [count], as a float64 array
        all_reduce(totals, op="sum", algorithm="mpi")     (one collective for everything)
        mean[m] = totals[m's position] / totals[-1]
    Sort the names so that every rank packs them in the same order. A total count of 0:
    ValueError, decided after the all-reduce (a rank that raised before it, on its own count
    of 0, would leave the others waiting in the collective). (The mean of the ranks' means is
    wrong when the ranks saw different counts.)
    """
    raise NotImplementedError("Exercise 7.6: Evaluation and checkpoints")


def save_checkpoint(state_dict: Mapping[str, Any], path: str | PathLike) -> None:
    """Rank 0 writes `state_dict` to `path` with `save` (kindling.nn's); every rank returns
    once the file is complete.

        if get_rank() == 0: save(state_dict, path)
        barrier()

    Only rank 0 writes: the ranks hold the same weights, and P writers of one file can leave it
    corrupt. The barrier: a rank that loads the file right after must find it whole.
    """
    raise NotImplementedError("Exercise 7.6: Evaluation and checkpoints")


def load_checkpoint(path: str | PathLike) -> dict[str, np.ndarray]:
    """Every rank reads the checkpoint that `save_checkpoint` wrote (kindling.nn's `load`)."""
    return load(path)


# --8<-- [end:evaluation]
