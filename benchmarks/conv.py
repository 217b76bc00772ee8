"""conv2d forward and backward for the two conv layers of the original tutorial's ConvNet,
and max_pool2d, kindling (the answer key's Numba kernels) against torch on the CPU.

The layers, batch 64, as the original tutorial's ConvNet runs them:

    conv1   64x1x28x28  -> 32 filters 3x3, padding 1 -> 64x32x28x28   (input needs no grad)
    pool1   64x32x28x28 -> 2x2 max pool               -> 64x32x14x14
    conv2   64x32x14x14 -> 64 filters 3x3, padding 1 -> 64x64x14x14   (input needs its grad)
    pool2   64x64x14x14 -> 2x2 max pool               -> 64x64x7x7

Each side runs the layer's forward, then backward from the same upstream gradient, through
its own autograd (kindling: `cnn.conv2d(...).backward(g)`; torch: `F.conv2d(...).backward(g)`).
Both are checked to agree first. Forward, backward and their sum are timed in `--rounds`
rounds of `--repeats` runs in a row, kindling and torch taking turns round by round, each
settling first (untimed runs for `--settle` seconds: see `settle`); the best of each
counts. Then kindling's conv layers are taken apart: every call into
`kindling.kernels` (im2col, the matrix products, col2im, ...) is timed in as many more
runs, the fastest run is shown, and what remains is the NumPy and autograd around them.

    KINDLING_IMPL=reference python benchmarks/conv.py
    KINDLING_IMPL=reference python benchmarks/conv.py --quick

It prints tables and the ratios; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import timing
from timing import keep_freed_memory, settle

import kindling
from kindling import cnn, kernels

try:
    import torch
    import torch.nn.functional as torch_F
except ImportError:  # the benchmark still times kindling
    torch = None


def forward_backward(
    sides: list[tuple[Callable[[], Any], Callable[[Any], None]]],
    repeats: int,
    rounds: int,
    settling: float,
) -> list[tuple[float, float, float]]:
    """For each (forward, backward) side: its best forward, best backward and best forward +
    backward seconds. In each of `rounds` rounds each side in turn settles, then runs
    `repeats` timed times in a row: both meet the same load from whatever else runs."""
    times: list[list[tuple[float, float]]] = [[] for _ in sides]
    for _ in range(rounds):
        for side, (run, backward) in enumerate(sides):
            settle(lambda run=run, backward=backward: backward(run()), settling)
            for _ in range(repeats):
                start = time.perf_counter()
                out = run()
                middle = time.perf_counter()
                backward(out)
                times[side].append((middle - start, time.perf_counter() - middle))
    return [
        (min(f for f, _ in each), min(b for _, b in each), min(f + b for f, b in each))
        for each in times
    ]


class Layer:
    """One layer's inputs, shared by both sides: x, and for a conv its weight and bias."""

    def __init__(
        self, name: str, shape: tuple[int, ...], filters: int, input_grad: bool, rng: Any
    ) -> None:
        self.name, self.filters, self.input_grad = name, filters, input_grad
        self.x = rng.standard_normal(shape, dtype=np.float32)
        fan_in = shape[1] * 9
        self.weight = rng.uniform(-1, 1, (filters, shape[1], 3, 3)).astype(np.float32)
        self.weight /= np.float32(np.sqrt(fan_in))
        self.bias = rng.uniform(-0.1, 0.1, filters).astype(np.float32)
        n, _, h, w = shape
        out_shape = (n, filters, h, w) if filters else (n, shape[1], h // 2, w // 2)
        self.grad = rng.standard_normal(out_shape, dtype=np.float32)

    def describe(self) -> str:
        shape = "x".join(map(str, self.x.shape))
        return f"{shape}, {self.filters} 3x3 pad 1" if self.filters else f"{shape}, 2x2"

    def kindling(self) -> tuple[Callable[[], Any], Callable[[Any], None], Callable[[], list]]:
        """(forward, backward, the gradients) on kindling Tensors."""
        x = kindling.tensor(self.x, requires_grad=self.input_grad)
        leaves = [x] if self.input_grad else []
        if self.filters:
            w = kindling.tensor(self.weight, requires_grad=True)
            b = kindling.tensor(self.bias, requires_grad=True)
            leaves += [w, b]

            def run() -> Any:
                return cnn.conv2d(x, w, b, stride=1, padding=1)
        else:

            def run() -> Any:
                return cnn.max_pool2d(x, 2, 2)

        def backward(out: Any) -> None:
            for leaf in leaves:
                leaf.grad = None
            out.backward(self.grad)

        return run, backward, lambda: [leaf.grad for leaf in leaves]

    def torch(self) -> tuple[Callable[[], Any], Callable[[Any], None], Callable[[], list]]:
        """(forward, backward, the gradients) on torch tensors."""
        x = torch.tensor(self.x, requires_grad=self.input_grad)
        leaves = [x] if self.input_grad else []
        grad = torch.from_numpy(self.grad)
        if self.filters:
            w = torch.tensor(self.weight, requires_grad=True)
            b = torch.tensor(self.bias, requires_grad=True)
            leaves += [w, b]

            def run() -> Any:
                return torch_F.conv2d(x, w, b, stride=1, padding=1)
        else:

            def run() -> Any:
                return torch_F.max_pool2d(x, 2, 2)

        def backward(out: Any) -> None:
            for leaf in leaves:
                leaf.grad = None
            out.backward(grad)

        return run, backward, lambda: [leaf.grad.numpy() for leaf in leaves]


def layers(batch: int) -> list[Layer]:
    rng = np.random.default_rng(0)
    return [
        Layer("conv1", (batch, 1, 28, 28), 32, False, rng),
        Layer("pool1", (batch, 32, 28, 28), 0, True, rng),
        Layer("conv2", (batch, 32, 14, 14), 64, True, rng),
        Layer("pool2", (batch, 64, 14, 14), 0, True, rng),
    ]


class KernelTimer:
    """Times every call into `kindling.kernels` while active: each public function of the
    module is wrapped, so whatever kindling's conv calls shows up, in order, with
    its arguments' shapes. A kernel that calls another counts as one call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self.depth = 0

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            self.depth += 1
            start = time.perf_counter()
            try:
                return function(*args)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    shapes = ", ".join(
                        "x".join(map(str, arg.shape)) for arg in args if hasattr(arg, "shape")
                    )
                    self.calls.append((f"{name}({shapes})", time.perf_counter() - start))

        return timed

    def __enter__(self) -> KernelTimer:
        self.originals = {name: getattr(kernels, name) for name in kernels.__all__}
        for name, function in self.originals.items():
            setattr(kernels, name, self.wrap(name, function))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, function in self.originals.items():
            setattr(kernels, name, function)


def conv_kernels(
    layer: Layer, repeats: int, settling: float
) -> tuple[list[tuple[str, float]], float]:
    """The kernel calls of kindling's conv forward + backward in its fastest of
    `repeats` runs, in order, and that run's total (the rest is NumPy and autograd)."""
    run, backward, _ = layer.kindling()
    settle(lambda run=run, backward=backward: backward(run()), settling)
    best: tuple[list[tuple[str, float]], float] = ([], float("inf"))
    for _ in range(repeats):
        with KernelTimer() as timer:
            start = time.perf_counter()
            backward(run())
            total = time.perf_counter() - start
        if total < best[1]:
            best = (timer.calls, total)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="images per batch (64)")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per round (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, sides taking turns (3)")
    parser.add_argument(
        "--settle", type=float, default=0.3, help="untimed seconds before each block (0.3)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: only checks it runs")
    args = parser.parse_args(argv)
    keep_freed_memory()
    if args.quick:
        args.batch, args.repeats, args.rounds, args.settle = 2, 1, 1, 0.0

    threads = f", torch {torch.__version__} with {torch.get_num_threads()} threads" if torch else ""
    print(
        f"CPUs: {os.cpu_count()}, numba {numba.__version__} with {numba.get_num_threads()} "
        f"threads{threads}\nkindling: {kindling.describe_impl(kindling.IMPL)}; "
        f"KINDLING_IMPL={kindling.IMPL}"
    )
    all_layers = layers(args.batch)
    start = time.perf_counter()
    for layer in all_layers:  # every kernel once, on the real shapes
        run, backward, _ = layer.kindling()
        backward(run())
    print(f"first calls (Numba compiles, or loads its cache): {time.perf_counter() - start:.2f}s")
    print(f"float32, batch {args.batch}, best of {args.rounds} x {args.repeats} runs; ms\n")

    header = f"{'layer':<6} {'input':<28} {'kindling fwd':>12} {'bwd':>7} {'total':>7}"
    if torch is not None:
        header += f"   {'torch fwd':>9} {'bwd':>7} {'total':>7}   {'ratio':>5}"
    print(header)
    for layer in all_layers:
        run, backward, grads = layer.kindling()
        sides = [(run, backward)]
        if torch is not None:
            torch_run, torch_backward, torch_grads = layer.torch()
            assert np.allclose(run().data, torch_run().detach().numpy(), atol=1e-4)
            backward(run())
            torch_backward(torch_run())
            for mine, theirs in zip(grads(), torch_grads(), strict=True):
                assert np.allclose(mine, theirs, rtol=1e-3, atol=1e-3), layer.name
            sides.append((torch_run, torch_backward))
        times = forward_backward(sides, args.repeats, args.rounds, args.settle)
        line = f"{layer.name:<6} {layer.describe():<28} " + " ".join(
            f"{t * 1e3:>{width}.2f}" for t, width in zip(times[0], (12, 7, 7), strict=True)
        )
        if torch is not None:
            line += "   " + " ".join(
                f"{t * 1e3:>{width}.2f}" for t, width in zip(times[1], (9, 7, 7), strict=True)
            )
            line += f"   {times[0][2] / times[1][2]:>5.2f}"
        print(line)
    if torch is None:
        print("torch is not installed (pip install -e '.[torch]'): no ratio to print")
    else:
        print("ratio: kindling's forward + backward time over torch's (below 1: kindling faster)")

    for layer in (layer for layer in all_layers if layer.filters):
        print(f"\n{layer.name} ({layer.describe()}), kernel by kernel: ms")
        calls, total = conv_kernels(layer, args.rounds * args.repeats, args.settle)
        for label, seconds in calls:
            print(f"  {label:<48} {seconds * 1e3:>8.2f}")
        outside = total - sum(seconds for _, seconds in calls)
        print(f"  {'outside the kernels (NumPy, autograd)':<48} {outside * 1e3:>8.2f}")
        print(f"  {'forward + backward, the fastest round':<48} {total * 1e3:>8.2f}")
        if not layer.input_grad:
            print("  (col2im makes the input's gradient, which conv1 does not need)")


if __name__ == "__main__":
    timing.run(main)
