"""Kindling: a small PyTorch, assembled from the chapters you write.

`import kindling.optim` loads `optim.py` from the first folder on this
package's `__path__` that has one. Which folders, and in what order, comes
from one environment variable, read once at import:

    KINDLING_IMPL=mine          your code: chapters/01 ... chapters/07  (the default)
    KINDLING_IMPL=reference     the answer key: solutions/
    KINDLING_IMPL=isolate:03    chapters/03 first, the answer key for everything else

A second variable says where the answer key runs its heavy kernels:

    KINDLING_DEVICE=cpu         Numba's parallel CPU kernels (the default)
    KINDLING_DEVICE=cuda        numba-cuda kernels on an NVIDIA GPU (chapter 05, part 2)

Inside the library every sibling import is relative (`from .autograd import
Tensor`), so a module always runs on whatever the spine selected.
"""

from __future__ import annotations

import importlib
import importlib.abc
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS_DIR = ROOT / "chapters"
SOLUTIONS_DIR = ROOT / "solutions"

# Which chapter teaches each module: chapters/<chapter>/<module>.py.
MODULE_CHAPTER: dict[str, str] = {
    "autograd": "01",
    "nn": "02",
    "functional": "02",
    "init": "02",
    "optim": "03",
    "data": "04",
    "transforms": "04",
    "datasets": "04",
    "cnn": "05",
    "kernels": "05",
    "gpu": "05",
    "multitask": "06",
    "distributed": "07",
}
CHAPTERS: tuple[str, ...] = tuple(sorted(set(MODULE_CHAPTER.values())))


def search_path(impl: str) -> list[Path]:
    """The folders `kindling.<module>` is looked up in, first match wins."""
    if impl == "mine":
        return [CHAPTERS_DIR / chapter for chapter in CHAPTERS]
    if impl == "reference":
        return [SOLUTIONS_DIR]
    if impl.startswith("isolate:") and impl.removeprefix("isolate:") in CHAPTERS:
        return [CHAPTERS_DIR / impl.removeprefix("isolate:"), SOLUTIONS_DIR]
    raise ValueError(
        f"KINDLING_IMPL={impl!r} is not understood: use 'mine', 'reference' or "
        f"'isolate:NN' with NN one of {', '.join(CHAPTERS)}"
    )


def describe_impl(impl: str) -> str:
    """What `impl` runs, in words: "your code (chapters/01 to 07)", "the answer key", ..."""
    if impl == "mine":
        return f"your code (chapters/{CHAPTERS[0]} to {CHAPTERS[-1]})"
    if impl == "reference":
        return "the answer key (solutions/)"
    return f"your chapter {impl.removeprefix('isolate:')}, on the answer key for the rest"


IMPL = os.environ.get("KINDLING_IMPL") or "mine"  # set but empty: the default
# This folder comes last so that kindling's own tools (`python -m kindling`) are found too.
__path__ = [str(folder) for folder in search_path(IMPL)] + [str(Path(__file__).parent)]


DEVICES = ("cpu", "cuda")


def check_device(device: str) -> str:
    """`device` if it is known and usable here; a clear error otherwise, never a fallback."""
    if device not in DEVICES:
        raise ValueError(f"KINDLING_DEVICE={device!r} is not understood: use 'cpu' or 'cuda'")
    if device == "cuda":
        from numba import cuda  # imported only when a GPU is asked for

        if not cuda.is_available():
            raise RuntimeError(
                "KINDLING_DEVICE=cuda asks for the GPU, but numba finds no CUDA GPU here "
                "(numba.cuda.is_available() is False). Unset KINDLING_DEVICE to run on the "
                "CPU, or set NUMBA_ENABLE_CUDASIM=1 to simulate a GPU (correct, very slow)."
            )
    return device


DEVICE = check_device(os.environ.get("KINDLING_DEVICE", "cpu"))


class _MissingChapterModule(importlib.abc.MetaPathFinder):
    """Asked only after Python's normal search failed: explain where the file should be."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        package, _, module = fullname.partition(".")
        if package != __name__ or module not in MODULE_CHAPTER:
            return None
        where = f"chapters/{MODULE_CHAPTER[module]}/{module}.py"
        raise ModuleNotFoundError(
            f"kindling.{module} was not found: it is written in {where} (chapter "
            f"{MODULE_CHAPTER[module]}). KINDLING_IMPL={IMPL!r} searched: "
            + ", ".join(str(Path(folder).relative_to(ROOT)) for folder in __path__[:-1]),
            name=fullname,
        )


if not any(isinstance(finder, _MissingChapterModule) for finder in sys.meta_path):
    sys.meta_path.append(_MissingChapterModule())


# The top-level API, like `torch.tensor` or `torch.no_grad`: each name is looked
# up in its module the first time it is used, so `import kindling` stays cheap
# and a chapter you have not started does not break the ones you have.
_EXPORTS: dict[str, str] = {
    name: "autograd"
    for name in (
        "Tensor",
        "Function",
        "tensor",
        "zeros",
        "ones",
        "rand",
        "randn",
        "arange",
        "manual_seed",
        "no_grad",
        "enable_grad",
        "is_grad_enabled",
        "exp",
        "log",
        "sqrt",
        "relu",
        "sigmoid",
        "tanh",
        "matmul",
        "gradcheck",
    )
}


_EXPORTS.update(save="nn", load="nn")


def __getattr__(name: str) -> Any:
    if name in MODULE_CHAPTER:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kindling' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *MODULE_CHAPTER, *_EXPORTS])


def loaded_from(module: ModuleType) -> str:
    """Where a kindling module came from, relative to the repository (for messages)."""
    return str(Path(module.__file__ or "?").resolve().relative_to(ROOT))
