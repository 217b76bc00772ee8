"""solutions/distributed.py: the collectives as real MPI jobs, the sampler against torch's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import solutions.distributed as dist
from grading import mpi
from solutions.autograd import Tensor, manual_seed
from solutions.cnn import ConvNet
from solutions.data import TensorDataset
from solutions.distributed import DistributedSampler
from solutions.nn import Linear, Module
from tests.mpi_equivalence import MISTAKES
from tests.workspace import compile_the_answer_keys_kernels

ROOT = Path(__file__).resolve().parent.parent


def run_job(ranks: int, module: str, *options: str) -> dict:
    """`mpiexec -n ranks python -m module options`: the JSON line rank 0 printed last."""
    if (reason := mpi.missing()) is not None:
        pytest.skip(reason)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    job = mpi.run(ranks, ["-m", module, *options], 120, cwd=ROOT, env=env)
    assert job.returncode == 0, f"{job.describe(120)}:\n{job.output[-3000:]}"
    return json.loads(job.output.strip().splitlines()[-1])


# Each MPI job: 1 to 2 s on a 2-core AMD EPYC (4 ranks oversubscribe it).
@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("ranks", [1, 2, 3, 4])
def test_ring_all_reduce_equals_mpis_on_every_rank(ranks):
    result = run_job(ranks, "tests.mpi_checks")
    assert result["ranks"] == ranks
    assert result["failures"] == []


# Each rank trains the ConvNet for 3 steps, and rank 0 once more alone: 3 to 6 s a job on
# the 2-core EPYC, once the answer key's kernels are compiled (compile_the_answer_keys_kernels).
@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("ranks", [2, 3, 4])
@pytest.mark.parametrize("averaging", ["by hand", "DistributedDataParallel"])
def test_p_ranks_follow_the_trajectory_of_one_process_with_the_whole_batch(ranks, averaging):
    compile_the_answer_keys_kernels()
    options = ["--ddp"] if averaging == "DistributedDataParallel" else []
    result = run_job(ranks, "tests.mpi_equivalence", *options)
    assert result["ranks"] == ranks and result["agree"], result
    assert max(result["differences"]) < 1e-6, result  # float32: 3e-8 seen


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mistake", MISTAKES)
def test_the_trajectory_comparison_notices_a_planted_mistake(mistake):
    compile_the_answer_keys_kernels()
    result = run_job(2, "tests.mpi_equivalence", "--mistake", mistake)
    assert max(result["differences"]) > 1e-4, result  # 1e-2 seen


@pytest.mark.parametrize("length", [0, 1, 7, 10, 11, 12])
@pytest.mark.parametrize("replicas", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_distributed_sampler_matches_torchs(monkeypatch, length, replicas, drop_last, shuffle):
    """The same shards as torch's, given the same permutation: torch draws its own with
    torch.randperm, replaced here by the one kindling draws from seed + epoch."""
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler

    def kindlings_permutation(n, generator=None, **_):
        return torch.tensor(np.random.default_rng(generator.initial_seed()).permutation(n))

    monkeypatch.setattr(torch, "randperm", kindlings_permutation)
    data = TensorDataset(np.arange(length))
    for rank in range(replicas):
        options = dict(
            num_replicas=replicas, rank=rank, shuffle=shuffle, seed=5, drop_last=drop_last
        )
        mine, theirs = DistributedSampler(data, **options), TorchSampler(range(length), **options)
        for epoch in (0, 1):
            mine.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(mine) == list(theirs), (rank, epoch)
            assert len(mine) == len(theirs)


def test_each_epoch_shards_disjoint_and_reshuffled():
    shards = [DistributedSampler(range(12), num_replicas=3, rank=r, seed=1) for r in range(3)]
    first = [list(shard) for shard in shards]
    assert sorted(index for shard in first for index in shard) == list(range(12))
    for shard in shards:
        shard.set_epoch(1)
    assert [list(shard) for shard in shards] != first


@pytest.fixture
def one_rank():
    """A process group of this process alone (MPI starts as a singleton without mpiexec)."""
    if (reason := mpi.missing()) is not None:
        pytest.skip(reason)
    dist.init_process_group("mpi")
    yield dist
    dist.destroy_process_group()


def test_ddp_packs_the_last_layer_first_in_buckets_under_the_cap(one_rank):
    model = one_rank.DistributedDataParallel(ConvNet(), bucket_cap_mb=0.5)
    shapes = [[tuple(p.shape) for p in bucket.parameters] for bucket in model.buckets]
    assert shapes == [
        [(10,), (10, 128), (128,)],
        [(128, 3136)],  # 1.5 MB: over the cap, alone
        [(64,), (64, 32, 3, 3), (32,), (32, 1, 3, 3)],
    ]
    assert list(model.parameters()) == list(model.module.parameters())


def test_ddp_on_one_rank_leaves_the_gradients_as_they_are(one_rank):
    manual_seed(3)
    plain = Linear(4, 3)
    manual_seed(3)
    wrapped = one_rank.DistributedDataParallel(Linear(4, 3), bucket_cap_mb=0.0001)
    x = Tensor(np.arange(8, dtype=np.float32).reshape(2, 4))
    for model in (plain, wrapped):
        (model(x) * model(x)).sum().backward()
    for mine, expected in zip(wrapped.parameters(), plain.parameters(), strict=True):
        np.testing.assert_array_equal(mine.grad, expected.grad)


def test_ddp_says_which_parameters_got_no_gradient(one_rank):
    class HalfUsed(Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = Linear(4, 2), Linear(4, 5)

        def forward(self, x):
            return self.used(x)

    model = one_rank.DistributedDataParallel(HalfUsed(), bucket_cap_mb=1)
    x = Tensor(np.ones((1, 4), dtype=np.float32))
    model(x).sum().backward()
    with pytest.raises(
        RuntimeError, match=r"no gradient to 2 parameter\(s\) \(shapes \(5,\), \(5, 4\)"
    ):
        model(x)
