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
    """n one-frame windows (n, 1, 17, 3) of the root-relative standing pose."""
    return torch.tensor(np.repeat(standing_pose[None, None], n, 0), dtype=torch.float32)


def test_clean_views_are_projections_of_the_rotated_pose_with_lengths_kept(standing_pose):
    g = torch.Generator().manual_seed(0)
    poses = _poses(standing_pose)
    uv, seen, chosen = virtual_views(poses, VirtualCameraSpec(probability=1.0, distance_m=(5.0, 10.0), **CLEAN), g)
    assert chosen.all()
    posed = seen[:, 0] - seen[:, 0, :1]
    lengths = lambda p: torch.linalg.norm(p[:, 1:] - p[:, :1], dim=-1)  # noqa: E731
    torch.testing.assert_close(lengths(posed), lengths(poses[:, 0]), atol=1e-5, rtol=0)
    # The 2D is the perspective image of the posed skeleton at one root position (far enough to be in the image).
    for k in range(0, 256, 17):
        pose, image = posed[k].double().numpy(), uv[k, 0].double().numpy()
        t = solve_root_translation(pose, image)
        assert 4.99 < t[2] < 10.01  # depth along the optical axis
        reprojected = (pose + t)[:, :2] / (pose + t)[:, 2:]
        np.testing.assert_allclose(reprojected, image, atol=1e-4)


def test_elevation_brings_the_head_nearer_when_looking_down(standing_pose):
    g = torch.Generator().manual_seed(1)
    spec = VirtualCameraSpec(probability=1.0, elevation_deg=(40.0, 40.0), roll_deg=(0.0, 0.0), **CLEAN)
    _, seen, _ = virtual_views(_poses(standing_pose, 4), spec, g)
    head, ankle = 10, 3
    assert (seen[:, 0, head, 2] < seen[:, 0, ankle, 2] - 0.5).all()


def test_only_the_drawn_share_is_re_viewed(standing_pose):
    g = torch.Generator().manual_seed(2)
    poses = _poses(standing_pose, 2000)
    uv, seen, chosen = virtual_views(poses, VirtualCameraSpec(probability=0.3), g)
    assert 0.25 < chosen.float().mean() < 0.35
    torch.testing.assert_close(seen[~chosen], poses[~chosen])
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


def test_a_window_is_seen_from_one_static_camera(standing_pose):
    """A person walking 1 m across 20 frames: every frame's 2D is the image of the same rigid
    motion (distances between any joints of any frames kept), and the window's path is kept."""
    g = torch.Generator().manual_seed(4)
    steps = torch.linspace(0.0, 1.0, 20)[:, None, None] * torch.tensor([1.0, 0.0, 0.0])
    walk = torch.tensor(standing_pose, dtype=torch.float32)[None] + steps + torch.tensor([0.0, 0.0, 4.0])
    windows = walk[None].repeat(8, 1, 1, 1)  # (8, 20, 17, 3), camera frame
    uv, seen, chosen = virtual_views(windows, VirtualCameraSpec(probability=1.0, distance_m=(6.0, 9.0), **CLEAN), g)
    assert chosen.all()
    flat = lambda w: w.reshape(len(w), -1, 3).double()  # noqa: E731
    torch.testing.assert_close(torch.cdist(flat(seen), flat(seen)), torch.cdist(flat(windows), flat(windows)),
                               atol=2e-5, rtol=0)
    torch.testing.assert_close(uv, seen[..., :2] / seen[..., 2:], atol=1e-5, rtol=0)
    assert not torch.allclose(seen[:, 0], seen[:, -1])  # the walk is still there


def test_a_temporal_lifter_trains_through_virtual_cameras(tiny_config, monkeypatch):
    """Re-viewed windows reach the causal network: their targets are the root-relative 3D of the
    output frames in the virtual camera, whose images the inputs at those frames are."""
    import training.augmentation as augmentation

    seen = []

    def recording(batch, spec):
        viewed = view(batch, spec)
        seen.append((batch.inputs[viewed].clone(), batch.targets[viewed].clone(), batch.output_offset))
        return viewed

    view = augmentation._view_virtually
    monkeypatch.setattr(augmentation, "_view_virtually", recording)
    cfg = dict(tiny_config, train=dict(tiny_config["train"], epochs=1, virtual_cameras={
        "probability": 0.5, "noise_px": [0.0, 0.0], "outlier": 0.0, "distance_m": [6.0, 9.0]}))
    loaded = load_model(train(TrainingConfig.from_dict(cfg), resume=False))
    assert np.isfinite(loaded.card.training["history"][0]["train_mpjpe_mm"])
    inputs, targets, offset = next((i, t, o) for i, t, o in seen if len(i))
    assert offset == 8 and inputs.shape[1] == targets.shape[1] + 8  # causal, receptive field 9
    for k in range(min(4, len(inputs))):
        for n in (0, targets.shape[1] - 1):
            pose, image = targets[k, n].double().numpy(), inputs[k, n + offset, :, :2].double().numpy()
            t = solve_root_translation(pose, image)
            np.testing.assert_allclose((pose + t)[:, :2] / (pose + t)[:, 2:], image, atol=1e-4)


def test_virtual_cameras_refuse_trajectory_models(tiny_config):
    cfg = dict(tiny_config, model=dict(tiny_config["model"], target="trajectory"),
               train=dict(tiny_config["train"], virtual_cameras={}))
    with pytest.raises(ValueError, match="virtual_cameras"):
        train(TrainingConfig.from_dict(cfg), resume=False)
