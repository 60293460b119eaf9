"""Pose metrics: MPJPE, P-MPJPE, N-MPJPE, MPJVE."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pose3d_ros.metrics import mpjpe, mpjve, n_mpjpe, p_mpjpe
from pose3d_ros.skeleton import H36M17


def _rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def test_mpjpe_hand_computed():
    target = np.zeros((1, 3, 3))
    pred = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0], [1.0, 2.0, 2.0]]])
    assert mpjpe(pred, target) == pytest.approx((5 + 1 + 3) / 3)
    assert mpjpe(target, target) == 0.0


def test_p_mpjpe_invariant_to_similarity():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(4, 17, 3))
    pred = np.stack([1.7 * t @ _rotation(rng).T + rng.normal(size=3) for t in target])
    assert mpjpe(pred, target) > 0.5
    assert p_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-9)


def test_p_mpjpe_not_larger_than_mpjpe():
    rng = np.random.default_rng(1)
    for _ in range(5):
        target = rng.normal(size=(3, 17, 3))
        pred = target + rng.normal(scale=0.3, size=target.shape)
        assert p_mpjpe(pred, target) <= mpjpe(pred, target) + 1e-12
        assert n_mpjpe(pred, target) <= mpjpe(pred, target) + 1e-12


def test_p_mpjpe_does_not_use_reflections():
    rng = np.random.default_rng(2)
    target = rng.normal(size=(1, 17, 3))
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    # a reflection cannot be undone by a rotation: the error stays positive
    assert p_mpjpe(mirrored, target) > 0.1


def test_p_mpjpe_single_frame_shape():
    rng = np.random.default_rng(3)
    target = rng.normal(size=(17, 3))
    rot = np.array([[math.cos(1), -math.sin(1), 0], [math.sin(1), math.cos(1), 0], [0, 0, 1]])
    assert p_mpjpe(0.5 * target @ rot.T, target) == pytest.approx(0.0, abs=1e-9)


def test_n_mpjpe_scale_invariant():
    rng = np.random.default_rng(4)
    target = rng.normal(size=(5, 17, 3))
    scales = rng.uniform(0.5, 2.0, size=(5, 1, 1))
    pred = target * scales
    assert mpjpe(pred, target) > 0.1
    assert n_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-9)
    # but not translation invariant
    assert n_mpjpe(target + 1.0, target) > 0.1


def test_mpjve():
    rng = np.random.default_rng(5)
    target = rng.normal(size=(6, 17, 3))
    assert mpjve(target + np.array([0.2, -1.0, 3.0]), target) == pytest.approx(0.0, abs=1e-12)
    # one joint, moving 1 m per frame along x in pred, still in target: velocity error 1
    target = np.zeros((4, 1, 3))
    pred = np.zeros((4, 1, 3))
    pred[:, 0, 0] = [0, 1, 2, 3]
    assert mpjve(pred, target) == pytest.approx(1.0)
    # differences (1, 0, 0) and (-1, 2, 0): errors 1 and sqrt(5)
    pred = np.array([[[0, 0, 0]], [[1, 0, 0]], [[0, 2, 0]]], dtype=float)
    assert mpjve(pred, np.zeros_like(pred)) == pytest.approx((1 + math.sqrt(5)) / 2)


def test_reference_scores_hand_computed():
    from pose3d_ros.metrics import reference_scores
    bones = ((1, 0), (2, 1))
    target = np.zeros((3, 3, 3))
    target[:, 1, 0], target[:, 2, 0] = 1.0, 2.0
    target[:, :, 2] += 4.0
    pred = target.copy()
    pred[:, :, 2] += 0.5  # 0.5 deeper everywhere: root error only
    pred[1, 2, 1] = 0.3  # frame 1's last joint 0.3 off: one bone longer
    pred[2, 0] = np.nan  # frame 2 not scored
    s = reference_scores(pred, target, bones, min_joints=3)
    assert s["frames"] == 2
    assert s["root_error"] == pytest.approx(0.5)
    assert s["mpjpe"] == pytest.approx(0.3 / 6)
    np.testing.assert_allclose(s["per_joint"], [0.0, 0.0, 0.15])
    assert 0.0 < s["p_mpjpe"] < s["mpjpe"]
    longer = math.hypot(1.0, 0.3)
    assert s["bone_std"] == pytest.approx(np.std([1.0, longer]) / 2)
    assert math.isnan(reference_scores(pred, target, bones, absolute=False)["root_error"])
    empty = reference_scores(pred[2:], target[2:], bones)
    assert empty["frames"] == 0 and math.isnan(empty["mpjpe"])


def test_reference_scores_skip_unknown_reference_joints():
    from pose3d_ros.metrics import reference_scores
    rng = np.random.default_rng(2)
    target = rng.normal(size=(4, 17, 3))
    pred = target + rng.normal(scale=0.05, size=target.shape)
    pred[:, 16] += 1.0  # a joint far off, but unknown to the reference in frames 0-2
    target[:3, 16] = np.nan
    target[3, 0] = np.nan  # no root: frame 3 not scored
    s = reference_scores(pred, target, H36M17.bones)
    full = reference_scores(pred[:3, :16], target[:3, :16], H36M17.bones[:15], min_joints=12)
    assert s["frames"] == 3
    assert s["mpjpe"] == pytest.approx(full["mpjpe"])
    assert s["p_mpjpe"] == pytest.approx(full["p_mpjpe"])
    assert math.isnan(s["per_joint"][16])
    assert reference_scores(pred, target, H36M17.bones, min_joints=17)["frames"] == 0
