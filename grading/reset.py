"""`python -m kindling reset NN`: put chapter NN's stubs back, keeping your files.

Each of the chapter's modules that differs from its stub as shipped is first copied
to a backup next to it (chapters/03/optim.py.2026-11-26T19-30-05.bak), then replaced
by the stub. A backup never replaces an earlier one: a second reset within the same
second writes optim.py.2026-11-26T19-30-05-2.bak. Nothing happens without a yes:
the prompt, or --yes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grading import pristine
from grading.manifest import ROOT


@dataclass
class Outcome:
    """What a reset did: the stubs it put back and where the learner's files went."""

    restored: list[str] = field(default_factory=list)  # as chapters/03/optim.py
    backups: list[Path] = field(default_factory=list)


def changed_files(chapter: str, root: Path = ROOT) -> list[str]:
    """The chapter's module files that differ from the pristine stubs (or are missing)."""
    changed = []
    for path in pristine.stub_paths(chapter):
        file = root / path
        if not file.exists() or file.read_text(encoding="utf-8") != pristine.read(path):
            changed.append(path)
    return changed


def free_backup_name(file: Path, stamp: str) -> Path:
    """`file.<stamp>.bak`, or `file.<stamp>-2.bak`, -3, ...: the first name not taken."""
    backup = file.with_name(f"{file.name}.{stamp}.bak")
    copy = 2
    while backup.exists():
        backup = file.with_name(f"{file.name}.{stamp}-{copy}.bak")
        copy += 1
    return backup


def keep_a_copy(file: Path, stamp: str) -> Path:
    """Copy `file` to a fresh backup name; never writes over an existing file."""
    content = file.read_bytes()
    while True:
        backup = free_backup_name(file, stamp)
        try:
            with open(backup, "xb") as out:  # "x": fails if the name was taken meanwhile
                out.write(content)
            return backup
        except FileExistsError:
            continue  # another reset took this name a moment ago: try the next one


def stdin_is_a_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def ask_in_terminal(
    question: str,
    assume_yes: bool,
    is_terminal: Callable[[], bool] | None = None,
    read_answer: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> bool:
    """The command line's confirmation: --yes, else a y/N prompt on a terminal.

    Without a terminal no one can answer, so the answer is no; so is end of
    input (Ctrl-D) or Ctrl-C at the prompt.
    """
    listing = question.rsplit("\n", 1)[0]
    if assume_yes:
        say(listing)
        return True
    if not (is_terminal or stdin_is_a_terminal)():
        say(listing)
        say("Not a terminal, so no one can confirm: run it again with --yes.")
        return False
    try:
        return read_answer(question).strip().lower() in {"y", "yes"}
    except (EOFError, KeyboardInterrupt):
        say("")  # end the prompt's line
        return False


def reset(
    chapter: str,
    confirm: Callable[[str], bool],
    root: Path = ROOT,
    say: Callable[[str], None] = print,
) -> Outcome:
    """Restore the chapter's stubs after `confirm(question)`; says and returns what it did."""
    changed = changed_files(chapter, root)
    if not changed:
        say(f"chapters/{chapter} already holds the stubs as shipped: nothing to reset.")
        return Outcome()
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S")
    question = (
        f"Reset chapter {chapter}? These files go back to their stubs:\n"
        + "".join(
            f"  {path}  (yours is kept as {free_backup_name(root / path, stamp).name})\n"
            if (root / path).exists()
            else f"  {path}  (missing)\n"
            for path in changed
        )
        + "Continue? [y/N] "
    )
    if not confirm(question):
        say("Nothing was changed.")
        return Outcome()
    outcome = Outcome()
    for path in changed:
        file = root / path
        backup = keep_a_copy(file, stamp) if file.exists() else None  # before the stub
        file.write_text(pristine.read(path), encoding="utf-8")
        outcome.restored.append(path)
        if backup is None:
            say(f"restored {path}")
        else:
            outcome.backups.append(backup)
            say(f"restored {path} (yours is kept as {backup.name})")
    return outcome
