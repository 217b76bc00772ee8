"""The example programs run on the answer key, and the book shows what they print.

`examples/init_experiment.py` writes the table that chapter 02 includes from
docs/snippets/init-experiment.md: if the code or the library changes its
numbers, this test fails until the snippet is regenerated with

    python examples/init_experiment.py --impl reference docs/snippets/init-experiment.md
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grading import mpi
from tests.workspace import compile_the_answer_keys_kernels

ROOT = Path(__file__).resolve().parent.parent


def run_example(script: str, *args: str, timeout: float = 60) -> str:
    """Run examples/<script> on the answer key from the repository's root; return its stdout."""
    env = {**os.environ, "KINDLING_IMPL": "reference"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stderr[-4000:]}"
    return result.stdout


def test_the_books_initialisation_table_is_what_the_experiment_prints(tmp_path):
    table = tmp_path / "init-experiment.md"
    run_example("init_experiment.py", str(table))
    committed = ROOT / "docs" / "snippets" / "init-experiment.md"
    assert table.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), (
        "docs/snippets/init-experiment.md differs from what examples/init_experiment.py "
        "prints now: regenerate it (see this file's docstring) and reread chapter 02's "
        "discussion of the table"
    )


def test_seed_models_fit_the_line_and_reach_every_parameter():
    output = run_example("seed_models.py")
    fitted = re.search(r"fitted weight (-?\d+\.\d+), bias (-?\d+\.\d+)", output)
    assert fitted, f"no 'fitted weight ..., bias ...' line in:\n{output}"
    weight, bias = float(fitted[1]), float(fitted[2])
    assert (round(weight, 1), round(bias, 1)) == (3.0, -2.0), fitted[0]

    norms = dict(re.findall(r"^(\S+)\s+\(.*?\)\s+grad norm (\S+)$", output, flags=re.MULTILINE))
    assert list(norms) == [
        "body.0.weight",
        "body.0.bias",
        "classify.weight",
        "classify.bias",
        "regress.weight",
        "regress.bias",
    ], output
    assert all(float(norm) > 0 for norm in norms.values()), norms


def test_mnist_data_runs_the_seeds_pipeline_on_the_shared_test_split():
    folder = ROOT.parent / "shared" / "data" / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST test split is not in {folder} (CI has it; see COURSE.md, Data)")
    output = run_example("mnist_data.py", "--data", str(folder))
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        assert "The training split is missing: going on with the test split only." in output
    assert "MNIST(test, 10000 images," in output, output
    assert "test_loader: 157 batches of up to 64 (the last holds 16)" in output, output
    assert "images (64, 1, 28, 28) float32, labels (64,) int64" in output, output
    assert "first labels: [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]" in output, output
    first = re.search(r"first batch: pixel mean (-?\d+\.\d+), std (\d+\.\d+)", output)
    assert first, output
    # Normalized with the training split's constants: centred near 0, spread near 1.
    assert abs(float(first[1])) < 0.2 and 0.8 < float(first[2]) < 1.2, first[0]
    stats = re.search(r"pixel statistics of the (\w+) split: mean (\d\.\d+), std (\d\.\d+)", output)
    assert stats, output
    expected = {"test": ("0.1325", "0.3105"), "training": ("0.1307", "0.3081")}[stats[1]]
    assert (stats[2], stats[3]) == expected, stats[0]


@pytest.mark.slow  # 28 s on a 2-core EPYC beside a mutation run (14 trainings)
@pytest.mark.timeout(300)
def test_multitask_example_trains_every_model_and_prints_the_table():
    folder = ROOT.parent / "shared" / "data" / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST test split is not in {folder} (CI has it; see COURSE.md, Data)")
    output = run_example(
        "multitask_mnist.py", "--data", str(folder), "--limit", "128", "--epochs", "2",
        "--seeds", "1", "2", timeout=280,
    )  # fmt: skip
    assert "128 training digits, 128 held out" in output, output
    models = list(multitask_configs())
    for name in models:
        for seed in (1, 2):
            assert re.search(rf"^  {re.escape(name)}\s+seed {seed} epoch 2: ", output, re.M), output
    number = r"\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]"
    table = re.findall(rf"^\| ([\w ,/-]+) \| ({number}|-) \| ({number}|-) \|$", output, re.M)
    assert [row[0] for row in table] == ["always 0 degrees", *models], output
    zero = next(row for row in table if row[0] == "always 0 degrees")
    assert zero[1] == "-" and 20 < float(zero[2].split()[0]) < 25, zero  # the mean of |angle|


