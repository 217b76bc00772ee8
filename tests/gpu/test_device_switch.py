"""KINDLING_DEVICE=cuda sends the answer key's products and convolutions to the GPU (here,
the simulator): a small conv net gives the same loss and gradients as on the CPU, and
gpu.matmul / gpu.conv2d_forward are really the ones called."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.environ.get("NUMBA_ENABLE_CUDASIM") != "1", reason="needs NUMBA_ENABLE_CUDASIM=1"
)

SCRIPT = """
import json
import numpy as np
import kindling, kindling.nn as nn
import kindling.gpu as gpu  # the module the answer key calls (KINDLING_IMPL=reference)
from kindling.cnn import Conv2d, max_pool2d

calls = []
for name in ("matmul", "conv2d_forward", "conv2d_backward"):
    original = getattr(gpu, name)
    def spy(*args, _name=name, _original=original):
        calls.append(_name)
        return _original(*args)
    setattr(gpu, name, spy)

kindling.manual_seed(0)
conv = Conv2d(2, 3, 3, padding=1)
fc = nn.Linear(3 * 2 * 2, 4)
x = kindling.tensor(np.random.default_rng(0).standard_normal((2, 2, 5, 4)).astype(np.float32))
hidden = max_pool2d(nn.functional.relu(conv(x)), 2).reshape(2, -1)
loss = nn.CrossEntropyLoss()(fc(hidden), kindling.tensor(np.array([1, 3])))
loss.backward()
grads = [p.grad.tolist() for p in (conv.weight, conv.bias, fc.weight, fc.bias)]
print(json.dumps({"device": kindling.DEVICE, "loss": loss.item(), "grads": grads,
                  "calls": sorted(set(calls))}))
"""


def run(device: str) -> dict:
    env = {**os.environ, "KINDLING_IMPL": "reference", "KINDLING_DEVICE": device}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_gpu_path_gives_the_cpu_results():
    on_gpu, on_cpu = run("cuda"), run("cpu")
    assert on_gpu["device"] == "cuda"
    assert on_gpu["calls"] == ["conv2d_backward", "conv2d_forward", "matmul"]
    assert on_cpu["calls"] == []
    assert on_gpu["loss"] == pytest.approx(on_cpu["loss"], rel=1e-5)
    for got, expected in zip(on_gpu["grads"], on_cpu["grads"], strict=True):
        np.testing.assert_allclose(np.array(got), np.array(expected), rtol=1e-4, atol=1e-6)
