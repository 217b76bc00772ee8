"""Draw docs/figures/optimizer-paths.svg: four optimisers on the Rosenbrock function.

    python docs/figures/optimizer_paths.py --impl reference           the book's figure
    python docs/figures/optimizer_paths.py --impl isolate:03 mine.svg  with your optimisers

Each optimiser is `kindling.optim`'s, run on a `kindling.autograd` tensor from the same
start, with the training loop of chapter 03: zero_grad, loss.backward(), step. Which code
that is, your chapters or the answer key, `--impl` says (or KINDLING_IMPL, as everywhere in
kindling). The contour lines come from marching squares on a grid. The SVG is written by
hand (no plotting library) and is the same on every run: drawn with your chapter 03, it is
byte for byte the book's figure when your optimisers are right. tests/test_figures.py
checks that the committed figure matches what this script draws on the answer key.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grading import impl_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, help="where to write the SVG")
    impl_option.add(parser)
    return parser


# The spine reads KINDLING_IMPL once, when kindling is first imported: --impl goes first.
if __name__ == "__main__":
    impl_option.apply(build_parser())

import numpy as np  # noqa: E402

import kindling.autograd as kd  # noqa: E402
import kindling.optim as optim  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "optimizer-paths.svg"
START = (-1.5, 2.0)
STEPS = 600
LEVELS = [1, 4, 16, 64, 256, 1024]
WIDTH, HEIGHT = 900, 600

# (label, colour, line width, make the optimizer). Wider lines are drawn first, so where
# the paths share the valley floor they show as nested stripes.
OPTIMIZERS: list[tuple[str, str, float, Callable]] = [
    ("SGD, lr 0.001", "#9ca3af", 7.0, lambda p: optim.SGD(p, lr=1e-3)),
    ("Adam, lr 0.02", "#dc2626", 4.5, lambda p: optim.Adam(p, lr=0.02)),
    ("momentum 0.9, lr 0.0005", "#2563eb", 2.5, lambda p: optim.SGD(p, lr=5e-4, momentum=0.9)),
    (
        "Nesterov 0.9, lr 0.0005",
        "#16a34a",
        1.5,
        lambda p: optim.SGD(p, lr=5e-4, momentum=0.9, nesterov=True),
    ),
]


@dataclass(frozen=True)
class Frame:
    """A square plot: the region (x0, x1) x (y0, y1), drawn at (left, top) with side `size`."""

    x0: float
    x1: float
    y0: float
    y1: float
    left: float
    top: float
    size: float

    def pixels(self, x: float, y: float) -> tuple[float, float]:
        return (
            self.left + (x - self.x0) / (self.x1 - self.x0) * self.size,
            self.top + (self.y1 - y) / (self.y1 - self.y0) * self.size,
        )


MAIN = Frame(-2.0, 2.0, -1.0, 3.0, left=70, top=60, size=480)
ZOOM = Frame(-1.62, -1.22, 1.7, 2.1, left=630, top=330, size=200)


def rosenbrock(x, y):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2: a curved valley, minimum 0 at (1, 1).
    Works on Tensors (for the optimizers) and on NumPy arrays (for the contours)."""
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def run(make_optimizer: Callable) -> np.ndarray:
    """The points visited in STEPS steps from START, as an array of shape (STEPS + 1, 2)."""
    point = kd.Tensor(np.array(START, dtype=np.float64), requires_grad=True)
    optimizer = make_optimizer([point])
    visited = [point.data.copy()]
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = rosenbrock(point[0], point[1])
        loss.backward()
        optimizer.step()
        visited.append(point.data.copy())
    return np.array(visited)


# ---------------------------------------------------------------------------
# Contour lines
# ---------------------------------------------------------------------------


def marching_squares(frame: Frame, level: float, cells: int) -> list:
    """Line segments, in pixels, where the function crosses `level` on a grid over `frame`."""
    xs = np.linspace(frame.x0, frame.x1, cells + 1)
    ys = np.linspace(frame.y0, frame.y1, cells + 1)
    values = rosenbrock(xs[np.newaxis, :], ys[:, np.newaxis])
    above = values > level
    corners = above[:-1, :-1] + 2 * above[:-1, 1:] + 4 * above[1:, 1:] + 8 * above[1:, :-1]
    segments = []
    for i, j in zip(*np.nonzero((corners != 0) & (corners != 15)), strict=True):
        # The cell's corners, in order around it; edge k joins corner k and corner k + 1.
        cell = [(i, j), (i, j + 1), (i + 1, j + 1), (i + 1, j)]
        crossings = {}
        for edge in range(4):
            a, b = cell[edge], cell[(edge + 1) % 4]
            if above[a] != above[b]:
                t = (level - values[a]) / (values[b] - values[a])
                x = xs[a[1]] + t * (xs[b[1]] - xs[a[1]])
                y = ys[a[0]] + t * (ys[b[0]] - ys[a[0]])
                crossings[edge] = frame.pixels(x, y)
        if len(crossings) == 2:
            first, second = crossings.values()
            segments.append((first, second))
            continue
        # A saddle: all four edges cross. If the centre is on corner 0's side, corners 0
        # and 2 connect through it, and the lines cut off corners 1 and 3; else the reverse.
        centre_like_corner_0 = (values[i : i + 2, j : j + 2].mean() > level) == above[cell[0]]
        pairs = [(0, 1), (2, 3)] if centre_like_corner_0 else [(3, 0), (1, 2)]
        segments += [(crossings[a], crossings[b]) for a, b in pairs]
    return segments


