"""Virtual cameras: geometry of the re-viewed samples and the detector-like errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d_ros.geometry import solve_root_translation
from pose3d_ros.networks.cards import load_model
from training.config import TrainingConfig
from training.train import train
from training.virtual_camera import VirtualCameraSpec, virtual_views

CLEAN = dict(noise_px=(0.0, 0.0), outlier=0.0)


def _poses(standing_pose, n=256) -> torch.Tensor:
    return torch.tensor(np.repeat(standing_pose[None], n, 0), dtype=torch.float32)


def test_clean_views_are_projections_of_the_rotated_pose_with_lengths_kept(standing_pose):
    g = torch.Generator().manual_seed(0)
    poses = _poses(standing_pose)
    uv, posed, chosen = virtual_views(poses, VirtualCameraSpec(probability=1.0, distance_m=(5.0, 10.0), **CLEAN), g)
    assert chosen.all()
    lengths = lambda p: torch.linalg.norm(p[:, 1:] - p[:, :1], dim=-1)  # noqa: E731
    torch.testing.assert_close(lengths(posed), lengths(poses), atol=1e-5, rtol=0)
    # The 2D is the perspective image of the posed skeleton at one root position (far enough to be in the image).
    for k in range(0, 256, 17):
        pose, image = posed[k].double().numpy(), uv[k].double().numpy()
        t = solve_root_translation(pose, image)
        assert 4.99 < t[2] < 10.01  # depth along the optical axis
        reprojected = (pose + t)[:, :2] / (pose + t)[:, 2:]
        np.testing.assert_allclose(reprojected, image, atol=1e-4)


def test_elevation_brings_the_head_nearer_when_looking_down(standing_pose):
    g = torch.Generator().manual_seed(1)
    spec = VirtualCameraSpec(probability=1.0, elevation_deg=(40.0, 40.0), roll_deg=(0.0, 0.0), **CLEAN)
    _, posed, _ = virtual_views(_poses(standing_pose, 4), spec, g)
    head, ankle = 10, 3
    assert (posed[:, head, 2] < posed[:, ankle, 2] - 0.5).all()


def test_only_the_drawn_share_is_re_viewed(standing_pose):
    g = torch.Generator().manual_seed(2)
    poses = _poses(standing_pose, 2000)
    uv, posed, chosen = virtual_views(poses, VirtualCameraSpec(probability=0.3), g)
    assert 0.25 < chosen.float().mean() < 0.35
    torch.testing.assert_close(posed[~chosen], poses[~chosen])
    assert (uv[~chosen] == 0).all() and (uv[chosen] != 0).any()


def test_joints_never_leave_the_image(standing_pose):
    g = torch.Generator().manual_seed(3)
    spec = VirtualCameraSpec(probability=1.0, distance_m=(0.6, 0.8), hfov_deg=(45.0, 46.0), portrait=0.0)
    uv, _, _ = virtual_views(_poses(standing_pose), spec, g)
    half_w = np.tan(np.radians(46.0) / 2)
    assert uv[..., 0].abs().max() <= half_w * 1.05
    assert uv[..., 1].abs().max() <= half_w * 9 / 16 * 1.05


@pytest.mark.parametrize("kwargs", [{"probability": 1.5}, {"distance_m": (0.1, 2.0)}, {"hfov_deg": (10.0, 180.0)}])
def test_invalid_specs_are_refused(kwargs):
    with pytest.raises(ValueError):
        VirtualCameraSpec(**kwargs)


def test_a_per_frame_lifter_trains_through_virtual_cameras(tiny_config):
    cfg = dict(tiny_config, model={"architecture": "martinez_mlp", "linear_size": 64, "num_stages": 1, "dropout": 0.0})
    cfg["train"] = dict(cfg["train"], chunk=1, batch_size=64, epochs=2, virtual_cameras={"probability": 0.5})
    loaded = load_model(train(TrainingConfig.from_dict(cfg), resume=False))
    history = loaded.card.training["history"]
    assert len(history) == 2 and all(np.isfinite(h["train_mpjpe_mm"]) for h in history)


def test_virtual_cameras_refuse_temporal_lifters(tiny_config):
    cfg = dict(tiny_config, train=dict(tiny_config["train"], virtual_cameras={}))
    with pytest.raises(ValueError, match="per-frame lifter"):
        train(TrainingConfig.from_dict(cfg), resume=False)
