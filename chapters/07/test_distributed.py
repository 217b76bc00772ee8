"""Graders for chapter 07 (data parallelism on MPI). Run them with: pytest chapters/07

Most of chapter 07's code only means something on several processes at once, so most tests
here start a real MPI job: `mpiexec -n 4 python -m grading.mpi ... this file CHECK`, four
ranks each running the check function CHECK below on your `kindling.distributed`, with more
ranks than cores where the computer has fewer (they take turns). How the job ends decides the
test: every rank passed; a rank's check found a wrong value (FAIL, the lowest such rank is
named); your code raised (ERROR, with the rank and the line); or the job was still running
after LIMIT_S, a deadlock (ERROR, with the line each rank was waiting on).

The checks compare with arithmetic done here in float64 and with the answer key's
`solutions.distributed` (the sampler's shards, the trajectory of plain SGD on one process).
"""

from __future__ import annotations

import inspect
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kindling.autograd as my_autograd
import kindling.distributed as my_dist
import kindling.nn as my_nn
import kindling.optim as my_optim
import solutions.distributed as ref_dist
from grading import mpi
from grading.check import assert_same_array, expect_error, expect_message_naming, fail

ROOT = Path(__file__).resolve().parents[2]
RANKS = 4
# A job's time limit. Every job here ends in under 1 s on an idle 2-core AMD EPYC; a job
# still running at the limit is reported as a deadlock.
LIMIT_S = 15.0


def world() -> Any:
    """The grader's own view of the job (MPI's COMM_WORLD), to compare the ranks' results."""
    from mpi4py import MPI

    my_dist.init_process_group("mpi")
    return MPI.COMM_WORLD


# ---------------------------------------------------------------------------
# Exercise 7.1: broadcast and all-gather
# ---------------------------------------------------------------------------


def check_broadcast_and_all_gather() -> None:
    comm = world()
    rank, size = comm.Get_rank(), comm.Get_size()
    for src in range(size):
        array = np.full((2, 3), float(rank), dtype=np.float32)
        same_object = array
        my_dist.broadcast(array, src=src)
        if array is not same_object or not (array == src).all():
            fail(
                f"broadcast(array, src={src}) on {size} ranks: rank {rank}'s array holds "
                f"{array.ravel()[0]:g}, expected rank {src}'s value {src} (in place)"
            )
    tensor = my_autograd.Tensor(np.arange(5, dtype=np.float64) * (rank + 1))
    my_dist.broadcast(tensor, src=size - 1)
    assert_same_array(
        tensor.data, np.arange(5, dtype=np.float64) * size, "broadcast of a Tensor", f"rank {rank}"
    )
    for kind in ("arrays", "Tensors"):
        parts = [np.zeros(4, dtype=np.float32) for _ in range(size)]
        if kind == "Tensors":
            parts = [my_autograd.Tensor(part) for part in parts]
        given = list(parts)
        mine = np.arange(4, dtype=np.float32) + 10 * rank
        my_dist.all_gather(parts, my_autograd.Tensor(mine) if kind == "Tensors" else mine)
        if any(part is not before for part, before in zip(parts, given, strict=False)):
            fail("all_gather replaced entries of tensor_list: fill the caller's own arrays")
        for r, part in enumerate(parts):
            got = part.data if kind == "Tensors" else part
            expected = np.arange(4, dtype=np.float32) + 10 * r
            assert_same_array(
                got, expected, f"all_gather into {kind}: entry {r} on rank {rank}", f"{size} ranks"
            )
        if not (mine == np.arange(4) + 10 * rank).all():
            fail("all_gather changed the array it was given to send")
    short = [np.zeros(4, dtype=np.float32) for _ in range(size + 1)]
    error = expect_error(
        ValueError, "all_gather with a list one entry too long", my_dist.all_gather, short, mine
    )
    expect_message_naming(error, "all_gather with a list one entry too long", str(size + 1))


@pytest.mark.exercise("7.1")
def test_broadcast_and_all_gather():
    mpi.on_ranks(check_broadcast_and_all_gather, RANKS, LIMIT_S)


# ---------------------------------------------------------------------------
# Exercise 7.2: the ring all-reduce
# ---------------------------------------------------------------------------


@pytest.mark.exercise("7.2")
@pytest.mark.parametrize("parts", [1, 2, 3, 4, 7])
def test_chunk_bounds(parts):
    for length in (0, 1, 2, 3, 5, 10, 11, 1001):
        got = my_dist.chunk_bounds(length, parts)
        expected = ref_dist.chunk_bounds(length, parts)
        if list(got) != expected:
            fail(f"chunk_bounds({length}, {parts}) is {list(got)}, expected {expected}")


