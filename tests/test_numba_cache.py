"""tests/numba_cache.py: an edit keeps the compiled functions it does not reach, and only those."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.numba_cache import carry_over

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # each run: 1 to 3 s

MODULE = """from numba import njit

K = 3


@njit(inline="always", cache=True)
def _double(x):
    return x * 2


@njit(cache=True)
def f(x):
    return _double(x) + 1


@njit(cache=True)
def g(x):
    return x * K
"""

RUN = """import json, sys
sys.path.insert(0, sys.argv[1])
import m
values = {name: getattr(m, name)(2.0) for name in ("f", "g")}
hits = {name: sum(getattr(m, name).stats.cache_hits.values()) for name in ("f", "g")}
print(json.dumps({"values": values, "hits": hits}))
"""


def run(folder: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(folder)],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    """A module whose f and g are in Numba's cache, compiled from MODULE."""
    folder = tmp_path_factory.mktemp("original")
    (folder / "m.py").write_text(MODULE, encoding="utf-8")
    assert run(folder)["values"] == {"f": 5.0, "g": 6.0}
    return folder


def edited(compiled: Path, folder: Path, new_text: str) -> list[str]:
    shutil.copytree(compiled, folder)
    (folder / "m.py").write_text(new_text, encoding="utf-8")
    return carry_over(compiled / "m.py", folder / "m.py", folder / "__pycache__")


def test_a_changed_helper_recompiles_its_callers_only(compiled, tmp_path):
    # The line added on top moves every function: the kept files are renamed to match.
    new = "# edited\n" + MODULE.replace("return x * 2", "return x * 5")
    assert edited(compiled, tmp_path / "m", new) == ["g"]
    result = run(tmp_path / "m")
    assert result["values"] == {"f": 11.0, "g": 6.0}  # f is not the stale 5.0
    assert result["hits"] == {"f": 0, "g": 1}


def test_a_changed_constant_recompiles_its_readers_only(compiled, tmp_path):
    assert edited(compiled, tmp_path / "m", MODULE.replace("K = 3", "K = 4")) == ["f"]
    result = run(tmp_path / "m")
    assert result["values"] == {"f": 5.0, "g": 8.0}
    assert result["hits"] == {"f": 1, "g": 0}


@pytest.mark.parametrize(
    ("change", "carried"),
    [
        ("import numba\nnumba.config.BOUNDSCHECK = 1\n", []),  # binds no name
        ("@other\ndef h(x):\n    return x\n", []),  # a decorator that may register something
        ("def broken(:\n", []),  # does not parse
        ("def f(x):\n    return x\n", ["g"]),  # which f is compiled? g does not call it
    ],
)
def test_what_it_cannot_prove_compiles_again(compiled, tmp_path, change, carried):
    assert edited(compiled, tmp_path / "m", MODULE + "\n\n" + change) == carried
    left = {path.name.split("-")[0] for path in (tmp_path / "m" / "__pycache__").glob("m.*.nb*")}
    assert left == {f"m.{name}" for name in carried}
