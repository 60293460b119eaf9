"""Gravity-levelled training data: Human3.6M's views turned level, virtual cameras about level,
and a levelled lifter's card."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from pose3d_ros.geometry import camera_up
from pose3d_ros.metrics import trunk_lean_deg
from pose3d_ros.networks.cards import load_model
from pose3d_ros.skeleton import H36M17
from training.augmentation import TrainingBatch, augment
from training.config import DataConfig, TrainConfig, TrainingConfig
from training.data import h36m_view, input_normalization, model_inputs
from training.evaluate import evaluation_data
from training.generators import ChunkedDataset
from training.train import train
from training.virtual_camera import VirtualCameraSpec, virtual_views

LEVEL_AXES = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # world (x right, y ahead, z up) -> a level camera


def _pitched_camera(pitch_deg: float, centre=(0.0, -5.0, 1.5)) -> dict:
    """A Human3.6M-style camera (no distortion) 5 m behind the origin, looking ``pitch_deg`` down."""
    a = math.radians(pitch_deg)
    pitch = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    return {"R": (pitch @ LEVEL_AXES).tolist(), "T": list(centre), "f": [1000.0, 1000.0], "c": [500.0, 500.0],
            "k": [0.0, 0.0, 0.0], "p": [0.0, 0.0], "res_w": 1000, "res_h": 1000}


def test_a_pitched_cameras_view_turned_level():
    cam = _pitched_camera(15.0)
    np.testing.assert_allclose(np.asarray(cam["R"])[:, 2], camera_up(15.0), atol=1e-12)
    world = (np.linspace(0.1, 1.7, 17)[:, None] * [0.0, 0.0, 1.0])[None]  # a vertical line of joints, 1.6 m
    own = h36m_view("S1", "Walking", "c", cam, world)
    level = h36m_view("S1", "Walking", "c", cam, world, level=True)
    assert input_normalization(own) == "intrinsics" and input_normalization(level) == "level"
    rise = level.positions_3d[0, -1] - level.positions_3d[0, 0]
    np.testing.assert_allclose(rise, [0.0, -1.6, 0.0], atol=1e-5)  # world up is -y in the level frame
    tilted = own.positions_3d[0, -1] - own.positions_3d[0, 0]
    assert tilted[2] < -0.3  # in the pitched camera the head is nearer than the feet
    # The levelled 2D is the level camera's image of the levelled 3D.
    p = level.positions_3d
    np.testing.assert_allclose(model_inputs(level), p[..., :2] / p[..., 2:], atol=1e-5)


def test_level_needs_cameras_with_orientations():
    with pytest.raises(ValueError, match="level"):
        DataConfig("d", dataset="humaneva", level=True)


def test_a_levelled_card_is_evaluated_on_level_views(tiny_card):
    assert evaluation_data(tiny_card(input_normalization="level"), "h36m", Path("d"), "gt").level
    assert not evaluation_data(tiny_card(), "h36m", Path("d"), "gt").level


def test_level_virtual_views_come_back_to_the_level_frame(standing_pose):
    g = torch.Generator().manual_seed(0)
    windows = torch.tensor(np.repeat(standing_pose[None, None], 64, 0), dtype=torch.float32) + torch.tensor(
        [0.0, 0.0, 4.0])
    spec = VirtualCameraSpec(probability=1.0, distance_m=(5.0, 8.0), noise_px=(0.0, 0.0), outlier=0.0)
    uv, seen, chosen = virtual_views(windows, spec, g, level=True)
    assert chosen.float().mean() > 0.9
    rel = seen - seen[:, :, :1]
    torch.testing.assert_close(rel[chosen], (windows - windows[:, :, :1])[chosen], atol=1e-5, rtol=0)
    image = seen[..., :2] / seen[..., 2:]
    inside = (uv - image).norm(dim=-1) < 1e-4  # joints the virtual camera saw (the rest are border guesses)
    assert inside[chosen].float().mean() > 0.9
    steep = VirtualCameraSpec(probability=1.0, elevation_deg=(89.0, 89.0), hfov_deg=(45.0, 45.0), portrait=0.0)
    assert not virtual_views(windows, steep, g, level=True)[2].any()  # near the nadir: not re-viewed


def test_a_levelled_lifter_trains_and_says_so_on_its_card(h36m_root, tmp_path, tiny_config):
    root = tmp_path / "h36m_level"
    shutil.copytree(h36m_root, root)
    cameras = json.loads((root / "h36m_cameras.json").read_text())
    for subject in cameras:
        cameras[subject] = {"cam_a": _pitched_camera(12.0), "cam_b": _pitched_camera(16.0, (0.5, -6.0, 1.7))}
    (root / "h36m_cameras.json").write_text(json.dumps(cameras))
    cfg = dict(tiny_config, data=dict(tiny_config["data"], root=str(root), level=True),
               train=dict(tiny_config["train"], epochs=1, virtual_cameras={"probability": 0.5}))
    loaded = load_model(train(TrainingConfig.from_dict(cfg), resume=False))
    assert loaded.card.input_normalization == "level"
    assert np.isfinite(loaded.card.metrics["h36m_s9_s11"]["p1_mm"])


def test_scaling_about_the_root_keeps_the_persons_ray():
    torch.manual_seed(0)
    points = torch.randn(16, 4, 17, 3) * 0.3 + torch.tensor([0.5, 1.0, 4.0])
    inputs = points[..., :2] / points[..., 2:]
    batch = TrainingBatch(inputs.clone(), points - points[..., :1, :])
    train_cfg = TrainConfig(epochs=1, batch_size=1, lr=0.1, flip=False, scale_range=(0.5, 2.0), scale_about="root")
    augment(batch, train_cfg, H36M17)
    scale = batch.scale[:, 0, 0, 0]
    assert not torch.allclose(scale, torch.ones(16))
    torch.testing.assert_close(batch.inputs[..., 0, :], inputs[..., 0, :])  # the root's ray is kept
    spread = (batch.inputs - batch.inputs[..., :1, :]) / (inputs - inputs[..., :1, :])
    torch.testing.assert_close(spread[..., 1:, :], scale[:, None, None, None].expand(-1, 4, 16, 2), rtol=1e-3, atol=0)
    with pytest.raises(ValueError, match="2D losses"):
        TrainConfig(epochs=1, batch_size=1, lr=0.1, scale_about="root", losses={"projection": 0.1})


def test_trunk_lean_is_measured_from_the_frames_up_direction():
    poses = np.zeros((3, 17, 3))
    a = np.radians(40.0)
    poses[:, 8] = [[0.0, -0.5, 0.0], [0.0, -0.5 * np.cos(a), 0.5 * np.sin(a)], [0.0, 0.5, 0.0]]  # thorax
    np.testing.assert_allclose(trunk_lean_deg(poses), [0.0, 40.0, 180.0], atol=1e-9)


def test_bent_chunks_are_drawn_more_often():
    frames = 64
    targets = np.zeros((frames, 17, 3), np.float32)
    data = ChunkedDataset([np.zeros((frames, 17, 2), np.float32)], [targets], 9, True, 16)
    chosen = np.zeros(frames, bool)
    chosen[20] = True  # a frame of the second chunk
    data.oversample(chosen, 3)
    drawn = np.concatenate([idx for *_, idx in data.batches(5, np.random.default_rng(0), return_index=True)])
    assert np.bincount(drawn, minlength=len(data)).tolist() == [1, 3, 1, 1]
    with pytest.raises(ValueError, match="oversample_bends"):
        TrainConfig(epochs=1, batch_size=1, lr=0.1, oversample_bends=0)
