"""solutions/distributed.py: the collectives as real MPI jobs, the sampler against torch's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from solutions.data import TensorDataset
from solutions.distributed import DistributedSampler
from tests.mpi_checks import PLANTED

ROOT = Path(__file__).resolve().parent.parent


def mpiexec() -> str:
    """The MPI launcher of this environment (the mpich or impi-rt wheel puts it beside Python)."""
    beside = Path(sys.executable).parent / ("mpiexec.exe" if os.name == "nt" else "mpiexec")
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    try:
        from mpi4py import MPI  # noqa: F401  (fails where no MPI library is installed)
    except (ImportError, RuntimeError):
        found = None
    if found is None:
        pytest.skip(
            "MPI is not installed: pip install mpi4py mpich "
            "(Windows: pip install mpi4py impi-rt; an Intel Mac: brew install mpich)"
        )
    return found


def run_checks(ranks: int, *options: str) -> dict:
    """`mpiexec -n ranks python -m tests.mpi_checks`: what rank 0 printed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1"}
    command = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "tests.mpi_checks", *options]
    try:  # a deadlock (a send without its receive) hangs: the limit ends it
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired as stuck:
        raise AssertionError(f"{' '.join(command)} ran past 120 s (a deadlock?)") from stuck
    assert done.returncode == 0, f"the MPI job failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


# Each MPI job: 1 to 2 s on a 2-core AMD EPYC (4 ranks oversubscribe it).
@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("ranks", [1, 2, 3, 4])
def test_ring_all_reduce_equals_mpis_on_every_rank(ranks):
    result = run_checks(ranks)
    assert result["ranks"] == ranks
    assert result["failures"] == []


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("plant", sorted(PLANTED))
def test_the_checks_catch_a_planted_mistake(plant):
    assert run_checks(3, "--plant", plant)["failures"], f"{plant!r} went unnoticed"


@pytest.mark.parametrize("length", [0, 1, 7, 10, 11, 12])
@pytest.mark.parametrize("replicas", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_distributed_sampler_matches_torchs(monkeypatch, length, replicas, drop_last, shuffle):
    """The same shards as torch's, given the same permutation: torch draws its own with
    torch.randperm, replaced here by the one kindling draws from seed + epoch."""
    torch = pytest.importorskip("torch")
    import numpy as np
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
