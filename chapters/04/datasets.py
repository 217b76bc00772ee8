"""Chapter 04: datasets, MNIST from its four IDX files (`torchvision.datasets`).

MNIST is stored as four IDX files (gzipped): training images and labels, test
images and labels. This module reads them with every check a real loader
needs, and downloads them safely: from a list of mirrors in turn, verifying
each file's checksum, writing to a temporary file and renaming it only once
it is complete, so an interrupted or corrupt download never poisons the cache.

This is YOUR file for chapter 04. Each function that raises
NotImplementedError("Exercise 4.N: ...") is yours to write; its docstring says
exactly what to compute, and the book's chapter 04 explains the ideas. Check
your work with

    pytest chapters/04
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MNIST", "DownloadError", "FashionMNIST", "download_file", "read_idx"]

# IDX element types: the third byte of the magic number. Multi-byte values are big-endian.
IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DownloadError(RuntimeError):
    """No mirror delivered a good copy of a file, or there is no writable folder to put it in."""


# --8<-- [start:idx]
# ---------------------------------------------------------------------------
# Exercise 4.7: reading IDX files
# ---------------------------------------------------------------------------


def read_idx(path: str | os.PathLike, expected_ndim: int | None = None) -> np.ndarray:
    """Read the array in an IDX file (gzip-compressed when the name ends in .gz).

    Every ValueError below names the file (`Path(path).name` is enough).
    1. Read all bytes (`gzip.open(path, "rb")` for .gz, else `open`). A missing
       file's FileNotFoundError propagates; any other OSError, EOFError or
       zlib.error means a damaged file: raise ValueError naming the file.
    2. Magic number, the first 4 bytes: 0 and 0 (check both), a type byte that
       is a key of IDX_TYPES, and the number of dimensions n. Else ValueError
       ("not an IDX file", naming the file).
    3. If `expected_ndim` is given and differs from n: ValueError.
    4. Then n sizes, big-endian uint32 (`np.frombuffer(raw, ">u4", count=n,
       offset=4)`); ValueError if the file is too short to hold them.
    5. The data follows: exactly prod(sizes) * itemsize bytes, else ValueError
       (truncated or damaged, naming the file and both lengths).
    6. Return the values with that shape, in native byte order
       (`.astype(dtype.newbyteorder("="))`).
    """
    raise NotImplementedError("Exercise 4.7: Reading IDX files")


# --8<-- [end:idx]


# --8<-- [start:download]
# ---------------------------------------------------------------------------
# Exercise 4.8: downloading safely
# ---------------------------------------------------------------------------


def download_file(
    url: str, destination: str | os.PathLike, md5: str, timeout: float = 30.0
) -> None:
    """Download `url` to `destination`, all or nothing.

    1. partial = destination with ".part" appended to its name.
    2. Open the URL (`urllib.request.urlopen(url, timeout=timeout)`) and the
       partial file; copy in chunks (e.g. 64 KiB), feeding each chunk to
       `hashlib.md5(usedforsecurity=False)`.
    3. On urllib.error.URLError, http.client.HTTPException, OSError or ValueError:
       delete the partial file
       and raise DownloadError naming the URL and the reason. Count the bytes:
       when the response announced a Content-Length and fewer bytes arrived,
       the connection broke: delete the partial file and raise DownloadError
       saying the download was interrupted after X of Y bytes.
    4. If the hex digest differs from `md5`: delete the partial file and raise
       DownloadError naming the URL and both checksums.
    5. Otherwise `os.replace(partial, destination)`: the file appears only whole.
    """
    raise NotImplementedError("Exercise 4.8: Downloading safely")


def fetch(filename: str, md5: str, folder: Path, mirrors: Sequence[str]) -> Path:
    """Download `filename` from the first mirror that delivers it intact.

    Create `folder` (with parents) if needed. For each mirror in order, try
    `download_file(mirror + filename, folder / filename, md5)` and return the path
    on success. Collect each DownloadError's message; when every mirror failed,
    raise DownloadError listing them all and saying to download the file by hand
    and put it in `folder` (name the folder).
    """
    raise NotImplementedError("Exercise 4.8: Downloading safely")


# --8<-- [end:download]


class MNIST:
    """The MNIST digits: 60,000 training and 10,000 test images of 28x28 pixels, labels 0-9.

    `dataset[i]` is (image, label): a (28, 28) uint8 array and an int, each passed
    through `transform` / `target_transform` when given. The files are looked for
    in `root/MNIST/raw` (where `download=True` puts them) and in `root` itself,
    gzipped or not.
    """

    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    # (file, MD5 of the file as the mirrors serve it)
    resources = (
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    )
    classes = tuple(str(digit) for digit in range(10))
    image_size = (28, 28)

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        download: bool = False,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        (images_file, _), (labels_file, _) = self._split_resources()
        if download:
            self.download()
        images = read_idx(self._find(images_file), expected_ndim=3)
        labels = read_idx(self._find(labels_file), expected_ndim=1)
        if images.shape[1:] != self.image_size:
            raise ValueError(
                f"{type(self).__name__}: {images_file} holds images of size {images.shape[1:]}, "
                f"expected {self.image_size}"
            )
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: {images_file} holds {images.shape[0]} images "
                f"but {labels_file} holds {labels.shape[0]} labels"
            )
        self.data, self.targets = images, labels.astype(np.int64)

    @property
    def raw_folder(self) -> Path:
        return self.root / type(self).__name__ / "raw"

    def _find(self, filename: str) -> Path:
        """The file, gzipped or not, in raw_folder or root; a clear error when it is in neither."""
        for folder in (self.raw_folder, self.root):
            for candidate in (filename, filename.removesuffix(".gz")):
                if (folder / candidate).is_file():
                    return folder / candidate
        raise FileNotFoundError(
            f"{type(self).__name__}: {filename} is not in {self.raw_folder} or {self.root}. "
            f"Pass download=True to fetch it, or download it by hand from "
            f"{self.mirrors[0]}{filename} and put it in one of those folders."
        )

    def _split_resources(self) -> tuple[tuple[str, str], ...]:
        """(file, MD5) of this split's images and labels: `resources` lists train's, then test's."""
        first = 0 if self.train else 2
        return self.resources[first : first + 2]

    def _readable(self, filename: str) -> bool:
        """Whether the file is present and reads as IDX (not missing, not damaged)."""
        try:
            read_idx(self._find(filename))
        except (FileNotFoundError, ValueError):
            return False
        return True

    def _check_writable(self, needed: list[str]) -> None:
        """Create raw_folder and write a scratch file there, or explain what to do instead."""
        try:
            self.raw_folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.raw_folder):
                pass
        except OSError as error:
            raise DownloadError(
                f"{type(self).__name__}: cannot download {' and '.join(needed)}: cannot write "
                f"to {self.raw_folder} ({error.strerror or error}). Pass a root folder you can "
                f"write to, or make this one writable; or put the files there by hand and "
                f"use download=False."
            ) from None

    def download(self) -> None:
        """Fetch this split's two files (train or test) unless present and readable.

        A damaged file is fetched again into raw_folder, which `_find` searches first.
        """
        missing = [(file, md5) for file, md5 in self._split_resources() if not self._readable(file)]
        if missing:
            self._check_writable([file for file, _ in missing])
        for filename, md5 in missing:
            fetch(filename, md5, self.raw_folder, self.mirrors)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, label = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} images, root={str(self.root)!r})"


class FashionMNIST(MNIST):
    """Zalando's clothing images in MNIST's format: same sizes, different pictures."""

    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    resources = (
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    )
    classes = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
