"""Every topic of the seed text (shared/seed/pytorch-intro-zh.md) has a findable home in the
book: a heading on a page that is in mkdocs.yml's nav. Builds nothing; reads the markdown.

The anchor of a heading is computed as mkdocs computes it (Python-Markdown's toc slugify):
lowercase, punctuation dropped, spaces and hyphens joined into one hyphen.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# (the seed's topic, with its section number; the page under docs/; the heading's anchor)
COVERAGE = [
    # 2.1 what a deep learning framework provides: its six functions
    ("2.1 automatic differentiation", "framework.md", "automatic-differentiation"),
    ("2.1 model definition", "framework.md", "model-definition"),
    ("2.1 optimisation algorithms", "framework.md", "optimisation-algorithms"),
    ("2.1 data handling", "framework.md", "data-handling"),
    ("2.1 training and validation", "framework.md", "training-and-validation"),
    ("2.1 deployment", "framework.md", "deployment"),
    ("2.1 deployment, in depth", "deployment.md", "deploying-a-trained-model"),
    # 2.2 PyTorch's traits
    ("2.2 dynamic computation graphs", "framework.md", "dynamic-computation-graphs"),
    ("2.2 ease of use", "framework.md", "ease-of-use"),
    ("2.2 performance (C++ and CUDA)", "framework.md", "performance-c-and-cuda-kernels"),
    ("2.2 hardware: CPU, GPU, TPU", "framework.md", "hardware-cpu-gpu-tpu-and-others"),
    # 3.1-3.5 and 4.1-4.2: the mechanics, the training loop and the ConvNet
    ("3.1 autograd, built", "chapters/01-autograd.md", "the-chain-rule-run-backwards"),
    ("3.2 the seed's linear regression", "chapters/02-nn.md", "a-model-is-a-python-class"),
    ("3.3 the seed's Adam", "chapters/03-optim.md", "adam"),
    ("3.4 the seed's MNIST data code", "chapters/04-data.md", "the-original-tutorials-data-code-on-kindling"),
    ("3.5 the training loop", "framework.md", "the-training-loop"),
    ("3.5 the training loop, built", "chapters/03-optim.md", "three-lines-in-every-training-loop"),
    ("4.1 the ConvNet", "framework.md", "the-original-tutorials-convnet"),
    ("4.1 the ConvNet, built and fixed", "chapters/05-cnn.md", "the-original-tutorials-convnet"),
    # 5 applications
    ("5 image recognition (ResNet, Inception)", "framework.md", "image-recognition"),
    ("5 natural language processing (RNN, Transformer)", "framework.md", "natural-language-processing"),
    ("5 speech recognition", "framework.md", "speech-recognition"),
    # 6 tools and resources
    ("6.1 official documentation", "further-reading.md", "pytorchs-documentation-and-tutorials"),
    ("6.2 community resources", "further-reading.md", "community"),
    ("6.3 online courses", "further-reading.md", "online-courses"),
    # 7 the challenges ahead
    ("7 the challenges ahead", "framework.md", "the-challenges-ahead"),
    ("7 large-scale distributed training", "framework.md", "large-scale-distributed-training"),
    ("7 model performance", "framework.md", "model-performance"),
    # 8 the FAQ
    ("8.1 parameters and variables", "faq.md", "what-is-the-difference-between-parameters-and-variables"),
    ("8.2 a custom model", "faq.md", "how-do-i-define-a-custom-model"),
    ("8.3 multi-task learning", "faq.md", "how-do-i-do-multi-task-learning"),
    ("8.3 multi-task learning, built", "chapters/06-multitask.md", "the-tutorials-answer"),
]  # fmt: skip


def slugify(heading: str) -> str:
    """The anchor mkdocs gives a heading (Python-Markdown's toc.slugify, separator '-')."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)  # inline code keeps its text
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, skipping fenced code (where `#` starts a comment)."""
    found, fenced = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)):
            found.add(slugify(heading[1]))
    return found


def nav_pages() -> set[str]:
    def walk(entry):
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            for value in entry.values():
                yield from walk(value)
        elif isinstance(entry, list):
            for item in entry:
                yield from walk(item)

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return set(walk(config["nav"]))


@pytest.mark.parametrize("topic, page, anchor", COVERAGE, ids=[row[0] for row in COVERAGE])
def test_the_seed_topic_has_a_heading_in_the_book(topic, page, anchor):
    path = DOCS / page
    assert path.is_file(), f"{topic!r}: docs/{page} does not exist"
    assert page in nav_pages(), f"{topic!r}: docs/{page} is not in mkdocs.yml's nav"
    assert anchor in anchors(path), f"{topic!r}: docs/{page} has no heading with anchor #{anchor}"


def test_slugify_matches_mkdocs():
    assert (
        slugify("The seed's flatten bug, reading shapes") == "the-seeds-flatten-bug-reading-shapes"
    )
    assert slugify("Performance: C++ and CUDA kernels") == "performance-c-and-cuda-kernels"
    assert slugify("Normalisation: where 0.1307 and 0.3081 come from") == (
        "normalisation-where-01307-and-03081-come-from"
    )
    assert slugify("`state_dict`: a snapshot") == "state_dict-a-snapshot"
