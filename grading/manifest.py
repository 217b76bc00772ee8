"""Chapter manifests: `chapters/NN/exercises.toml`, one per chapter.

A manifest is the single source of truth for a chapter's exercises (id, title,
points, hint). The stubs, the graders' `@pytest.mark.exercise` ids and the
book's exercise headings are checked against it by the course's own tests.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS_DIR = ROOT / "chapters"


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    points: int
    hint: str


@dataclass(frozen=True)
class Chapter:
    number: str
    title: str
    modules: tuple[str, ...]
    pages: tuple[str, ...]  # the book's pages for this chapter, whose headings name its exercises
    exercises: tuple[Exercise, ...]
    timeout: float = 20.0  # seconds one grader test may take (Numba chapters compile on first use)

    @property
    def total_points(self) -> int:
        return sum(exercise.points for exercise in self.exercises)

    def exercise(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        known = ", ".join(e.id for e in self.exercises)
        raise KeyError(f"chapter {self.number} has no exercise {exercise_id!r} (it has {known})")


def load_chapter(number: str, chapters_dir: Path = CHAPTERS_DIR) -> Chapter:
    """Read and validate `chapters/<number>/exercises.toml`."""
    path = chapters_dir / number / "exercises.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"chapter {number} has no manifest: {path} is missing") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None
    exercises = tuple(
        Exercise(str(e["id"]), str(e["title"]), int(e["points"]), str(e["hint"]))
        for e in raw.get("exercise", [])
    )
    ids = [e.id for e in exercises]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate exercise ids in {ids}")
    if raw.get("chapter") != number:
        raise ValueError(f"{path} says chapter = {raw.get('chapter')!r}, expected {number!r}")
    return Chapter(
        number=number,
        title=str(raw["title"]),
        modules=tuple(raw["modules"]),
        pages=(raw["book"],) if isinstance(raw["book"], str) else tuple(raw["book"]),
        exercises=exercises,
        timeout=float(raw.get("timeout", 20.0)),
    )


def chapter_numbers(chapters_dir: Path = CHAPTERS_DIR) -> list[str]:
    """The chapters that exist on disk, in order."""
    return sorted(p.parent.name for p in chapters_dir.glob("*/exercises.toml"))
