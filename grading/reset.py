"""`python -m kindling reset NN`: put chapter NN's stubs back, keeping your files.

Each of the chapter's modules that differs from its stub as shipped is first copied
to a backup next to it (chapters/03/optim.py.2026-11-26T19-30-05.bak), then replaced
by the stub. Nothing happens without a yes: the prompt, or --yes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from grading import pristine
from grading.manifest import ROOT


def changed_files(chapter: str, root: Path = ROOT) -> list[str]:
    """The chapter's module files that differ from the pristine stubs (or are missing)."""
    changed = []
    for path in pristine.stub_paths(chapter):
        file = root / path
        if not file.exists() or file.read_text(encoding="utf-8") != pristine.read(path):
            changed.append(path)
    return changed


def reset(
    chapter: str,
    confirm: Callable[[str], bool],
    root: Path = ROOT,
    say: Callable[[str], None] = print,
) -> list[Path]:
    """Restore the chapter's stubs after `confirm(question)`; returns the backups made."""
    changed = changed_files(chapter, root)
    if not changed:
        say(f"chapters/{chapter} already holds the stubs as shipped: nothing to reset.")
        return []
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S")
    question = (
        f"Reset chapter {chapter}? These files go back to their stubs:\n"
        + "".join(f"  {path}  (yours is kept as {path}.{stamp}.bak)\n" for path in changed)
        + "Continue? [y/N] "
    )
    if not confirm(question):
        say("Nothing was changed.")
        return []
    backups = []
    for path in changed:
        file = root / path
        if file.exists():
            backup = file.with_name(f"{file.name}.{stamp}.bak")
            backup.write_bytes(file.read_bytes())
            backups.append(backup)
        file.write_text(pristine.read(path), encoding="utf-8")
        say(f"restored {path}")
    return backups
