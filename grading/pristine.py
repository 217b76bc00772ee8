"""The chapters' stubs as shipped, kept in grading/pristine-stubs.zip for `kindling reset`.

A learner writes into chapters/NN/*.py; `python -m kindling reset NN` puts the stub
back from this archive (after saving the learner's file). The archive holds each
chapter's modules, named as in the repository (chapters/03/optim.py).

Maintainers who change a stub refresh the archive with

    python -m grading.pristine --update

and the course's tests check that it matches the stubs in the repository.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from grading.manifest import CHAPTERS_DIR, ROOT, chapter_numbers, load_chapter

ARCHIVE = Path(__file__).resolve().parent / "pristine-stubs.zip"


def stub_paths(chapter: str) -> list[str]:
    """The chapter's module files, relative to the repository: chapters/03/optim.py, ..."""
    return [f"chapters/{chapter}/{module}.py" for module in load_chapter(chapter).modules]


def read(path: str, archive: Path = ARCHIVE) -> str:
    """The pristine text of one stub, e.g. read("chapters/03/optim.py")."""
    with zipfile.ZipFile(archive) as bundle:
        return bundle.read(path).decode("utf-8")


def update(archive: Path = ARCHIVE, root: Path = ROOT) -> list[str]:
    """Write the archive from the stubs now in chapters/; returns the paths stored."""
    paths = [
        path
        for chapter in chapter_numbers(root / CHAPTERS_DIR.name)
        for path in stub_paths(chapter)
    ]
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in paths:
            info = zipfile.ZipInfo(
                path, date_time=(2026, 1, 1, 0, 0, 0)
            )  # the same bytes each time
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, (root / path).read_text(encoding="utf-8"))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Refresh grading/pristine-stubs.zip")
    parser.add_argument("--update", action="store_true", help="store the stubs now in chapters/")
    args = parser.parse_args(argv)
    if not args.update:
        parser.error("nothing to do: pass --update")
    paths = update()
    print(f"stored {len(paths)} stubs in {ARCHIVE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
