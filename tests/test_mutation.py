"""The graders catch small mistakes: mutation testing (grading/mutate.py) in CI.

The full run (`python -m grading.mutate`, see grading/mutation-report.md) takes an hour;
here a fixed, seeded sample of each chapter's mutants is graded, and any survivor that
grading/equivalent-mutants.toml does not list fails the test by name.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from grading import mutate

# Mutants graded per chapter: about 100 s in all on 2 cores. Chapter 05 compiles its Numba
# kernels for the unchanged answer key (20 s) and again for a mutant of them: one there.
SAMPLE = {"01": 4, "02": 4, "03": 4, "04": 4, "05": 1, "06": 4, "07": 2}
SEED = 2026


def _sample(chapter: str, equivalents: dict) -> list[mutate.Mutant]:
    """A seeded choice of exercise bodies, and one mutant of each that is not equivalent
    (generating every mutant of a chapter would take longer than grading a few)."""
    rng = random.Random(SEED)
    bodies = rng.sample(mutate.exercise_bodies(chapter), SAMPLE[chapter])
    chosen = []
    for body in bodies:
        candidates = [m for m in mutate.mutants_of(body) if m.key not in equivalents]
        chosen.append(rng.choice(candidates))
    return chosen


def test_a_known_mutant_is_generated():
    body = mutate.ExerciseBody("optim.py", "SGD._update", "3.2")
    assert body in mutate.exercise_bodies("03")
    mutants = {m.describe().split(":", 1)[1]: m for m in mutate.mutants_of(body)}
    wanted = next(d for d in mutants if "buf += (1 - dampening) / grad" in d)
    mutant = mutants[wanted]
    original = (mutate.SOLUTIONS_DIR / "optim.py").read_text(encoding="utf-8")
    changed = [
        (old, new)
        for old, new in zip(original.splitlines(), mutant.source.splitlines(), strict=True)
        if old != new
    ]
    assert changed == [
        (
            "                buf += (1 - dampening) * grad",
            "                buf += (1 - dampening) / grad",
        )
    ]
    ast.parse(mutant.source)


def test_an_equivalent_without_a_reason_is_refused(tmp_path: Path):
    listed = tmp_path / "equivalent-mutants.toml"
    entry = 'file = "optim.py"\nfunction = "SGD._update"\nold = "a"\nnew = "b"\n'
    listed.write_text(f'[[equivalent]]\n{entry}reason = "because"\n', encoding="utf-8")
    assert mutate.load_equivalents(listed) == {("optim.py", "SGD._update", "a", "b"): "because"}
    for reason in ("", 'reason = ""\n', 'reason = "   "\n'):
        listed.write_text(f"[[equivalent]]\n{entry}{reason}", encoding="utf-8")
        with pytest.raises(ValueError, match=r"equivalent #1 .*has no reason"):
            mutate.load_equivalents(listed)


@pytest.mark.timeout(300)  # generates every mutant of the listed bodies: 26 s under load
def test_every_listed_equivalent_is_a_mutant_of_the_answer_key():
    """An entry that matches no mutant any more (the answer key changed) must go."""
    listed = mutate.load_equivalents()
    named = {(file, function) for file, function, _, _ in listed}
    bodies = [b for chapter in SAMPLE for b in mutate.exercise_bodies(chapter)]
    generated = {
        m.key for b in bodies if (b.file, b.function) in named for m in mutate.mutants_of(b)
    }
    stale = [key for key in listed if key not in generated]
    assert not stale, f"grading/equivalent-mutants.toml lists mutants that no longer exist: {stale}"


@pytest.mark.slow
# Measured warm on 2 shared cores: 7 to 10 s a chapter, 15 s for chapter 05 (65 s for the
# whole file). A cold Numba cache adds minutes of compiling to chapter 05's first run.
@pytest.mark.timeout(400)
@pytest.mark.parametrize("chapter", sorted(SAMPLE))
def test_a_sample_of_mutants_is_killed(chapter: str):
    equivalents = mutate.load_equivalents()
    mutants = _sample(chapter, equivalents)
    result = mutate.run_chapter(chapter, mutants, equivalents, echo=lambda *_, **__: None)
    if result.survivors:
        pytest.fail(
            f"chapter {chapter}: mutants that no grader kills (add a grader test, or list a "
            "true equivalent in grading/equivalent-mutants.toml with its reason):\n"
            + "\n".join(mutant.describe() for mutant in result.survivors)
        )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_at_a_time_gives_each_mutant_its_verdict():
    """--jobs 2: two copies of the course; every mutant is graded once, survivors in order."""
    equivalents = mutate.load_equivalents()
    body = next(b for b in mutate.exercise_bodies("03") if b.function == "clip_grad_norm_")
    mutants = [m for m in mutate.mutants_of(body) if m.key not in equivalents][:4]
    said: list[str] = []
    result = mutate.run_chapter(
        "03", mutants, equivalents, echo=lambda *args, **_: said.append(" ".join(args)), jobs=2
    )
    assert result.killed + len(result.survivors) == len(mutants) == 4
    assert result.killed == 4, [m.describe() for m in result.survivors]
    verdicts = [line for line in said if line.startswith("[")]
    assert sorted(int(line[1]) for line in verdicts) == [1, 2, 3, 4]
