"""Shared test helpers: small models keep the suite fast on 2 cores; rclpy set-up; a standing pose."""
from __future__ import annotations

import os

import numpy as np
import pytest

from pose3d_ros.networks.cards import LifterCard
from pose3d_ros.skeleton import H36M17

# A plausible standing H36M-17 pose (camera optical frame: y down), root-relative, metres.
STANDING_POSE = np.array([
    [0.0, 0.0, 0.0], [-0.13, 0.0, 0.0], [-0.13, 0.45, 0.02], [-0.13, 0.88, 0.05],
    [0.13, 0.0, 0.0], [0.13, 0.45, 0.02], [0.13, 0.88, 0.05], [0.0, -0.23, 0.0],
    [0.0, -0.48, 0.0], [0.0, -0.55, -0.05], [0.0, -0.7, 0.0], [0.18, -0.45, 0.0],
    [0.22, -0.2, 0.0], [0.25, 0.05, -0.05], [-0.18, -0.45, 0.0], [-0.22, -0.2, 0.0],
    [-0.25, 0.05, -0.05],
])

# A standing pose with the elbows bent forward (the constraint tests' pose).
POSE = np.array([
    [0.0, 0.0, 0.0], [-0.13, 0.0, 0.0], [-0.13, 0.44, -0.05], [-0.13, 0.86, 0.0],
    [0.13, 0.0, 0.0], [0.13, 0.44, -0.05], [0.13, 0.86, 0.0], [0.0, -0.23, 0.0],
    [0.0, -0.48, 0.0], [0.0, -0.55, -0.05], [0.0, -0.7, 0.0], [0.18, -0.45, 0.0],
    [0.2, -0.18, 0.0], [0.21, 0.05, -0.2], [-0.18, -0.45, 0.0], [-0.2, -0.18, 0.0],
    [-0.21, 0.05, -0.2],
])


def _bent_backwards(pose: np.ndarray, distal: str) -> np.ndarray:
    """Reflect the wrist or ankle through the plane of the upper limb and its girdle."""
    hinge = H36M17.parents[distal_j := H36M17.index(distal)]
    proximal = H36M17.parents[hinge]
    n = np.cross(pose[proximal] - pose[H36M17.parents[proximal]], pose[hinge] - pose[proximal])
    n /= np.linalg.norm(n)
    v = pose[distal_j] - pose[hinge]
    out = pose.copy()
    out[distal_j] = pose[hinge] + v - 2 * (v @ n) * n
    return out



TINY_HYPERPARAMETERS = {"num_joints_in": 17, "in_features": 2, "num_joints_out": 17,
                        "filter_widths": [3, 3], "causal": True, "dropout": 0.0, "channels": 16}


def tiny_card(**overrides) -> LifterCard:
    """A model card (less weights/sha256, which save_model adds) for a tiny lifter; overridden
    ``hyperparameters`` are merged into the tiny ones."""
    hyper = dict(TINY_HYPERPARAMETERS, **overrides.pop("hyperparameters", {}))
    card = {"architecture": "temporal_conv", "hyperparameters": hyper, "layout": "h36m17",
            "receptive_field": 9, "causal": hyper["causal"], "input_normalization": "intrinsics"}
    return LifterCard(**dict(card, **overrides))


@pytest.fixture
def tiny_card_factory():
    return tiny_card


@pytest.fixture
def ros():
    """rclpy initialised for one test, discovery limited to this machine."""
    import rclpy

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    rclpy.init()
    yield
    rclpy.try_shutdown()
