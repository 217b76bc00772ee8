"""The answer key for chapter 06 agrees with PyTorch and with the formulas it cites.

- the uncertainty-weighted loss (Kendall, Gal and Cipolla, 2018) and its gradients, for
  the outputs and for the log-variances, against the same formula written in PyTorch;
- fixed weights against a weighted sum in PyTorch;
- a MultiTaskNet's parameter names against torch's nn.ModuleDict;
- dynamic weight average against its formula, and rotate against np.rot90.

Skipped where PyTorch is not installed (`pip install -e ".[torch]"`), except the parts
that need no torch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import solutions.autograd as kd
import solutions.data as data
import solutions.multitask as mt
import solutions.nn as nn

KINDS = {"digit": "classification", "angle": "regression"}


def kindling_losses() -> dict:
    mse = nn.MSELoss()
    return {"digit": nn.CrossEntropyLoss(), "angle": lambda out, target: mse(out[:, 0], target)}


def case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((6, 4)).astype(np.float32)
    angles = rng.uniform(-45, 45, (6, 1)).astype(np.float32)
    return scores, angles, rng.integers(0, 4, 6), rng.uniform(-45, 45, 6).astype(np.float32)


@pytest.mark.parametrize("log_vars", [(0.0, 0.0), (1.5, -0.5), (-3.0, 6.0)])
def test_uncertainty_weighting_matches_the_formula_in_torch(log_vars):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here")
    scores, angles, labels, targets = case(1)
    # kindling
    outputs = {"digit": kd.tensor(scores, requires_grad=True),
               "angle": kd.tensor(angles, requires_grad=True)}  # fmt: skip
    criterion = mt.UncertaintyWeightedLoss(kindling_losses(), KINDS)
    criterion.log_vars.data[...] = log_vars
    total, parts = criterion(outputs, {"digit": kd.tensor(labels), "angle": kd.tensor(targets)})
    total.backward()
    # the paper's formula, in torch
    t_scores = torch.tensor(scores, requires_grad=True)
    t_angles = torch.tensor(angles, requires_grad=True)
    s = torch.tensor(log_vars, dtype=torch.float32, requires_grad=True)
    ce = torch.nn.functional.cross_entropy(t_scores, torch.tensor(labels))
    mse = torch.nn.functional.mse_loss(t_angles[:, 0], torch.tensor(targets))
    expected = torch.exp(-s[0]) * ce + 0.5 * s[0] + 0.5 * torch.exp(-s[1]) * mse + 0.5 * s[1]
    expected.backward()
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-5)
    np.testing.assert_allclose(parts["digit"].item(), ce.item(), rtol=1e-5)
    np.testing.assert_allclose(parts["angle"].item(), mse.item(), rtol=1e-5)
    np.testing.assert_allclose(outputs["digit"].grad, t_scores.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(outputs["angle"].grad, t_angles.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(criterion.log_vars.grad, s.grad.numpy(), rtol=1e-5, atol=1e-6)
    weights = criterion.task_weights()
    assert weights["digit"] == pytest.approx(math.exp(-log_vars[0]), rel=1e-6)
    assert weights["angle"] == pytest.approx(0.5 * math.exp(-log_vars[1]), rel=1e-6)


def test_the_regulariser_keeps_each_log_variance_at_log_of_its_loss():
    """d/ds [exp(-s) L + s/2] = 0 at s = log(2L): gradient descent on s alone finds it."""
    criterion = mt.UncertaintyWeightedLoss({"angle": lambda out, target: out.sum()},
                                           {"angle": "classification"})  # fmt: skip
    loss_value = 7.0
    for _ in range(2000):
        criterion.log_vars.grad = None
        total, _ = criterion({"angle": kd.tensor(np.float32(loss_value))}, {"angle": None})
        total.backward()
        criterion.log_vars.data -= 0.1 * criterion.log_vars.grad
    assert criterion.log_vars.data[0] == pytest.approx(math.log(2 * loss_value), abs=1e-3)


def test_fixed_weights_match_a_weighted_sum_in_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here")
    scores, angles, labels, targets = case(2)
    outputs = {"digit": kd.tensor(scores, requires_grad=True),
               "angle": kd.tensor(angles, requires_grad=True)}  # fmt: skip
    criterion = mt.WeightedLoss(kindling_losses(), {"angle": 1 / 300})
    total, _ = criterion(outputs, {"digit": kd.tensor(labels), "angle": kd.tensor(targets)})
    total.backward()
    t_scores = torch.tensor(scores, requires_grad=True)
    t_angles = torch.tensor(angles, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(t_scores, torch.tensor(labels)) + (
        torch.nn.functional.mse_loss(t_angles[:, 0], torch.tensor(targets)) / 300
    )
    expected.backward()
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-5)
    np.testing.assert_allclose(outputs["angle"].grad, t_angles.grad.numpy(), rtol=1e-5, atol=1e-8)


def test_parameter_names_match_torch_module_dict():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle here")

    class TorchMultiTask(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU())
            self.heads = torch.nn.ModuleDict(
                {"digit": torch.nn.Linear(5, 3), "angle": torch.nn.Linear(5, 1)}
            )

    ours = mt.MultiTaskNet(nn.Sequential(nn.Linear(6, 5), nn.ReLU()),
                           {"digit": nn.Linear(5, 3), "angle": nn.Linear(5, 1)})  # fmt: skip
    assert list(ours.state_dict()) == list(TorchMultiTask().state_dict())


def test_dynamic_weight_average_follows_its_formula():
    dwa = mt.DynamicWeightAverage(["a", "b", "c"], temperature=2.0)
    history = [{"a": 3.0, "b": 1.0, "c": 9.0}, {"a": 1.5, "b": 0.9, "c": 9.5}]
    assert dwa.weights() == {"a": 1.0, "b": 1.0, "c": 1.0}
    for epoch in history:
        dwa.end_epoch(epoch)
    rates = np.array([1.5 / 3.0, 0.9 / 1.0, 9.5 / 9.0])
    expected = 3 * np.exp(rates / 2) / np.exp(rates / 2).sum()
    got = dwa.weights()
    np.testing.assert_allclose([got["a"], got["b"], got["c"]], expected, rtol=1e-12)
    assert sum(got.values()) == pytest.approx(3.0)
    assert got["c"] > got["b"] > got["a"]  # the slowest-falling loss weighs most


def test_rotate_turns_counter_clockwise_and_keeps_a_centred_blob():
    image = np.zeros((9, 9), np.float32)
    image[1, 4] = 1.0  # above the centre
    turned = mt.rotate(image, 90.0)
    assert turned[4, 1] == pytest.approx(1.0)  # now left of it, as np.rot90 does
    np.testing.assert_array_equal(mt.rotate(image, 0.0), image)
    blob = np.zeros((28, 28), np.float32)
    blob[10:18, 11:17] = 1.0
    for degrees in (13.0, -40.0, 45.0):
        assert mt.rotate(blob, degrees).sum() == pytest.approx(blob.sum(), rel=0.02)


def test_rotated_digits_draw_each_angle_from_the_index():
    images = kd.tensor(np.ones((50, 1, 5, 5), np.float32))
    base = data.TensorDataset(images, kd.tensor(np.arange(50) % 10))
    first, again = mt.RotatedDigits(base, 30.0, seed=3), mt.RotatedDigits(base, 30.0, seed=3)
    angles = [first.angle(i) for i in range(50)]
    assert [again.angle(i) for i in reversed(range(50))] == angles[::-1]
    assert all(-30.0 <= a <= 30.0 for a in angles) and len(set(angles)) == 50
    assert mt.RotatedDigits(base, 30.0, seed=4).angle(0) != angles[0]
    image, targets = first[7]
    assert image.shape == (1, 5, 5) and targets["digit"] == 7
    assert targets["angle"] == np.float32(angles[7])
