"""Pose metrics: MPJPE, P-MPJPE, N-MPJPE, MPJVE."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pose3d_ros.metrics import mpjpe, mpjve, n_mpjpe, p_mpjpe


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
