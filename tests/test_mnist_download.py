"""MNIST's download path works for real, against mirrors this test serves on 127.0.0.1.

A small HTTP server (started here, stopped when the module's tests end; no other
network) serves tiny generated MNIST-format IDX files (6 training and 4 test images
of 28x28, gzipped) under several mirror prefixes:

    /down/         every request answered 503 Service Unavailable
    /corrupt/      the files with one byte changed: a checksum mismatch
    /good/         the files as generated
    /interrupted/  a Content-Length for the whole file, half the bytes, then the connection closes
    /trainonly/    the training files good, the test files 404
    /imagesonly/   the images files good, the labels files 404

and a subclass of the answer key's `MNIST` points `mirrors` at those prefixes and
`resources` at the generated files' real MD5s. What is proven:

- mirrors are tried in order, the first intact copy is kept in root/<ClassName>/raw,
  no `.part` file is left behind, and the data read back is what was generated;
- download=True fetches only the split asked for (train or test), never the other;
- a folder that cannot be written (root a file, a read-only raw/) is a DownloadError
  naming the folder and what to do, before any request; files already there need
  no writing;
- a second construction with download=True asks the server for nothing (the cache);
- a damaged cached file is noticed and replaced by a fresh download;
- when every mirror fails, DownloadError lists every URL tried and the folder to put
  the file in by hand, and raw/ holds only the files that did arrive intact;
- an interrupted download leaves no file, and the error says it was interrupted;
- download=False with no files is a FileNotFoundError naming the file, the folders
  searched and `download=True`; a wrong magic number or a truncated gzip placed by
  hand is a ValueError naming the file;
- FashionMNIST keeps its files in root/FashionMNIST/raw.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import solutions.datasets as datasets

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
TRAIN, TEST = (TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)
NAMES = (*TRAIN, *TEST)


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in the IDX format: 0, 0, type 0x08, ndim; sizes as big-endian uint32; data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_files() -> tuple[dict[str, bytes], dict[str, np.ndarray]]:
    """The four gzipped IDX files, and the arrays they hold."""
    rng = np.random.default_rng(4)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, 6, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, 4, dtype=np.uint8),
    }
    files = {name: gzip.compress(idx_bytes(array), mtime=0) for name, array in arrays.items()}
    return files, arrays


class MirrorServer:
    """The mirrors, on 127.0.0.1 at a free port; `log` records (mirror, file) per request."""

    def __init__(self) -> None:
        self.files, self.arrays = make_files()
        self.resources = tuple(
            (name, hashlib.md5(data, usedforsecurity=False).hexdigest())
            for name, data in self.files.items()
        )
        self.log: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror, _, name = self.path.strip("/").partition("/")
                server.log.append((mirror, name))
                body = server.files.get(name)
                if body is None or mirror not in ROUTES:
                    self.send_error(404)
                    return
                ROUTES[mirror](self, name, body)

            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def mirrors(self, *names: str) -> tuple[str, ...]:
        return tuple(self.url + name + "/" for name in names)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def send(handler: BaseHTTPRequestHandler, body: bytes, length: int | None = None) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)


def serve_down(handler, name, body) -> None:
    handler.send_error(503)


def serve_corrupt(handler, name, body) -> None:
    send(handler, body[:20] + bytes([body[20] ^ 0xFF]) + body[21:])


def serve_good(handler, name, body) -> None:
    send(handler, body)


def serve_interrupted(handler, name, body) -> None:
    send(handler, body[: len(body) // 2], length=len(body))
    handler.wfile.flush()
    handler.close_connection = True  # the server closes the socket: the client sees EOF early


def serve_train_only(handler, name, body) -> None:
    if name.startswith("train"):
        send(handler, body)
    else:
        handler.send_error(404)


def serve_images_only(handler, name, body) -> None:
    if "images" in name:
        send(handler, body)
    else:
        handler.send_error(404)


ROUTES = {
    "down": serve_down,
    "corrupt": serve_corrupt,
    "good": serve_good,
    "interrupted": serve_interrupted,
    "trainonly": serve_train_only,
    "imagesonly": serve_images_only,
}


@pytest.fixture(scope="module")
def mirror_server():
    server = MirrorServer()
    yield server
    server.close()


@pytest.fixture
def server(mirror_server, monkeypatch):
    """The module's server with an empty request log; downloads time out after 5 s, not 30."""
    mirror_server.log.clear()
    monkeypatch.setattr(
        datasets, "download_file", functools.partial(datasets.download_file, timeout=5)
    )
    return mirror_server


