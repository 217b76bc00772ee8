"""The matrix product's register tile: both tiles compute the right thing, and the one in
use fits the vector registers of the CPU Numba compiles for (solutions/kernels.py)."""

from __future__ import annotations

import numpy as np
import pytest
from llvmlite import binding as llvm

from solutions import kernels

TILES = {(4, 6): kernels._tile_4x6, (4, 3): kernels._tile_4x3}


@pytest.mark.parametrize(("rows", "cols"), list(TILES))
@pytest.mark.parametrize("depth", [0, 1, 7, 8, 9, 33])
def test_each_tile_adds_its_block_of_the_product(rows, cols, depth):
    rng = np.random.default_rng(depth)
    a = rng.standard_normal((rows + 3, depth + 5), dtype=np.float32)
    bt = rng.standard_normal((cols + 2, depth + 5), dtype=np.float32)
    c = rng.standard_normal((rows + 3, cols + 2), dtype=np.float32)
    expected = c.copy()
    i, j, p0 = 2, 1, 3  # a tile away from the corner, over part of the shared dimension
    block = a[i : i + rows, p0 : p0 + depth] @ bt[j : j + cols, p0 : p0 + depth].T
    expected[i : i + rows, j : j + cols] += block
    TILES[rows, cols](a, bt, c, i, j, p0, p0 + depth)
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


def test_the_tile_in_use_fits_the_registers():
    registers = kernels.vector_registers()
    assert registers in (16, 32)
    sums, b_values, a_value = kernels.ROWS * kernels.COLS, kernels.COLS, 1
    assert sums + b_values + a_value <= registers
    assert kernels._tile is TILES[kernels.ROWS, kernels.COLS]
    assert kernels.PANEL % kernels.COLS == 0  # a block holds whole tiles


@pytest.mark.parametrize(
    ("machine", "cpu_name", "features", "registers"),
    [
        ("x86_64", "haswell", "+avx2,+fma,-avx512f", 16),  # most laptops
        ("x86_64", "skylake-avx512", "+avx2,+avx512f", 32),
        ("x86_64", "generic", "", 16),  # NUMBA_CPU_NAME=generic: a portable cache
        ("arm64", "", "", 32),  # Apple's M chips: NEON has 32 registers
        ("aarch64", "", "", 32),
    ],
)
def test_vector_registers_follows_what_numba_compiles_for(
    monkeypatch, machine, cpu_name, features, registers
):
    monkeypatch.setattr(kernels.platform, "machine", lambda: machine)
    monkeypatch.setattr(kernels.numba_config, "CPU_NAME", cpu_name or None)
    monkeypatch.setattr(kernels.numba_config, "CPU_FEATURES", features or None)
    assert kernels.vector_registers() == registers


def test_vector_registers_reads_this_cpu_when_numba_compiles_for_it(monkeypatch):
    monkeypatch.setattr(kernels.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(kernels.numba_config, "CPU_NAME", None)
    host = llvm.get_host_cpu_features()
    assert kernels.vector_registers() == (32 if host.get("avx512f") else 16)
