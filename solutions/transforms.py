"""Chapter 04: transforms, turning a raw example into what the model eats (`torchvision.transforms`).

Each transform is a callable object applied to one example at a time, so a
Dataset can take `transform=Compose([...])` and stay ignorant of the details.
The original tutorial's pipeline is `Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])`.
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
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise ValueError(
                f"ToTensor expects an image of shape (H, W) or (H, W, C), got {image.shape}"
            )
        # (H, W) gains a channel axis; (H, W, C) moves its channels to the front.
        image = image[np.newaxis] if image.ndim == 2 else np.transpose(image, (2, 0, 1))
        pixels = np.ascontiguousarray(image, dtype=np.float32)
        if image.dtype == np.uint8:
            pixels /= np.float32(255)
        return Tensor(pixels)

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
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.ndim != 3 or self.mean.shape[0] not in (1, data.shape[0]):
            raise ValueError(
                f"Normalize with {self.mean.shape[0]} channel(s) expects a (C, H, W) image with C = "
                f"{self.mean.shape[0]}, got shape {data.shape}"
            )
        return Tensor(((data - self.mean) / self.std).astype(np.float32, copy=False))

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
        data = image.data if isinstance(image, Tensor) else np.asarray(image)
        if self.padding:
            pad = [(0, 0)] * (data.ndim - 2) + [(self.padding, self.padding)] * 2
            data = np.pad(data, pad, constant_values=self.fill)
        height, width = data.shape[-2:]
        crop_h, crop_w = self.size
        if crop_h > height or crop_w > width:
            raise ValueError(
                f"RandomCrop{self.size} is larger than the (padded) image of size {(height, width)}"
            )
        generator = self.generator or default_generator()
        top = int(generator.integers(0, height - crop_h + 1))
        left = int(generator.integers(0, width - crop_w + 1))
        crop = data[..., top : top + crop_h, left : left + crop_w]
        return Tensor(crop.copy()) if isinstance(image, Tensor) else crop.copy()

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


# --8<-- [end:random-crop]
