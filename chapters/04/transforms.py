"""Chapter 04: transforms, turning a raw example into what the model eats (`torchvision.transforms`).

Each transform is a callable object applied to one example at a time, so a
Dataset can take `transform=Compose([...])` and stay ignorant of the details.
The original tutorial's pipeline is `Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])`.

This is YOUR file for chapter 04. Each function that raises
NotImplementedError("Exercise 4.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's chapter 04 explains the ideas. Check
your work with

    pytest chapters/04
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import Tensor, default_generator

__all__ = ["Compose", "Lambda", "Normalize", "RandomCrop", "ToTensor"]


class Compose:
    """Apply the transforms one after another."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class Lambda:
    """Any function of one example, as a transform."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        if not callable(function):
            raise TypeError(f"Lambda needs a callable, got {type(function).__name__}")
        self.function = function

    def __call__(self, x: Any) -> Any:
        return self.function(x)

    def __repr__(self) -> str:
        return "Lambda()"


# --8<-- [start:to-tensor]
# ---------------------------------------------------------------------------
# Exercise 4.5: ToTensor and Normalize
# ---------------------------------------------------------------------------


class ToTensor:
    """An image as a float32 Tensor of shape (C, H, W).

    Input: a NumPy array of shape (H, W) (one channel) or (H, W, C). uint8 pixels
    (0..255) are divided by 255 into [0, 1]; other dtypes keep their values and
    become float32. The channel axis moves to the front, as torch's layers expect.
    """

    def __call__(self, image: np.ndarray) -> Tensor:
        """Return the image as a float32 Tensor of shape (C, H, W).

        Raise ValueError naming the shape unless the array has 2 or 3 dimensions.
        (H, W) becomes (1, H, W); (H, W, C) is transposed to (C, H, W). Convert to a
        C-contiguous float32 array (`np.ascontiguousarray(x, dtype=np.float32)`); uint8
        values are then divided by 255 (by np.float32(255)); other dtypes keep their values.
        """
        raise NotImplementedError("Exercise 4.5: ToTensor and Normalize")

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(x - mean[c]) / std[c] for each channel c of a (C, H, W) Tensor.

    With the mean and standard deviation of the training pixels, the inputs
    end up centred on 0 with unit spread (MNIST: 0.1307 and 0.3081).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if self.mean.shape != self.std.shape:
            raise ValueError(
                f"Normalize: {self.mean.size} means but {self.std.size} standard deviations"
            )
        if np.any(self.std == 0):
            raise ValueError(
                f"Normalize: std evaluated to zero after conversion to float32 ({list(std)})"
            )

    def __call__(self, x: Tensor) -> Tensor:
        """Return a new float32 Tensor (x - mean) / std, channel by channel.

        `self.mean` and `self.std` are float32 arrays of shape (C, 1, 1), so they
        broadcast over (C, H, W). Accept a Tensor or an array. Raise ValueError naming
        the shape unless x has 3 dimensions and C equals the number of means (or
        there is a single mean, which applies to every channel).
        """
        raise NotImplementedError("Exercise 4.5: ToTensor and Normalize")

    def __repr__(self) -> str:
        mean = [float(f"{value:.6g}") for value in self.mean.ravel()]
        std = [float(f"{value:.6g}") for value in self.std.ravel()]
        return f"Normalize(mean={mean}, std={std})"


# --8<-- [end:to-tensor]


# --8<-- [start:random-crop]
# ---------------------------------------------------------------------------
# Exercise 4.6: augmentation
# ---------------------------------------------------------------------------


class RandomCrop:
    """A random `size` window of the image, after padding its border with `padding` pixels.

    Works on the last two axes (H, W) of a Tensor or NumPy array, so (C, H, W)
    Tensors and (H, W) arrays both crop. The window's top-left corner is drawn
    from `generator` (default: the library's): top first, then left, each uniform
    over the positions that fit. Padding fills with `fill`.
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        padding: int = 0,
        fill: float = 0,
        generator: np.random.Generator | None = None,
    ) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = padding
        self.fill = fill
        self.generator = generator

    def __call__(self, image: Any) -> Any:
        """Return a random (crop_h, crop_w) window of the last two axes.

        1. data = the Tensor's .data, or np.asarray(image).
        2. If `self.padding`: np.pad the last two axes by `padding` on every side
           with `constant_values=self.fill` (leave leading axes unpadded).
        3. Raise ValueError naming both sizes if the crop is larger than the
           (padded) height or width.
        4. generator = self.generator or default_generator(); draw
           top = generator.integers(0, H - crop_h + 1), THEN
           left = generator.integers(0, W - crop_w + 1) (this order reproduces a seed).
        5. Return a copy of data[..., top:top+crop_h, left:left+crop_w]: a Tensor if
           the input was a Tensor, else a NumPy array.
        """
        raise NotImplementedError("Exercise 4.6: Augmentation")

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


# --8<-- [end:random-crop]