def multitask_configs() -> dict:
    """The example's rows, read from its source (importing it would import kindling)."""
    source = (ROOT / "examples" / "multitask_mnist.py").read_text(encoding="utf-8")
    block = source[source.index("CONFIGS = {") : source.index("}\n", source.index("CONFIGS = {"))]
    return dict.fromkeys(re.findall(r'^    "([^"]+)": Config', block, re.M))


@pytest.mark.slow  # 17 s on a 2-core EPYC beside a mutation run (a training, then a prediction)
@pytest.mark.timeout(300)
def test_a_saved_model_predicts_from_a_script_with_no_training_code(tmp_path):
    folder = ROOT.parent / "shared" / "data" / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST test split is not in {folder} (CI has it; see COURSE.md, Data)")
    weights = tmp_path / "convnet.npz"
    trained = run_example(
        "mnist_convnet.py", "--data", str(folder), "--limit", "256", "--epochs", "1",
        "--save", str(weights), timeout=280,
    )  # fmt: skip
    assert f"saved the trained weights to {weights}" in trained
    output = run_example(
        "predict_digits.py", str(weights), "--data", str(folder), "--count", "7", timeout=280
    )
    rows = re.findall(r"^\s*(\d+)\s+(\d)\s+(\d)\s+(0\.\d{3})( +<- wrong)?$", output, re.MULTILINE)
    assert [int(row[0]) for row in rows] == list(range(9000, 9007)), output
    wrong = sum(bool(row[4]) for row in rows)
    assert f"accuracy: {(7 - wrong) / 7:.3f} on 7 digits" in output
    source = (ROOT / "examples" / "predict_digits.py").read_text(encoding="utf-8")
    assert "optim" not in source and "backward" not in source  # inference only


def test_predicting_with_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path):
    bogus = tmp_path / "weights.npz"
    bogus.write_text("not weights", encoding="utf-8")
    env = {**os.environ, "KINDLING_IMPL": "reference", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "predict_digits.py"), str(bogus)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: cannot load {bogus} as a kindling checkpoint: it is not an .npz archive "
        "(the files kindling.save writes)"
    )


EXAMPLES = ["ddp_mnist.py", "init_experiment.py", "mnist_convnet.py", "mnist_data.py", "multitask_mnist.py",
            "predict_digits.py", "seed_models.py", "../docs/figures/optimizer_paths.py"]  # fmt: skip


@pytest.mark.parametrize("script", EXAMPLES)
def test_every_example_takes_impl_and_checks_it(script):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--impl", "isolate:5"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'isolate:5' is not one of mine, reference or isolate:NN" in done.stderr, done.stderr