@pytest.fixture
def refused_url() -> str:
    """A mirror where nothing listens: a port that was free a moment ago (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing/"


def local(server: MirrorServer, *mirrors: str, base=datasets.MNIST, name: str = "LocalMNIST"):
    """A subclass of `base` (named `name`, which names its raw folder) fetching from `mirrors`."""
    urls = tuple(m if m.startswith("http") else server.mirrors(m)[0] for m in mirrors)
    return type(name, (base,), {"mirrors": urls, "resources": server.resources})


def raw_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def assert_holds_what_was_served(dataset, server: MirrorServer, train: bool) -> None:
    images, labels = (TRAIN_IMAGES, TRAIN_LABELS) if train else (TEST_IMAGES, TEST_LABELS)
    np.testing.assert_array_equal(dataset.data, server.arrays[images])
    np.testing.assert_array_equal(dataset.targets, server.arrays[labels])
    assert dataset.data.dtype == np.uint8 and dataset.targets.dtype == np.int64
    assert len(dataset) == len(server.arrays[labels])


def test_mirrors_are_tried_in_order_and_the_first_intact_copy_is_kept(server, tmp_path):
    LocalMNIST = local(server, "down", "corrupt", "good")
    train = LocalMNIST(tmp_path, train=True, download=True)

    raw = tmp_path / "LocalMNIST" / "raw"
    assert raw_files(raw) == sorted(TRAIN), "the split's files, and nothing else (no .part)"
    test = LocalMNIST(tmp_path, train=False, download=True)
    assert raw_files(raw) == sorted(NAMES)
    for name in NAMES:
        assert (raw / name).read_bytes() == server.files[name], f"{name} differs from the served"
    assert server.log == [
        (mirror, name) for name in NAMES for mirror in ("down", "corrupt", "good")
    ]
    assert_holds_what_was_served(train, server, train=True)
    assert_holds_what_was_served(test, server, train=False)
    image, label = train[5]
    assert image.shape == (28, 28) and isinstance(label, int)


def test_a_second_construction_reuses_the_cache_and_requests_nothing(server, tmp_path):
    LocalMNIST = local(server, "good")
    LocalMNIST(tmp_path, train=True, download=True)
    LocalMNIST(tmp_path, train=False, download=True)
    assert len(server.log) == len(NAMES)

    server.log.clear()
    again = LocalMNIST(tmp_path, train=True, download=True)
    LocalMNIST(tmp_path, train=False, download=True)
    assert server.log == [], f"the cache was not reused: requested {server.log}"
    assert_holds_what_was_served(again, server, train=True)


def test_files_placed_by_hand_in_root_count_as_the_cache(server, tmp_path):
    for name in NAMES:
        (tmp_path / name).write_bytes(server.files[name])
    # one of them unzipped: read as well
    (tmp_path / TEST_LABELS).unlink()
    (tmp_path / TEST_LABELS.removesuffix(".gz")).write_bytes(
        gzip.decompress(server.files[TEST_LABELS])
    )
    test = local(server, "good")(tmp_path, train=False, download=True)
    assert server.log == []
    assert_holds_what_was_served(test, server, train=False)


def test_a_damaged_cached_file_is_detected_and_downloaded_again(server, tmp_path):
    LocalMNIST = local(server, "down", "good")
    LocalMNIST(tmp_path, download=True)
    cached = tmp_path / "LocalMNIST" / "raw" / TRAIN_IMAGES
    cached.write_bytes(server.files[TRAIN_IMAGES][:100])  # truncated

    with pytest.raises(ValueError, match=TRAIN_IMAGES):
        LocalMNIST(tmp_path, download=False)

    server.log.clear()
    repaired = LocalMNIST(tmp_path, download=True)
    assert server.log == [("down", TRAIN_IMAGES), ("good", TRAIN_IMAGES)]
    assert cached.read_bytes() == server.files[TRAIN_IMAGES]
    assert_holds_what_was_served(repaired, server, train=True)
    assert raw_files(cached.parent) == sorted(TRAIN)


def test_every_mirror_bad_is_a_download_error_listing_urls_and_the_folder(
    server, tmp_path, refused_url
):
    LocalMNIST = local(server, "down", "corrupt", refused_url)
    with pytest.raises(datasets.DownloadError) as caught:
        LocalMNIST(tmp_path, download=True)
    message = str(caught.value)
    raw = tmp_path / "LocalMNIST" / "raw"
    for url in LocalMNIST.mirrors:
        assert url + TRAIN_IMAGES in message, f"{url + TRAIN_IMAGES} not named in:\n{message}"
    assert str(raw) in message, f"the folder to put the file in is not named:\n{message}"
    assert "checksum" in message.lower(), message
    assert "by hand" in message, message
    assert raw_files(raw) == [], "a failed download left something in raw/"


def test_files_that_did_arrive_stay_when_a_later_one_fails(server, tmp_path):
    with pytest.raises(datasets.DownloadError, match=TRAIN_LABELS):
        local(server, "down", "imagesonly")(tmp_path, train=True, download=True)
    raw = tmp_path / "LocalMNIST" / "raw"
    assert raw_files(raw) == [TRAIN_IMAGES]
    assert (raw / TRAIN_IMAGES).read_bytes() == server.files[TRAIN_IMAGES]

    server.log.clear()
    train = local(server, "good")(tmp_path, train=True, download=True)
    assert server.log == [("good", TRAIN_LABELS)], "the file that had arrived was fetched again"
    assert_holds_what_was_served(train, server, train=True)


@pytest.mark.parametrize("train", [True, False])
def test_download_fetches_only_the_split_asked_for(server, tmp_path, train):
    wanted = TRAIN if train else TEST
    dataset = local(server, "good")(tmp_path, train=train, download=True)
    assert server.log == [("good", name) for name in wanted], (
        f"train={train} requested {server.log}"
    )
    assert raw_files(tmp_path / "LocalMNIST" / "raw") == sorted(wanted)
    assert_holds_what_was_served(dataset, server, train=train)

    # a mirror without the test files serves everything the training split needs
    server.log.clear()
    train_set = local(server, "trainonly", name="TrainOnly")(tmp_path, train=True, download=True)
    assert {name for _, name in server.log} == set(TRAIN)
    assert_holds_what_was_served(train_set, server, train=True)


def assert_says_it_cannot_write(caught: pytest.ExceptionInfo, raw: Path, server) -> None:
    message = str(caught.value)
    for needed in (str(raw), "write", "download=False"):
        assert needed in message, f"{needed!r} is not in the message:\n{message}"
    assert "Errno" not in message, f"a raw OSError, not an explanation:\n{message}"
    assert server.log == [], "nothing should be requested when there is nowhere to put it"


def test_a_root_that_is_a_file_is_a_clear_error_before_any_request(server, tmp_path):
    root = tmp_path / "data"
    root.write_text("not a folder")
    with pytest.raises(datasets.DownloadError) as caught:
        local(server, "good")(root, train=False, download=True)
    assert_says_it_cannot_write(caught, root / "LocalMNIST" / "raw", server)


def refuse_to_write(monkeypatch) -> None:
    """Every new file in a folder fails as on a read-only disk, even for root."""

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system", str(kwargs.get("dir", "")))

    monkeypatch.setattr(datasets.tempfile, "TemporaryFile", read_only)
    monkeypatch.setattr(datasets, "download_file", read_only)


def test_a_read_only_folder_is_a_clear_error_before_any_request(server, tmp_path, monkeypatch):
    raw = tmp_path / "LocalMNIST" / "raw"
    raw.mkdir(parents=True)
    refuse_to_write(monkeypatch)
    with pytest.raises(datasets.DownloadError) as caught:
        local(server, "good")(tmp_path, train=True, download=True)
    assert_says_it_cannot_write(caught, raw, server)
    assert "Read-only file system" in str(caught.value)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="permissions: POSIX, not as root"
)
def test_a_folder_without_write_permission_is_a_clear_error(server, tmp_path):
    raw = tmp_path / "LocalMNIST" / "raw"
    raw.mkdir(parents=True)
    raw.chmod(0o555)
    try:
        with pytest.raises(datasets.DownloadError) as caught:
            local(server, "good")(tmp_path, train=False, download=True)
    finally:
        raw.chmod(0o755)
    assert_says_it_cannot_write(caught, raw, server)


def test_a_read_only_folder_that_holds_the_files_needs_no_writing(server, tmp_path, monkeypatch):
    for name in TEST:
        (tmp_path / name).write_bytes(server.files[name])
    refuse_to_write(monkeypatch)
    test = local(server, "good")(tmp_path, train=False, download=True)
    assert_holds_what_was_served(test, server, train=False)
    assert server.log == [] and not (tmp_path / "LocalMNIST").exists()


def test_an_interrupted_download_leaves_no_file(server, tmp_path):
    destination = tmp_path / TRAIN_IMAGES
    url = server.mirrors("interrupted")[0] + TRAIN_IMAGES
    with pytest.raises(datasets.DownloadError, match=TRAIN_IMAGES):
        datasets.download_file(url, destination, dict(server.resources)[TRAIN_IMAGES], timeout=5)
    assert list(tmp_path.iterdir()) == [], "the interrupted download left a file behind"

    LocalMNIST = local(server, "interrupted", "good")
    LocalMNIST(tmp_path, download=True)
    assert server.log[1:3] == [("interrupted", TRAIN_IMAGES), ("good", TRAIN_IMAGES)]
    assert raw_files(tmp_path / "LocalMNIST" / "raw") == sorted(TRAIN)


def test_an_interrupted_download_is_reported_as_interrupted(server, tmp_path):
    """Half the bytes then EOF is a cut connection, not a bad copy: the error should say so."""
    url = server.mirrors("interrupted")[0] + TRAIN_IMAGES
    size = len(server.files[TRAIN_IMAGES])
    with pytest.raises(datasets.DownloadError) as caught:
        datasets.download_file(url, tmp_path / TRAIN_IMAGES, "0" * 32, timeout=5)
    message = str(caught.value).replace(url, "<url>")  # the route's name is no evidence
    assert any(
        word in message.lower() for word in ("interrupted", "incomplete", "closed", str(size))
    ), f"an interrupted download ({size // 2} of {size} bytes) is reported as:\n{message}"
    assert list(tmp_path.iterdir()) == []


def test_missing_files_without_download_say_where_and_what_to_do(server, tmp_path):
    LocalMNIST = local(server, "good")
    with pytest.raises(FileNotFoundError) as caught:
        LocalMNIST(tmp_path, train=False)
    message = str(caught.value)
    for needed in (TEST_IMAGES, str(tmp_path / "LocalMNIST" / "raw"), str(tmp_path)):
        assert needed in message, f"{needed!r} is not in the message:\n{message}"
    assert "download=True" in message, message
    assert server.log == [], "download=False must not touch the network"


# how the file is damaged -> (its bytes from the good ones, a word the error must contain)
DAMAGE = {
    "wrong magic number": (lambda raw: gzip.compress(b"\xde\xad\xbe\xef" + raw[4:]), "magic"),
    "a labels file's magic": (
        lambda raw: gzip.compress(b"\x00\x00\x08\x01" + raw[4:]),
        "dimension",
    ),
    "truncated gzip": (lambda raw: gzip.compress(raw)[:-300], "truncated"),
    "truncated data": (lambda raw: gzip.compress(raw[:-28]), "truncated"),
    "not gzip at all": (lambda raw: raw, "gzip"),
}


@pytest.mark.parametrize("how", list(DAMAGE))
@pytest.mark.parametrize("where", ["root", "raw"])
def test_a_bad_file_placed_by_hand_is_a_value_error_naming_it(server, tmp_path, how, where):
    folder = tmp_path if where == "root" else tmp_path / "LocalMNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    damage, word = DAMAGE[how]
    (folder / TEST_LABELS).write_bytes(server.files[TEST_LABELS])
    (folder / TEST_IMAGES).write_bytes(damage(gzip.decompress(server.files[TEST_IMAGES])))
    with pytest.raises(ValueError, match=TEST_IMAGES) as caught:
        local(server, "good")(tmp_path, train=False)
    assert word in str(caught.value), f"{how}: the error does not say {word!r}: {caught.value}"
    assert server.log == []


def test_fashion_mnist_keeps_its_files_in_its_own_folder(server, tmp_path):
    FashionMNIST = local(server, "down", "good", base=datasets.FashionMNIST, name="FashionMNIST")
    fashion = FashionMNIST(tmp_path, train=False, download=True)
    assert raw_files(tmp_path / "FashionMNIST" / "raw") == sorted(TEST)
    assert not (tmp_path / "MNIST").exists()
    assert_holds_what_was_served(fashion, server, train=False)
    assert fashion.classes[0] == "T-shirt/top" and len(fashion.classes) == 10

    FashionMNIST(tmp_path, train=True, download=True)
    server.log.clear()
    FashionMNIST(tmp_path, train=True, download=True)
    FashionMNIST(tmp_path, train=False, download=True)
    assert server.log == []
    # MNIST's files are looked for in root/LocalMNIST/raw and root, not FashionMNIST's folder
    with pytest.raises(FileNotFoundError, match="download=True"):
        local(server, "good")(tmp_path, train=False)
