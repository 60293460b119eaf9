"""Online bone-length estimation and the TP-Net-style causal refiner."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pose3d_ros.constraints import symmetrize
from pose3d_ros.lifting.refinement import (
    BoneLengthEstimator,
    CausalRefiner,
    load_refiner,
    refiner_mismatch,
    weighted_median,
)
from pose3d_ros.networks.cards import LifterCard, load_model, save_model
from pose3d_ros.skeleton import H36M17

TRUE = np.linspace(0.1, 0.45, 16)


def _symmetric(lengths: np.ndarray) -> np.ndarray:
    out = lengths.copy()
    left, right = zip(*H36M17.left_right_bones)
    out[list(left)] = out[list(right)]
    return out


def test_estimate_needs_min_frames_then_recovers_lengths_from_noisy_frames():
    rng = np.random.default_rng(0)
    est = BoneLengthEstimator(capacity=32, min_frames=5)
    truth = _symmetric(TRUE)
    for k in range(500):
        assert (est.estimate() is None) == (k < 5)
        noisy = truth * (1 + rng.normal(0, 0.05, 16))
        if k % 10 == 0:
            noisy *= 3.0  # gross outliers: the median ignores them
        est.add(noisy, np.ones(17))
    np.testing.assert_allclose(est.estimate(), truth, rtol=0.03)
    assert est.lengths.shape == (32, 16)  # memory bounded however long the track


def test_reservoir_samples_the_whole_history():
    est = BoneLengthEstimator(capacity=50, min_frames=1)
    for k in range(1000):  # lengths grow with time: a uniform sample spans the history
        est.add(np.full(16, float(k)), np.ones(17))
    held = est.lengths[:, 0]
    assert held.min() < 250 and held.max() > 750
    assert 350 < est.estimate()[0] < 650


def test_confident_frames_outweigh_unconfident_ones():
    est = BoneLengthEstimator(capacity=64, min_frames=1)
    for k in range(30):
        confident = k % 3 == 0
        est.add(TRUE * (1.0 if confident else 2.0), np.full(17, 0.9 if confident else 0.1))
    np.testing.assert_allclose(est.estimate(), symmetrize(TRUE))  # left and right averaged


def test_weighted_median():
    values = np.array([[1.0, 5.0], [2.0, 6.0], [10.0, 7.0]])
    weights = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 0.0]])  # second column: all zero -> equal weights
    np.testing.assert_array_equal(weighted_median(values, weights), [2.0, 6.0])


def test_refiner_starts_as_identity_and_is_causal():
    torch.manual_seed(0)
    model = CausalRefiner(window=8, hidden=32)
    poses = torch.randn(2, 8, 17, 3)
    out = model(poses)
    np.testing.assert_allclose(out.detach().numpy(), (poses[:, -1] - poses[:, -1, :1]).numpy(), atol=1e-6)
    torch.nn.init.normal_(model.net[-1].weight)
    changed = poses.clone()
    changed[:, 0] += 1.0  # the oldest frame matters once trained ...
    assert not torch.allclose(model(poses), model(changed))
    assert torch.all(model(poses)[:, 0] == 0)  # ... and the output is root-relative


def test_refiner_round_trip(tmp_path):
    model = CausalRefiner(window=4, hidden=16)
    card = LifterCard("tpnet_refiner", {"window": 4, "hidden": 16, "num_joints": 17}, "h36m17", receptive_field=4,
                      causal=True, input_normalization="root_relative_3d")
    loaded = load_refiner(save_model(model, tmp_path / "ref", card))
    assert isinstance(loaded.model, CausalRefiner) and loaded.model.receptive_field == 4


def test_load_refiner_rejects_a_lifter(tmp_path, tiny_card):
    from pose3d_ros.networks import build_model
    card = tiny_card()
    path = save_model(build_model("temporal_conv", card.hyperparameters), tmp_path / "lifter", card)
    with pytest.raises(ValueError, match="not a tpnet_refiner"):
        load_refiner(path)


def test_refiner_mismatch_names_the_other_lifter_or_weights(tmp_path, tiny_card):
    from pose3d_ros.networks import build_model
    card = tiny_card()
    lifter = load_model(save_model(build_model("temporal_conv", card.hyperparameters), tmp_path / "lifter_a", card))
    def refiner(**fields) -> LifterCard:
        return dataclasses.replace(card, architecture="tpnet_refiner", **fields)

    assert refiner_mismatch(refiner(), lifter) is None
    assert refiner_mismatch(refiner(lifter="lifter_a.json", lifter_sha256=lifter.card.sha256), lifter) is None
    assert "lifter_b.json" in refiner_mismatch(refiner(lifter="lifter_b.json"), lifter)
    assert "other lifter_a.json weights" in refiner_mismatch(refiner(lifter="lifter_a.json", lifter_sha256="0" * 64),
                                                            lifter)
