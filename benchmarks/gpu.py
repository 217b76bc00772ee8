"""The GPU check: every CUDA kernel of kindling.gpu against NumPy, then timed against torch.

On a machine with an NVIDIA GPU, from the repository's root:

    KINDLING_IMPL=reference python benchmarks/gpu.py

1. checks each kernel's result against NumPy at full size (matmul at --size, the second
   conv layer of the original tutorial's ConvNet, its backward, a long reduction);
2. times each kernel on data already on the GPU against torch (cuBLAS, cuDNN; TF32 off,
   so both sides compute in fp32), and prints the ratios;
3. times what the answer key really does per call, copies included (its tensors live in
   the computer's memory), and one training step of the original tutorial's ConvNet with
   KINDLING_DEVICE=cuda against the same step on the CPU.

`--quick` shrinks everything to a few elements, so the script can run on numba-cuda's
simulator (NUMBA_ENABLE_CUDASIM=1): the course's tests do that, to check it still runs.
It prints, it asserts nothing about speed; a wrong result makes it exit with status 1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("KINDLING_IMPL", "reference")
import timing
from numba import cuda

import kindling.gpu as gpu
from grading.simulator import use_a_short_switch_interval

try:
    import torch
except ImportError:  # kindling's side still runs
    torch = None

ROOT = Path(__file__).resolve().parent.parent
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
use_a_short_switch_interval()  # the simulator's threads wait less for each other


ROUNDS = [3]  # timing rounds; --quick makes it 1


def seconds(run: Callable[[], object], repeat: int, sync: Callable[[], object]) -> float:
    """Best of 3 rounds of `repeat` calls, each round ended by waiting for the GPU."""
    run()
    sync()
    best = float("inf")
    for _ in range(ROUNDS[0]):
        start = time.perf_counter()
        for _ in range(repeat):
            run()
        sync()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def torch_sync() -> None:
    torch.cuda.synchronize()


def torch_ready() -> bool:
    return torch is not None and torch.cuda.is_available() and not SIMULATED


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def check(self, name: str, got: np.ndarray, expected: np.ndarray, rtol: float = 1e-3) -> None:
        error = float(np.max(np.abs(got - expected)) / max(float(np.max(np.abs(expected))), 1e-30))
        verdict = "ok" if error <= rtol else "WRONG"
        if verdict == "WRONG":
            self.failures.append(name)
        print(f"  {name:<44} max error / max |expected| = {error:.1e}  {verdict}")

    def timing(self, name: str, ours: float, theirs: float | None, flops: float = 0) -> None:
        rate = f"{flops / ours / 1e12:7.2f} TFLOP/s" if flops else " " * 15
        if theirs is None:
            print(f"  {name:<44} {ours * 1e3:9.3f} ms {rate}")
            return
        print(
            f"  {name:<44} {ours * 1e3:9.3f} ms {rate}  torch {theirs * 1e3:9.3f} ms"
            f"  ratio {ours / theirs:6.2f}  (kindling's time / torch's)"
        )


def random_array(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def reference_conv(x: np.ndarray, weight: np.ndarray, padding: int) -> np.ndarray:
    """conv2d with stride 1 in float64, by im2col in NumPy (the answer key of exercise 5.2)."""
    from solutions.cnn import im2col

    n, _, h, w = x.shape
    filters, _, k, _ = weight.shape
    out_h, out_w = h + 2 * padding - k + 1, w + 2 * padding - k + 1
    cols = im2col(x.astype(np.float64), k, k, 1, padding)
    out = cols @ weight.reshape(filters, -1).T.astype(np.float64)
    return out.reshape(n, out_h, out_w, filters).transpose(0, 3, 1, 2)


def kernels(args: argparse.Namespace, report: Report) -> None:
    size, repeat = args.size, args.repeat
    a, b = random_array((size, size), 0), random_array((size, size), 1)
    d_a, d_b = cuda.to_device(a), cuda.to_device(b)
    d_c = cuda.device_array((size, size), dtype=np.float32)
    expected = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    blocks = gpu._blocks(size, gpu.BLOCK)
    tiles = gpu._blocks(size, gpu.TILE)

    def blocked() -> None:
        gpu.matmul_kernel[(blocks, blocks), (gpu.SIDE, gpu.SIDE)](d_a, d_b, d_c)

    def tiled() -> None:
        gpu.matmul_tiled_kernel[(tiles, tiles), (gpu.TILE, gpu.TILE)](d_a, d_b, d_c)

    print(f"results against NumPy (float64), matmul at {size}^3:")
    blocked()
    report.check("matmul_kernel (register-blocked)", d_c.copy_to_host(), expected)
    tiled()
    report.check("matmul_tiled_kernel", d_c.copy_to_host(), expected)

    n, c, hw, filters = args.conv
    x, weight = random_array((n, c, hw, hw), 2), random_array((filters, c, 3, 3), 3)
    bias = np.zeros(filters, np.float32)
    grad = random_array((n, filters, hw, hw), 4)
    report.check("conv2d_kernel (forward)", gpu.conv2d_forward(x, weight, bias, 1, 1),
                 reference_conv(x, weight, 1))  # fmt: skip
    grad_x, grad_w = gpu.conv2d_backward(grad, x, weight, 1, 1)
    flipped = weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]  # the adjoint: a transposed conv
    report.check("conv2d_grad_input_kernel", grad_x, reference_conv(grad, flipped.copy(), 1))
    report.check("conv2d_grad_weight_kernel", grad_w, reference_weight_grad(grad, x))
    values = random_array((args.reduce,), 5)
    total = np.array([gpu.gpu_sum(values)], np.float32)
    report.check("gpu_sum (block_sum_kernel)", total, np.array([values.astype(np.float64).sum()]))
    scaled = gpu.scale_add(2.0, values, values)
    report.check("scale_add (scale_add_kernel)", scaled, 3 * values)

    print(f"\nkernel times, data already on the GPU (best of 3 x {repeat} calls):")
    flops = 2.0 * size**3
    theirs_mm = theirs_conv = theirs_conv_bwd = None
    if torch_ready():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        t_a, t_b = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        theirs_mm = seconds(lambda: t_a @ t_b, repeat, torch_sync)
        t_x = torch.from_numpy(x).cuda().requires_grad_()
        t_w = torch.from_numpy(weight).cuda().requires_grad_()
        t_g = torch.from_numpy(grad).cuda()
        conv = torch.nn.functional.conv2d
        theirs_conv = seconds(lambda: conv(t_x, t_w, padding=1), repeat, torch_sync)
        theirs_conv_bwd = (
            seconds(
                lambda: torch.autograd.grad(conv(t_x, t_w, padding=1), (t_x, t_w), t_g),
                repeat,
                torch_sync,
            )
            - theirs_conv
        )
    report.timing(f"matmul_kernel {size}^3 vs cuBLAS", seconds(blocked, repeat, cuda.synchronize),
                  theirs_mm, flops)  # fmt: skip
    report.timing(f"matmul_tiled_kernel {size}^3 vs cuBLAS", seconds(tiled, repeat, cuda.synchronize),
                  theirs_mm, flops)  # fmt: skip

    d_x, d_w, d_bias = cuda.to_device(x), cuda.to_device(weight), cuda.to_device(bias)
    d_g = cuda.to_device(grad)
    d_out = cuda.device_array((n, filters, hw, hw), dtype=np.float32)
    d_gx = cuda.device_array(x.shape, dtype=np.float32)
    d_gw = cuda.device_array(weight.shape, dtype=np.float32)

    def forward() -> None:
        gpu.conv2d_kernel[gpu._blocks(d_out.size), gpu.THREADS](d_x, d_w, d_bias, d_out, 1, 1)

    zeros = np.zeros(weight.shape, np.float32)

    def backward() -> None:
        d_gw.copy_to_device(zeros)  # the weight's gradient is summed with atomic adds
        grid = (gpu._blocks(weight.size), n)
        gpu.conv2d_grad_weight_kernel[grid, gpu.THREADS](d_g, d_x, d_gw, 1, 1)
        gpu.conv2d_grad_input_kernel[gpu._blocks(x.size), gpu.THREADS](d_g, d_w, d_gx, 1, 1)

    shape = f"{n}x{c}x{hw}x{hw}, {filters} 3x3"
    report.timing(f"conv2d forward {shape} vs cuDNN", seconds(forward, repeat, cuda.synchronize),
                  theirs_conv)  # fmt: skip
    report.timing(f"conv2d backward {shape} vs cuDNN", seconds(backward, repeat, cuda.synchronize),
                  theirs_conv_bwd)  # fmt: skip

    print("\nthe answer key's calls, copies to and from the GPU included:")
    with_copies = seconds(lambda: gpu.matmul(a, b), max(1, repeat // 4), cuda.synchronize)
    report.timing(f"gpu.matmul {size}^3 (copies included)", with_copies, None, flops)
    report.timing(f"gpu.conv2d_forward {shape} (copies included)",
                  seconds(lambda: gpu.conv2d_forward(x, weight, bias, 1, 1), repeat, cuda.synchronize),
                  None)  # fmt: skip


def reference_weight_grad(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dL/dW for stride 1, padding 1, 3x3: g^T @ im2col(x), in float64."""
    from solutions.cnn import im2col

    filters = grad.shape[1]
    cols = im2col(x.astype(np.float64), 3, 3, 1, 1)
    g = grad.astype(np.float64).transpose(0, 2, 3, 1).reshape(-1, filters)
    return (g.T @ cols).reshape(filters, x.shape[1], 3, 3)


