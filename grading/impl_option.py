"""`--impl` for the examples and figure scripts (which code they run), and their counts.

Without `--impl` a program runs what KINDLING_IMPL says, as the rest of kindling does
(unset: your code). The spine reads that variable once, when kindling is first imported,
so a program reads `--impl` before its own `import kindling`:

    if __name__ == "__main__":
        impl_option.apply(build_parser())
    import kindling
"""

from __future__ import annotations

import argparse
import os
import re

CHOICES = "mine, reference or isolate:NN (e.g. isolate:05)"


def impl_name(text: str) -> str:
    """argparse's check of an --impl value (the spine checks that the chapter exists)."""
    if not re.fullmatch(r"mine|reference|isolate:\d\d", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {CHOICES}")
    return text


def add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--impl",
        type=impl_name,
        metavar="IMPL",
        help=f"{CHOICES}: your chapters, the answer key, or your chapter NN on the answer "
        "key (default: KINDLING_IMPL, or mine when it is unset)",
    )


def apply(parser: argparse.ArgumentParser) -> None:
    """Set KINDLING_IMPL from --impl, before anything imports kindling."""
    impl = parser.parse_known_args()[0].impl
    if impl is not None:
        os.environ["KINDLING_IMPL"] = impl


def announce(asked: str | None = None) -> None:
    """The example's first line: which code runs. Stops with a one-line error when --impl
    came too late (kindling was imported with another choice)."""
    import kindling

    if asked is not None and asked != kindling.IMPL:
        raise SystemExit(
            f"error: --impl {asked} comes too late, kindling is already imported with "
            f"KINDLING_IMPL={kindling.IMPL}: run the example as a program"
        )
    print(f"running {kindling.describe_impl(kindling.IMPL)}; KINDLING_IMPL={kindling.IMPL}")


def positive_int(text: str) -> int:
    """argparse's check of a count (epochs, batch size, digits): a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return value
