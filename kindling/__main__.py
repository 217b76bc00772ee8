"""Kindling's command line: `python -m kindling progress`, `reset NN` and `check-gpu`."""

from __future__ import annotations

import argparse
import sys

from grading import progress, ptx, reset
from grading.manifest import chapter_numbers


def main(argv: list[str] | None = None) -> int:
    chapters = chapter_numbers()
    parser = argparse.ArgumentParser(prog="python -m kindling", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("progress", help="grade every chapter and print one table")
    show.add_argument("chapters", nargs="*", metavar="NN", help="only these (default: all)")
    show.add_argument(
        "--no-cache", action="store_true", help="grade every chapter, even those unchanged"
    )
    restore = commands.add_parser("reset", help="put a chapter's stubs back (your files are kept)")
    restore.add_argument("chapter", choices=chapters, help="the chapter, e.g. 03")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    commands.add_parser(
        "check-gpu", help="compile your CUDA kernels (chapters/05/gpu.py) for a GPU, without one"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(getattr(args, "chapters", [])) - set(chapters))
    if unknown:  # checked here: argparse cannot give a list of choices an empty default
        parser.error(f"no chapter {', '.join(unknown)} (choose from {', '.join(chapters)})")

    if args.command == "progress":
        rows = progress.progress(
            args.chapters or chapters,
            use_cache=not args.no_cache,
            write=lambda text: print(text, end="", flush=True),
            live=sys.stdout.isatty(),
        )
        print(progress.render(rows))
        return 1 if any(row.crashed for row in rows) else 0  # 1: a chapter gave no grade

    if args.command == "check-gpu":
        return ptx.check_gpu()  # 1: a kernel does not compile; 2: no compiler here

    outcome = reset.reset(
        args.chapter, lambda question: reset.ask_in_terminal(question, assume_yes=args.yes)
    )
    return 0 if outcome.restored else 1  # 1: nothing changed (declined or nothing to reset)


if __name__ == "__main__":
    sys.exit(main())