def chain(segments: list) -> list[list[tuple[float, float]]]:
    """Join segments that share end points into polylines (fewer, shorter SVG paths)."""

    def key(point):
        return (round(point[0], 4), round(point[1], 4))

    ends: dict[tuple, list[int]] = {}
    for number, (a, b) in enumerate(segments):
        ends.setdefault(key(a), []).append(number)
        ends.setdefault(key(b), []).append(number)
    used = [False] * len(segments)
    lines = []
    for number in range(len(segments)):
        if used[number]:
            continue
        used[number] = True
        line = list(segments[number])
        for forward in (True, False):
            while True:
                tip = line[-1] if forward else line[0]
                following = [n for n in ends[key(tip)] if not used[n]]
                if not following:
                    break
                used[following[0]] = True
                a, b = segments[following[0]]
                new = b if key(a) == key(tip) else a
                if forward:
                    line.append(new)
                else:
                    line.insert(0, new)
        lines.append(line)
    return lines


# ---------------------------------------------------------------------------
# SVG
# ---------------------------------------------------------------------------


def polyline(points) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def thin(frame: Frame, points: np.ndarray, min_pixels: float = 1.5) -> list:
    """The path in pixels, leaving out points closer than min_pixels to the last one kept."""
    kept = [frame.pixels(*points[0])]
    for x, y in points[1:]:
        px, py = frame.pixels(x, y)
        if abs(px - kept[-1][0]) + abs(py - kept[-1][1]) >= min_pixels:
            kept.append((px, py))
    last = frame.pixels(*points[-1])
    if kept[-1] != last:
        kept.append(last)
    return kept