def test_an_example_runs_what_kindling_impl_says_and_says_so_first():
    env = {**os.environ, "KINDLING_IMPL": "isolate:02", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "examples" / "seed_models.py")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    first = done.stdout.splitlines()[0]
    assert (
        first == "running your chapter 02, on the answer key for the rest; KINDLING_IMPL=isolate:02"
    )
    assert "NotImplementedError: Exercise 2.1" in done.stderr  # the stubs of chapter 02 ran
    flag = subprocess.run([*command, "--impl", "reference"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert flag.returncode == 0, flag.stderr
    assert (
        flag.stdout.splitlines()[0]
        == "running the answer key (solutions/); KINDLING_IMPL=reference"
    )
    empty = subprocess.run(command, cwd=ROOT, env={**env, "KINDLING_IMPL": ""},
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert empty.stdout.startswith("running your code (chapters/01 to 07); KINDLING_IMPL=mine")


@pytest.mark.parametrize("script", ["ddp_mnist.py", "mnist_convnet.py", "multitask_mnist.py"])
def test_a_count_of_zero_is_refused_before_anything_runs(script):
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--epochs", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "argument --epochs: '0' is not a whole number above 0" in done.stderr, done.stderr


def ddp_job(ranks: int, *options: str, limit_s: float = 120) -> mpi.Job:
    """`mpiexec -n ranks python examples/ddp_mnist.py options` on the answer key, through
    grading.mpi (a deadlock ends at limit_s); skipped where MPI is missing."""
    if (reason := mpi.missing()) is not None:
        pytest.skip(reason)
    env = {**os.environ, "KINDLING_IMPL": "reference"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("NUMBA_NUM_THREADS", None)  # the example's own choice: 1 a rank when P > 1
    target = ["examples/ddp_mnist.py", *options, "--impl", "reference"]
    job = mpi.run(ranks, target, limit_s, cwd=ROOT, env=env)
    assert job.returncode is not None, job.describe(limit_s)
    return job


def ddp_result(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, f"not one RESULT line in:\n{output[-3000:]}"
    return json.loads(lines[0].removeprefix("RESULT "))


# 11 to 17 s for both jobs on a 2-core EPYC beside other runs (load 7), once the answer key's
# kernels are compiled: a fresh clone compiles them first, half a minute.
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ddp_example_trains_on_two_ranks_as_one_process_does(tmp_path):
    folder = ROOT.parent / "shared" / "data" / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the MNIST test split is not in {folder} (CI has it; see COURSE.md, Data)")
    compile_the_answer_keys_kernels()  # not once on each rank
    options = ["--data", str(folder), "--limit", "256", "--epochs", "1", "--batch-size", "16"]
    weights = tmp_path / "ddp.npz"
    job = ddp_job(2, *options, "--save", str(weights))
    assert job.returncode == 0, f"{job.describe(120)}:\n{job.output[-3000:]}"
    output = job.output
    assert output.startswith("running the answer key (solutions/); KINDLING_IMPL=reference")
    assert "on 2 rank(s), 1 Numba thread(s) each" in output, output
    assert "batch 16 (8 a rank), 256 training digits (128 a rank)" in output, output
    result = ddp_result(output)
    assert result["ranks"] == 2 and len(result["epoch_seconds"]) == 1, result
    assert isinstance(result["accuracy"], float) and 0 <= result["accuracy"] <= 1, result
    assert result["accuracy"] > 0.15, result  # real digits: above chance (0.28 seen)
    assert output.count("saved the trained weights") == 1, output  # rank 0 only
    assert f"every rank loaded {weights} back: the largest difference" in output, output
    assert re.search(r"own weights is 0$", output, re.M), output  # the ranks stayed equal
    with np.load(weights) as archive:
        assert {"conv1.weight", "conv2.weight", "fc1.weight", "fc2.bias"} <= set(archive.files)

    # One process with the whole batch: the same batches, in the same order.
    alone = ddp_job(1, *options)
    assert alone.returncode == 0, f"{alone.describe(120)}:\n{alone.output[-3000:]}"
    one = ddp_result(alone.output)
    assert one["ranks"] == 1 and "saved" not in alone.output, alone.output
    assert one["train_loss"] == pytest.approx(result["train_loss"], abs=1e-4), (one, result)
    assert one["accuracy"] == pytest.approx(result["accuracy"], abs=0.01), (one, result)


@pytest.mark.timeout(30)  # 1.6 s: refused before any data is read
def test_ddp_example_refuses_a_batch_that_does_not_split_over_the_ranks():
    job = ddp_job(2, "--batch-size", "63", limit_s=20)
    assert job.returncode == 2, job.output
    message = (
        "argument --batch-size: 63 digits do not split evenly over 2 ranks: give a multiple of 2"
    )
    assert job.output.count(message) == 1, job.output  # rank 0 says it, once
    assert "RESULT" not in job.output
