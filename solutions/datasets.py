"""Chapter 04: datasets, MNIST from its four IDX files (`torchvision.datasets`).

MNIST is stored as four IDX files (gzipped): training images and labels, test
images and labels. This module reads them with every check a real loader
needs, and downloads them safely: from a list of mirrors in turn, verifying
each file's checksum, writing to a temporary file and renaming it only once
it is complete, so an interrupted or corrupt download never poisons the cache.
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
    """The array stored in an IDX file (gzipped when its name ends in .gz).

    Layout: two zero bytes, a type byte (IDX_TYPES), the number of dimensions n;
    then n sizes as big-endian uint32; then the values, row-major. Every
    inconsistency is a ValueError naming the file: bad magic number, unknown
    type, a different number of dimensions than expected, too little or too
    much data (a truncated file), or a corrupt gzip stream.
    """
    name = Path(path).name
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as file:
            raw = file.read()
    except (EOFError, OSError, zlib.error) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(
            f"{name} is truncated or not valid gzip ({error}): delete it and fetch it again"
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{name} is not an IDX file: bad magic number {raw[:4].hex() or 'none'}")
    ndim = raw[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise ValueError(
            f"{name} holds {ndim}-dimensional data, expected {expected_ndim} dimensions"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name} is truncated: its header needs {header} bytes, it has {len(raw)}")
    shape = tuple(int(size) for size in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[raw[2]]
    expected = math.prod(shape) * dtype.itemsize  # exact: np.prod could overflow on a bad header
    if len(raw) - header != expected:
        raise ValueError(
            f"{name} has {len(raw) - header} bytes of data, but its header {shape} needs {expected}: "
            "the file is truncated or damaged"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


# --8<-- [end:idx]


# --8<-- [start:download]
# ---------------------------------------------------------------------------
# Exercise 4.8: downloading safely
# ---------------------------------------------------------------------------


def download_file(
    url: str, destination: str | os.PathLike, md5: str, timeout: float = 30.0
) -> None:
    """Fetch `url` into `destination`, all or nothing.

    The bytes stream into `destination + ".part"` while their MD5 is computed;
    only when all the announced bytes arrived and the checksum matches is the part
    file renamed to `destination` (os.replace is atomic). On any failure the
    part file is removed and DownloadError says what went wrong.
    """
    destination = Path(destination)
    partial = destination.with_name(destination.name + ".part")
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            announced = int(response.headers.get("Content-Length") or -1)
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {getattr(error, 'reason', error)}") from None
    if announced >= 0 and received != announced:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: the download was interrupted after {received} of {announced} bytes"
        )
    if digest.hexdigest() != md5:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{url}: checksum mismatch (MD5 {digest.hexdigest()}, expected {md5})")
    os.replace(partial, destination)


def fetch(filename: str, md5: str, folder: Path, mirrors: Sequence[str]) -> Path:
    """Download `filename` from the first mirror that delivers it intact; the errors
    of every mirror tried, and how to place the file by hand, when none does."""
    folder.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        try:
            download_file(mirror + filename, folder / filename, md5)
            return folder / filename
        except DownloadError as error:
            errors.append(str(error))
    tried = "\n  ".join(errors)
    raise DownloadError(
        f"could not download {filename}; tried:\n  {tried}\n"
        f"Download it by hand from one of those addresses and put it in {folder}"
    )


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
