"""Shared test fixtures: the standing pose, tiny models that keep the suite fast on 2 cores,
a miniature Human3.6M and its training config, and rclpy set-up. Test modules import none of
this: pytest hands each test the fixtures it names."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from pose3d_ros.geometry import world_to_camera
from pose3d_ros.networks import build_model
from pose3d_ros.networks.cards import LifterCard, save_model
from pose3d_ros.skeleton import H36M17

# Standing, facing the camera (optical frame: x right, y down, z forward; the person looks
# towards -z), elbows and knees slightly flexed the legal way; root-relative, metres.
_STANDING_POSE = np.array([
    [0.0, 0.0, 0.0], [-0.13, 0.0, 0.0], [-0.13, 0.45, 0.02], [-0.13, 0.88, 0.05],
    [0.13, 0.0, 0.0], [0.13, 0.45, 0.02], [0.13, 0.88, 0.05], [0.0, -0.23, 0.0],
    [0.0, -0.48, 0.0], [0.0, -0.55, -0.05], [0.0, -0.7, 0.0], [0.18, -0.45, 0.0],
    [0.22, -0.2, 0.0], [0.25, 0.05, -0.05], [-0.18, -0.45, 0.0], [-0.22, -0.2, 0.0],
    [-0.25, 0.05, -0.05],
])


def _read_only(a: np.ndarray) -> np.ndarray:
    """Session fixtures are shared by every test: none may edit them in place."""
    a.setflags(write=False)
    return a


@pytest.fixture(scope="session")
def standing_pose() -> np.ndarray:
    """The plausible standing H36M-17 pose (17, 3), read-only: copy it to change it."""
    return _read_only(_STANDING_POSE.copy())


def _swing(pose: np.ndarray, distal: str, degrees: float) -> np.ndarray:
    """Rotate the wrist or ankle about its hinge joint around the x axis (towards -z for
    positive degrees: a wrist swings forward, an ankle backward for negative ones)."""
    j = H36M17.index(distal)
    hinge = pose[H36M17.parents[j]]
    a = np.radians(degrees)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), np.sin(a)], [0.0, -np.sin(a), np.cos(a)]])
    out = pose.copy()
    out[j] = hinge + rot @ (pose[j] - hinge)
    return out


@pytest.fixture(scope="session")
def bent_pose(standing_pose) -> np.ndarray:
    """The standing pose with the elbows bent 45 degrees further (forearms forward) and the knees
    20 degrees (shanks backward): limbs bent far enough that mirroring them is clearly illegal."""
    pose = standing_pose
    for distal, degrees in (("r_wrist", 45.0), ("l_wrist", 45.0), ("r_ankle", -20.0), ("l_ankle", -20.0)):
        pose = _swing(pose, distal, degrees)
    return _read_only(pose)


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


@pytest.fixture(scope="session")
def bent_backwards() -> Callable[[np.ndarray, str], np.ndarray]:
    """``bent_backwards(pose, distal)``: the pose with that wrist or ankle reflected through the
    plane of its upper limb and girdle (the hinge bent the other way)."""
    return _bent_backwards


_TINY_HYPERPARAMETERS = {"num_joints_in": 17, "in_features": 2, "num_joints_out": 17,
                         "filter_widths": [3, 3], "causal": True, "dropout": 0.0, "channels": 16}


def _tiny_card(**overrides) -> LifterCard:
    hyper = dict(_TINY_HYPERPARAMETERS, **overrides.pop("hyperparameters", {}))
    card = {"architecture": "temporal_conv", "hyperparameters": hyper, "layout": "h36m17",
            "receptive_field": 9, "causal": hyper["causal"], "input_normalization": "intrinsics"}
    return LifterCard(**dict(card, **overrides))


@pytest.fixture(scope="session")
def tiny_card() -> Callable[..., LifterCard]:
    """``tiny_card(**overrides)``: a complete model card (less weights/sha256, which save_model
    adds) for a tiny causal temporal_conv lifter; ``hyperparameters`` overrides are merged."""
    return _tiny_card


def _trained_like(model: torch.nn.Module) -> torch.nn.Module:
    for bn in [model.expand_bn, *model.layers_bn]:
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


@pytest.fixture(scope="session")
def trained_like() -> Callable[[torch.nn.Module], torch.nn.Module]:
    """``trained_like(model)``: a temporal_conv model in eval mode with non-trivial batch-norm
    statistics and affine parameters (drawn from torch's global generator), as after training,
    so that eval mode is not the identity."""
    return _trained_like


@pytest.fixture
def one_torch_thread():
    """Torch on one thread, as LifterNode runs it (extra threads only slow its small per-frame
    products on a busy machine); the previous count is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class _TrackedLifter:
    """An OnlineLifter with its track states kept by track id, as OnlinePoseEstimator keeps them:
    ``update(stamp, people, intrinsics)``; ``tracks[id]`` is that track's LiftTrack."""

    def __init__(self, lifter) -> None:
        self.lifter, self.tracks = lifter, {}

    def update(self, stamp, people, intrinsics):
        states = [self.tracks.setdefault(p.track_id, self.lifter.new_track()) for p in people]
        return self.lifter.update(stamp, people, intrinsics, states)


@pytest.fixture(scope="session")
def tracked() -> Callable:
    """``tracked(lifter)``: the OnlineLifter with per-track states kept by id (``.tracks``, ``.lifter``)."""
    return _TrackedLifter


@pytest.fixture(scope="session")
def save_oracle_lifter(standing_pose) -> Callable[..., Path]:
    """``save_oracle_lifter(path, causal=True, **card)``: saves a tiny lifter whose output is
    always the standing pose (shrink weights 0, bias = the pose); returns the card's path."""
    def save(path: Path, causal: bool = True, **card) -> Path:
        torch.manual_seed(0)
        model = build_model("temporal_conv", dict(_TINY_HYPERPARAMETERS, causal=causal))
        with torch.no_grad():
            model.shrink.weight.zero_()
            model.shrink.bias.copy_(torch.tensor(standing_pose.reshape(-1), dtype=torch.float32))
        return save_model(model, path, _tiny_card(hyperparameters={"causal": causal}, causal=causal, **card))
    return save


_CAMERA = {"R": np.eye(3).tolist(), "T": [0.0, 0.0, -5.0], "f": [1000.0, 1000.0], "c": [500.0, 500.0],
           "k": [0.0, 0.0, 0.0], "p": [0.0, 0.0], "res_w": 1000, "res_h": 1000}


def _walking_poses(rng: np.random.Generator, frames: int) -> np.ndarray:
    """A rest pose whose limbs swing sinusoidally, drifting slowly: learnable 2D -> 3D."""
    rest = rng.normal(0.0, 0.25, size=(17, 3))
    rest[0] = 0.0
    t = np.arange(frames)[:, None, None]
    swing = 0.1 * np.sin(2 * np.pi * t / 40 + np.arange(17)[None, :, None])
    drift = np.concatenate([0.005 * t[:, :, 0:1], np.zeros((frames, 1, 2))], axis=-1)
    return (rest + swing + drift).astype(np.float32)


@pytest.fixture(scope="session")
def h36m_root(tmp_path_factory) -> Path:
    """A miniature dataset in the compact format of ../shared/data/h36m (read-only for tests):
    subjects S1, S5, S9, S11, actions Walking and Eating 2, cameras cam_a (5 m away, identity
    rotation) and cam_b, 120 frames each; the 2D of h36m_sh_pt_mpii_2d16 is the projection."""
    from training.data import project_h36m

    root = tmp_path_factory.mktemp("h36m")
    rng = np.random.default_rng(0)
    positions, cameras = {}, {}
    for subject in ("S1", "S5", "S9", "S11"):
        cameras[subject] = {"cam_a": _CAMERA, "cam_b": dict(_CAMERA, T=[0.5, 0.0, -6.0])}
        for action in ("Walking", "Eating 2"):
            positions[f"{subject}|{action}"] = _walking_poses(rng, 120)
    np.savez(root / "h36m_positions_3d17.npz", **positions)
    (root / "h36m_cameras.json").write_text(json.dumps(cameras))
    sh = {}
    for key, world in positions.items():
        for cam_id, cam in cameras[key.split("|")[0]].items():
            uv = project_h36m(world_to_camera(world, np.array(cam["R"]), np.array(cam["T"])), cam)
            sh[f"{key}|{cam_id}"] = np.delete(uv, 9, axis=1).astype(np.float16)
    np.savez(root / "h36m_sh_pt_mpii_2d16.npz", **sh)
    return root


@pytest.fixture
def tiny_config(h36m_root, tmp_path) -> dict:
    """A training config for a tiny causal lifter on ``h36m_root`` (4 epochs), writing under tmp_path."""
    return {
        "name": "tiny",
        "data": {"root": str(h36m_root), "inputs": "gt", "train_subjects": ["S1", "S5"]},
        "model": {"receptive_field": 9, "causal": True, "channels": 32, "dropout": 0.0},
        "train": {"epochs": 4, "batch_size": 8, "chunk": 16, "lr": 0.003, "lr_decay": 0.95,
                  "noise_std": 0.0, "flip": True, "seed": 0, "threads": 1},
        "output": {"dir": str(tmp_path / "ckpt"), "export": str(tmp_path / "models" / "tiny")},
        "reference": {"source": "test", "p1_mm": 1.0},
    }


@pytest.fixture
def ros():
    """rclpy initialised for one test, discovery limited to this machine."""
    import rclpy

    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    rclpy.init()
    yield
    rclpy.try_shutdown()