def training_step(quick: bool, steps: int) -> float:
    """Seconds per training step of the original tutorial's ConvNet (a tiny net with --quick),
    on the device that KINDLING_DEVICE names: run in a subprocess, since kindling reads it at
    import."""
    import kindling
    import kindling.nn as nn
    import kindling.optim as optim
    from kindling.cnn import Conv2d, ConvNet, max_pool2d

    class TinyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = Conv2d(1, 2, 3, padding=1)
            self.fc = nn.Linear(2 * 2 * 2, 3)

        def forward(self, x):
            return self.fc(max_pool2d(nn.functional.relu(self.conv(x)), 2).reshape(-1, 8))

    kindling.manual_seed(0)
    model = TinyNet() if quick else ConvNet()
    batch, side = (2, 4) if quick else (64, 28)
    images = kindling.tensor(random_array((batch, 1, side, side), 6))
    labels = kindling.tensor(np.arange(batch) % 3)
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad()
        criterion(model(images), labels).backward()
        optimizer.step()

    return seconds(step, steps, lambda: None)


def compare_steps(args: argparse.Namespace) -> None:
    print(
        "\none training step of the original tutorial's ConvNet (batch 64, SGD momentum), "
        "answer key:"
    )
    if args.quick:
        print("  (--quick: a tiny net on 4x4 images instead, to check the code runs)")
    times = {}
    for device in ("cuda", "cpu"):
        env = {**os.environ, "KINDLING_DEVICE": device}
        command = [sys.executable, __file__, "--step-only", "--steps", str(args.steps)]
        command += ["--quick"] if args.quick else []
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout + done.stderr)
            raise SystemExit(f"the training step on {device} failed")
        times[device] = float(done.stdout.strip().splitlines()[-1])
        print(f"  KINDLING_DEVICE={device:<5} {times[device] * 1e3:9.2f} ms per step")
    print(f"  ratio GPU / CPU: {times['cuda'] / times['cpu']:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="matmul size (4096)")
    parser.add_argument("--repeat", type=int, default=20, help="calls per timing round (20)")
    parser.add_argument("--steps", type=int, default=10, help="training steps per round (10)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (for the simulator)")
    parser.add_argument("--step-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.conv, args.reduce = (64, 32, 14, 64), 1 << 24
    if args.quick:
        args.size, args.repeat, args.steps, args.conv, args.reduce = 17, 1, 1, (1, 2, 5, 3), 300
        ROUNDS[0] = 1
    if args.step_only:
        print(training_step(args.quick, args.steps))
        return
    if not cuda.is_available():
        raise SystemExit(
            "no CUDA GPU here: run this on a GPU, or with NUMBA_ENABLE_CUDASIM=1 --quick"
        )
    where = "numba-cuda's simulator" if SIMULATED else cuda.get_current_device().name
    device_name = where.decode() if isinstance(where, bytes) else where
    torch_text = f", torch {torch.__version__}" if torch is not None else ", no torch"
    print(f"GPU: {device_name}{torch_text}; KINDLING_IMPL={os.environ['KINDLING_IMPL']}\n")
    report = Report()
    kernels(args, report)
    compare_steps(args)
    if report.failures:
        raise SystemExit(f"WRONG results: {', '.join(report.failures)}")


if __name__ == "__main__":
    timing.run(main)