class PointToPointOnly:
    """The group the ring gets: its size, its rank and Sendrecv, nothing else. It counts
    what this rank sends, for the ring's cost: 2 (P - 1) messages of about n / P elements."""

    ALLOWED = ("Get_size", "Get_rank", "Sendrecv")

    def __init__(self, group: Any) -> None:
        self._group, self.messages, self.elements = group, 0, 0

    def Get_size(self) -> int:
        return self._group.Get_size()

    def Get_rank(self) -> int:
        return self._group.Get_rank()

    def Sendrecv(self, *args: Any, **kwargs: Any) -> Any:
        sendbuf = args[0] if args else kwargs.get("sendbuf")
        self.messages += 1
        self.elements += np.asarray(sendbuf).size
        return self._group.Sendrecv(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        fail(
            f"ring_all_reduce called group.{name}: the ring is written on point-to-point "
            f"messages only (the group offers {', '.join(self.ALLOWED)})"
        )


def check_ring_all_reduce() -> None:
    """On sub-groups of 1 to 4 ranks (the first P ranks of the job), for awkward lengths."""
    from mpi4py import MPI

    comm = world()
    rank = comm.Get_rank()
    for size in range(1, comm.Get_size() + 1):
        group = comm.Split(0 if rank < size else MPI.UNDEFINED, rank)
        if group == MPI.COMM_NULL:
            continue
        for length in sorted({0, 1, size - 1, size + 1, 7, 1001}):
            for dtype in (np.float32, np.float64):

                def data(r: int, length: int = length, dtype: type = dtype) -> np.ndarray:
                    return np.random.default_rng([r, length]).standard_normal(length).astype(dtype)

                flat = data(rank)
                expected = sum(data(r).astype(np.float64) for r in range(size)).astype(dtype)
                counting = PointToPointOnly(group)
                my_dist.ring_all_reduce(flat, counting)
                case = f"ring_all_reduce on {size} ranks of {length} {np.dtype(dtype).name}"
                inputs = f"rank r's array from default_rng([r, {length}])"
                assert_same_array(flat, np.asarray(expected), f"{case}: rank {rank}'s sum", inputs)
                if len(set(group.allgather(flat.tobytes()))) != 1:
                    fail(f"{case}: the ranks end with different arrays")
                longest = -(-length // size)
                if (
                    counting.messages > 2 * (size - 1)
                    or counting.elements > 2 * (size - 1) * longest
                ):
                    fail(
                        f"{case}: rank {rank} sent {counting.messages} messages of "
                        f"{counting.elements} elements in all; the ring sends 2 (P - 1) = "
                        f"{2 * (size - 1)} chunks of at most {longest}"
                    )
        group.Free()


@pytest.mark.exercise("7.2")
def test_ring_all_reduce():
    mpi.on_ranks(check_ring_all_reduce, RANKS, LIMIT_S)


# ---------------------------------------------------------------------------
# Exercise 7.3: all_reduce, blocking or not
# ---------------------------------------------------------------------------


def check_all_reduce() -> None:
    comm = world()
    rank, size = comm.Get_rank(), comm.Get_size()
    rings = []  # the calls of ring_all_reduce: algorithm="ring" needs it, "mpi" must not
    real_ring = my_dist.ring_all_reduce
    my_dist.ring_all_reduce = lambda *args, **kwargs: rings.append(1) or real_ring(*args, **kwargs)
    try:
        reduce_each_way(rank, size, rings)
    finally:
        my_dist.ring_all_reduce = real_ring
    for wrong in ({"op": "max"}, {"algorithm": "tree"}):
        name, value = next(iter(wrong.items()))
        error = expect_error(
            ValueError, f"all_reduce({name}={value!r})", my_dist.all_reduce,
            np.zeros(3), **wrong,
        )  # fmt: skip
        expect_message_naming(error, f"all_reduce({name}={value!r})", value)


def reduce_each_way(rank: int, size: int, rings: list) -> None:
    for algorithm in ("ring", "mpi"):
        for op in ("sum", "mean"):
            for dtype, shape, as_tensor in ((np.float32, (2, 3), True), (np.float64, (7,), False)):

                def data(r: int, shape=shape, dtype=dtype) -> np.ndarray:
                    return np.random.default_rng(r).standard_normal(shape).astype(dtype)

                expected = sum(data(r).astype(np.float64) for r in range(size))
                expected = (expected / size if op == "mean" else expected).astype(dtype)
                case = f"all_reduce(op={op!r}, algorithm={algorithm!r}) of {shape} {np.dtype(dtype).name}"
                held = my_autograd.Tensor(data(rank)) if as_tensor else data(rank)
                array = held.data if as_tensor else held
                for async_op in (False, True):
                    array[...] = data(rank)
                    rings.clear()
                    work = my_dist.all_reduce(held, op=op, algorithm=algorithm, async_op=async_op)
                    if bool(rings) != (algorithm == "ring"):
                        fail(
                            f"{case}: ring_all_reduce was called {len(rings)} time(s): "
                            "algorithm='ring' runs it, algorithm='mpi' runs MPI's Iallreduce"
                        )
                    if not async_op and work is not None:
                        fail(f"{case} returned {type(work).__name__}: without async_op, None")
                    if async_op:
                        if not hasattr(work, "wait"):
                            fail(f"{case}, async_op=True returned {work!r}, not a Work to wait on")
                        work.wait()
                        work.wait()  # a second wait changes nothing
                    got = held.data if as_tensor else held
                    what = f"{case}{', async_op=True, after wait() twice' if async_op else ''} on rank {rank}"
                    assert_same_array(got, expected, what, f"{size} ranks, in place")


@pytest.mark.exercise("7.3")
@pytest.mark.parametrize("ranks", [2, 3])
def test_all_reduce(ranks):
    mpi.on_ranks(check_all_reduce, ranks, LIMIT_S)


# ---------------------------------------------------------------------------
# Exercise 7.4: each rank its shard (no MPI job needed: the rank is given)
# ---------------------------------------------------------------------------


@pytest.mark.exercise("7.4")
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [True, False])
def test_shards_match_the_answer_keys(shuffle, drop_last):
    for length, replicas in ((10, 3), (12, 4), (5, 2), (3, 4), (1, 1)):
        dataset = list(range(length))
        for epoch in (0, 1):
            for rank in range(replicas):
                options = {"shuffle": shuffle, "seed": 7, "drop_last": drop_last}
                mine = my_dist.DistributedSampler(dataset, replicas, rank, **options)
                ref = ref_dist.DistributedSampler(dataset, replicas, rank, **options)
                mine.set_epoch(epoch)
                ref.set_epoch(epoch)
                got, expected = [int(i) for i in mine], list(ref)
                if got != expected:
                    fail(
                        f"DistributedSampler(dataset of {length}, num_replicas={replicas}, "
                        f"rank={rank}, shuffle={shuffle}, seed=7, drop_last={drop_last}), "
                        f"epoch {epoch}: gave {got}, expected {expected}"
                    )


@pytest.mark.exercise("7.4")
def test_shards_are_disjoint_and_change_with_the_epoch():
    dataset = list(range(40))
    shards = {}
    for epoch in (0, 1):
        samplers = [my_dist.DistributedSampler(dataset, 4, rank, seed=3) for rank in range(4)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        shards[epoch] = [[int(i) for i in sampler] for sampler in samplers]
        together = sorted(i for shard in shards[epoch] for i in shard)
        if together != dataset:
            fail(
                f"epoch {epoch}: the 4 ranks' shards of a dataset of 40 are not disjoint or "
                f"miss examples (together: {together}); every rank must draw the same "
                "permutation, whatever its rank"
            )
    if shards[0] == shards[1]:
        fail("set_epoch(1) gave the same shards as epoch 0: seed the permutation with seed + epoch")


# ---------------------------------------------------------------------------
# Exercise 7.5: DistributedDataParallel
# ---------------------------------------------------------------------------

FEATURES, CLASSES, BATCH_PER_RANK, STEPS = 5, 3, 3, 3
# 200 bytes: three buckets, [4.bias, 4.weight, 2.bias], [2.weight, 0.bias], [0.weight].
BUCKET_CAP_MB = 200 / 2**20


def small_net(seed: int) -> Any:
    my_autograd.manual_seed(seed)
    nn = my_nn
    return nn.Sequential(
        nn.Linear(FEATURES, 7), nn.ReLU(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, CLASSES)
    )


def check_distributed_data_parallel() -> None:
    comm = world()
    rank, size = comm.Get_rank(), comm.Get_size()
    names = [name for name, _ in small_net(0).named_parameters()]
    # Every rank starts from different weights: DDP must give them all rank 0's.
    model = my_dist.DistributedDataParallel(
        small_net(seed=rank + 1), bucket_cap_mb=BUCKET_CAP_MB, algorithm="mpi"
    )
    by_id = {id(p): name for name, p in model.module.named_parameters()}
    packed = [[by_id.get(id(p), "?") for p in bucket.parameters] for bucket in model.buckets]
    expected_packing = [
        [by_id[id(p)] for p in bucket.parameters]
        for bucket in ref_dist._pack(list(model.module.parameters())[::-1], BUCKET_CAP_MB)
    ]
    if packed != expected_packing:
        fail(
            f"with bucket_cap_mb={BUCKET_CAP_MB * 2**20:g} bytes / 2**20, model.buckets holds "
            f"{packed}, expected {expected_packing}: the parameters in reverse order (the order "
            "backward produces their gradients), packed with _pack"
        )
    expected_buckets = len(expected_packing)
    for name, parameter in model.module.named_parameters():
        every_rank = comm.allgather(parameter.data.tobytes())
        differ = [r for r, held in enumerate(every_rank) if held != every_rank[0]]
        if differ:
            fail(
                f"after DistributedDataParallel(model), rank {differ[0]}'s {name} differs from "
                "rank 0's (each rank started from its own random weights): broadcast every "
                "parameter from rank 0 when wrapping"
            )
    single = small_net(seed=1)  # rank 0's start, trained on the whole batch in one process
    optimizer = my_optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    single_optimizer = my_optim.SGD(single.parameters(), lr=0.1, momentum=0.9)
    loss_function = my_nn.CrossEntropyLoss()

    # Watch the all-reduces that backward starts, and how many gradients were ready then.
    # They run on MPI's own all-reduce, whatever algorithm they ask for: this exercise's
    # grade does not depend on your ring (7.2).
    calls: list[tuple[int, dict]] = []
    ready = [0]
    real_all_reduce = my_dist.all_reduce
    signature = inspect.signature(real_all_reduce)

    def watched(*args: Any, **kwargs: Any) -> Any:
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        calls.append((ready[0], dict(call.arguments)))
        return real_all_reduce(**{**call.arguments, "algorithm": "mpi"})

    my_dist.all_reduce = watched
    for parameter in model.module.parameters():
        parameter.register_post_accumulate_grad_hook(lambda p: ready.__setitem__(0, ready[0] + 1))
    try:
        for step in range(STEPS):
            rng = np.random.default_rng(step)
            images = rng.standard_normal((BATCH_PER_RANK * size, FEATURES)).astype(np.float32)
            labels = rng.integers(0, CLASSES, BATCH_PER_RANK * size)
            shard = slice(rank * BATCH_PER_RANK, (rank + 1) * BATCH_PER_RANK)
            calls.clear()
            ready[0] = 0
            optimizer.zero_grad()
            loss = loss_function(model(my_autograd.Tensor(images[shard])), labels[shard])
            loss.backward()
            single_optimizer.zero_grad()
            loss_function(single(my_autograd.Tensor(images)), labels).backward()
            for name, mine, whole in zip(
                names, model.module.parameters(), single.parameters(), strict=True
            ):
                if mine.grad is None:
                    fail(f"step {step}: after backward(), {name}.grad is None on rank {rank}")
                try:
                    assert_same_array(mine.grad, whole.grad, f"{name}.grad", f"{size} ranks")
                except AssertionError as error:
                    fail(
                        f"step {step}: when backward() returned, rank {rank}'s {name}.grad was "
                        "not the mean of the ranks' gradients (the gradient of the whole batch): "
                        f"{str(error).split(': ', 1)[1]}. Wait for every bucket before backward "
                        "returns, and average (op='mean')"
                    )
            if len(calls) != expected_buckets:
                fail(
                    f"step {step}: backward started {len(calls)} all-reduce(s) for "
                    f"{expected_buckets} buckets of at most {BUCKET_CAP_MB * 2**20:g} bytes: one "
                    "per bucket, when its last gradient arrives"
                )
            if not all(call["async_op"] for _, call in calls):
                fail("each bucket's all_reduce must be started with async_op=True (not waited on)")
            check_algorithm(calls, "mpi")
            first_started_with = calls[0][0] + 1
            if first_started_with >= len(names):
                fail(
                    "the first bucket's all-reduce started only when every gradient was ready: "
                    "pack the parameters last layer first (backward's order), so that it starts "
                    "while backward is still running"
                )
            optimizer.step()
            single_optimizer.step()
            for name, mine, whole in zip(
                names, model.module.parameters(), single.parameters(), strict=True
            ):
                assert_same_array(
                    mine.data, whole.data, f"after step {step}, rank {rank}'s {name}",
                    "SGD with momentum 0.9, lr 0.1",
                )  # fmt: skip
        # The other algorithm: one backward pass of a second model.
        calls.clear()
        ringed = my_dist.DistributedDataParallel(
            small_net(seed=1), bucket_cap_mb=BUCKET_CAP_MB, algorithm="ring"
        )
        loss_function(ringed(my_autograd.Tensor(images[shard])), labels[shard]).backward()
        check_algorithm(calls, "ring")
    finally:
        my_dist.all_reduce = real_all_reduce


def check_algorithm(calls: list[tuple[int, dict]], algorithm: str) -> None:
    used = [call["algorithm"] for _, call in calls]
    if any(name != algorithm for name in used):
        fail(
            f"DistributedDataParallel(model, algorithm={algorithm!r}) all-reduced its buckets "
            f"with algorithm={used}: pass its algorithm on to all_reduce"
        )


@pytest.mark.exercise("7.5")
def test_distributed_data_parallel():
    mpi.on_ranks(check_distributed_data_parallel, RANKS, LIMIT_S)


# ---------------------------------------------------------------------------
# Exercise 7.6: evaluation and checkpoints
# ---------------------------------------------------------------------------


def check_evaluation_and_checkpoints() -> None:
    comm = world()
    rank, size = comm.Get_rank(), comm.Get_size()
    # Rank r evaluated r + 1 examples: the mean of the ranks' means would be wrong.
    count = rank + 1
    sums = {"loss": 2.0 * count * (rank + 1), "accuracy": 0.5 * count + rank}
    if rank % 2:
        sums = dict(reversed(list(sums.items())))  # every rank its own order
    got = my_dist.average_metrics(sums, count)
    total = sum(r + 1 for r in range(size))
    expected = {
        "accuracy": sum(0.5 * (r + 1) + r for r in range(size)) / total,
        "loss": sum(2.0 * (r + 1) ** 2 for r in range(size)) / total,
    }
    if not isinstance(got, dict) or sorted(got) != sorted(expected):
        fail(f"average_metrics returned {got!r} on rank {rank}: a dict with {sorted(expected)}")
    for name, value in expected.items():
        if not np.isclose(float(got[name]), value, rtol=1e-12):
            fail(
                f"average_metrics on rank {rank} (counts 1 to {size} per rank): {name} is "
                f"{float(got[name]):.6g}, expected {value:.6g}, the sum over ranks divided by "
                "the total count"
            )
    nothing = {"loss": 0.5, "accuracy": 1.0}  # sums, but no rank counted an example
    what = "average_metrics with every count 0"
    expect_error(ValueError, what, my_dist.average_metrics, nothing, 0)

    folder = comm.bcast(tempfile.mkdtemp(prefix="kindling-ckpt-") if rank == 0 else None)
    path = Path(folder) / "model.npz"
    state = {"weight": np.full((2, 3), 1.5, dtype=np.float32), "bias": np.arange(3.0)}
    writes = []
    real_save = my_dist.save

    def slow_save(state_dict: Any, to: Any) -> None:
        writes.append(str(to))
        time.sleep(1.0)  # a big checkpoint: writing takes a while (long beside a busy machine)
        real_save(state_dict, to)

    my_dist.save = slow_save
    try:
        my_dist.save_checkpoint(state, path)
    finally:
        my_dist.save = real_save
    if not path.exists():
        fail(
            f"rank {rank} returned from save_checkpoint before the file was written: "
            "every rank waits (barrier) until rank 0 has written it"
        )
    loaded = my_dist.load_checkpoint(path)
    for name, value in state.items():
        assert_same_array(loaded[name], value, f"{name} loaded on rank {rank}", str(path))
    every_rank = comm.allgather(len(writes))
    if every_rank[0] != 1 or sum(every_rank) != 1:
        fail(
            "save_checkpoint called save() "
            + ", ".join(f"{n} time(s) on rank {r}" for r, n in enumerate(every_rank))
            + ": only rank 0 writes the checkpoint, once"
        )
    comm.Barrier()
    if rank == 0:
        path.unlink()
        os.rmdir(folder)


@pytest.mark.exercise("7.6")
def test_evaluation_and_checkpoints():
    mpi.on_ranks(check_evaluation_and_checkpoints, 3, LIMIT_S)


if __name__ == "__main__":  # a rank of one of the jobs above
    mpi.serve_checks(
        {name: value for name, value in globals().items() if name.startswith("check_")}
    )