def panel(frame: Frame, name: str, paths: list[np.ndarray], ticks: tuple) -> list[str]:
    """Contours, axes and paths of one frame, clipped to it."""
    right, bottom = frame.left + frame.size, frame.top + frame.size
    out = [
        f'  <clipPath id="{name}"><rect x="{frame.left}" y="{frame.top}" '
        f'width="{frame.size}" height="{frame.size}"/></clipPath>',
        f'  <rect x="{frame.left}" y="{frame.top}" width="{frame.size}" height="{frame.size}" '
        'fill="#f9fafb" stroke="#9ca3af"/>',
        f'  <g clip-path="url(#{name})" fill="none" stroke="#c7cdd6" stroke-width="1">',
    ]
    for level in LEVELS:
        lines = chain(marching_squares(frame, level, cells=int(frame.size) // 3))
        out += [f'    <polyline points="{polyline(line)}"/>' for line in lines]
    out.append("  </g>")

    xticks, yticks = ticks
    out.append('  <g fill="#374151" font-size="13">')
    for x in xticks:
        px, _ = frame.pixels(x, frame.y0)
        out.append(f'    <line x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 5}" '
                   'stroke="#6b7280"/>')  # fmt: skip
        out.append(f'    <text x="{px:.1f}" y="{bottom + 20}" text-anchor="middle">{x:g}</text>')
    for y in yticks:
        _, py = frame.pixels(frame.x0, y)
        out.append(f'    <line x1="{frame.left - 5}" y1="{py:.1f}" x2="{frame.left}" '
                   f'y2="{py:.1f}" stroke="#6b7280"/>')  # fmt: skip
        out.append(
            f'    <text x="{frame.left - 9}" y="{py + 4:.1f}" text-anchor="end">{y:g}</text>'
        )
    out.append("  </g>")

    out.append(f'  <g clip-path="url(#{name})" fill="none" stroke-linejoin="round">')
    for (_, colour, width, _), points in zip(OPTIMIZERS, paths, strict=True):
        out.append(
            f'    <polyline stroke="{colour}" stroke-width="{width}" '
            f'points="{polyline(thin(frame, points))}"/>'
        )
    sx, sy = frame.pixels(*START)
    out.append(f'    <circle cx="{sx:.1f}" cy="{sy:.1f}" r="5" fill="#111827"/>')
    out.append("  </g>")
    del right
    return out


def draw() -> str:
    paths = [run(make) for _, _, _, make in OPTIMIZERS]
    finals = [points[-1] for points in paths]
    title = f"Four optimisers on the Rosenbrock function, {STEPS} steps from {START}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="title desc" '
        "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" "
        'font-size="14">',
        f'  <title id="title">{title}</title>',
        '  <desc id="desc">Contour lines of f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, a curved '
        "valley with its minimum at (1, 1), and the path of each optimiser from the same "
        "start. Plain SGD crawls along the valley floor. Adam's steps have about the same "
        "size whatever the gradient. Heavy-ball and Nesterov momentum travel furthest; an "
        "enlarged view of the start shows heavy-ball momentum zigzagging across the steep "
        "valley walls while Nesterov momentum damps the zigzag.</desc>",
        "  <!-- drawn by docs/figures/optimizer_paths.py from the answer key -->",
        f'  <rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" rx="8" fill="#ffffff"/>',
        f'  <text x="{MAIN.left}" y="32" font-size="16" font-weight="600" fill="#111827">'
        f"{title}</text>",
    ]
    out += panel(MAIN, "main", paths, (range(-2, 3), range(-1, 4)))
    bottom = MAIN.top + MAIN.size
    out += [
        f'  <text x="{MAIN.left + MAIN.size / 2:.0f}" y="{bottom + 42}" text-anchor="middle" '
        'font-style="italic" fill="#374151">x</text>',
        f'  <text x="{MAIN.left - 40}" y="{MAIN.top + MAIN.size / 2:.0f}" text-anchor="middle" '
        'font-style="italic" fill="#374151">y</text>',
    ]

    # Where each path ended, and the minimum.
    for (_, colour, width, _), final in zip(OPTIMIZERS, finals, strict=True):
        fx, fy = MAIN.pixels(*final)
        out.append(f'  <circle cx="{fx:.1f}" cy="{fy:.1f}" r="{max(width, 3.0) + 1.5:.1f}" '
                   f'fill="{colour}" stroke="#ffffff"/>')  # fmt: skip
    mx, my = MAIN.pixels(1.0, 1.0)
    out += [
        f'  <path d="M {mx:.1f} {my - 8:.1f} L {mx + 7:.1f} {my + 5:.1f} L {mx - 7:.1f} '
        f'{my + 5:.1f} Z" fill="#f59e0b" stroke="#111827"/>',
        f'  <text x="{mx + 10:.1f}" y="{my + 20:.1f}" fill="#111827">minimum (1, 1)</text>',
    ]

    # The enlarged view: its region outlined on the main plot.
    zx0, zy0 = MAIN.pixels(ZOOM.x0, ZOOM.y1)
    zx1, zy1 = MAIN.pixels(ZOOM.x1, ZOOM.y0)
    out.append(f'  <rect x="{zx0:.1f}" y="{zy0:.1f}" width="{zx1 - zx0:.1f}" '
               f'height="{zy1 - zy0:.1f}" fill="none" stroke="#111827" stroke-dasharray="3 2"/>')  # fmt: skip
    out.append(f'  <text x="{ZOOM.left}" y="{ZOOM.top - 12}" font-size="13" font-weight="600" '
               'fill="#111827">the first steps, enlarged</text>')  # fmt: skip
    out += panel(ZOOM, "zoom", paths, ((-1.6, -1.4), (1.8, 2.0)))

    # The legend: each optimizer and where it ended.
    lx, ly = MAIN.left + MAIN.size + 50, MAIN.top + 10
    out.append('  <g font-size="13" fill="#111827">')
    out.append(f'    <text x="{lx}" y="{ly}" font-weight="600">after {STEPS} steps</text>')
    for number, ((label, colour, width, _), final) in enumerate(
        zip(OPTIMIZERS, finals, strict=True)
    ):
        y = ly + 30 + number * 46
        loss = float(rosenbrock(final[0], final[1]))
        out.append(
            f'    <line x1="{lx}" y1="{y - 4}" x2="{lx + 28}" y2="{y - 4}" stroke="{colour}" '
            f'stroke-width="{max(width, 3.0)}"/>'
        )
        out.append(f'    <text x="{lx + 36}" y="{y}">{label}</text>')
        where = ", ".join(f"{value:.2f}".replace("-0.00", "0.00") for value in final)
        out.append(
            f'    <text x="{lx + 36}" y="{y + 18}" fill="#4b5563">ends at ({where}), '
            f"f = {loss:.1e}</text>"
        )
    out.append("  </g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    impl_option.announce(args.impl)
    output = args.output or OUTPUT
    output.write_text(draw(), encoding="utf-8")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
