"""pose3d-lift: a recording detected whole, each unbroken stretch of a track lifted at once."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from conftest import STANDING_POSE, tiny_card
from pose3d_ros.detection.base import Detection
from pose3d_ros.detection.replay_backend import save_replay
from pose3d_ros.geometry import CameraIntrinsics, project
from pose3d_ros.lift_video import main
from pose3d_ros.lifting.sequence import lift_recording
from pose3d_ros.networks import build_model
from pose3d_ros.networks.cards import load_model, save_model
from pose3d_ros.skeleton import H36M17

WIDTH, HEIGHT = 64, 48
MISSING = (5, 6)  # frames without the person: the track has two stretches


def _oracle(tmp_path, **card):
    """A symmetric tiny lifter whose output is always STANDING_POSE."""
    torch.manual_seed(0)
    model = build_model("temporal_conv", dict(tiny_card().hyperparameters, causal=False))
    with torch.no_grad():
        model.shrink.weight.zero_()
        model.shrink.bias.copy_(torch.from_numpy(STANDING_POSE.reshape(-1)).float())
    return save_model(model, tmp_path / "oracle", tiny_card(hyperparameters={"causal": False}, causal=False, **card))


def _roots(n: int) -> np.ndarray:
    return np.stack([np.array([0.2, 0.1, 4.0]) + [0.05 * k, 0.0, 0.02 * k] for k in range(n)])


def test_recording_lifted_and_placed_per_stretch(tmp_path, capsys):
    cam = CameraIntrinsics.default_for(WIDTH, HEIGHT)
    roots = _roots(12)
    frames = tmp_path / "frames"
    frames.mkdir()
    detections = []
    for k, root in enumerate(roots):
        cv2.imwrite(str(frames / f"{k:03d}.png"), np.zeros((HEIGHT, WIDTH, 3), np.uint8))
        uv = project(STANDING_POSE + root, cam).astype(np.float32)
        detections.append([] if k in MISSING else [Detection.from_source(3, uv, np.full(17, 0.9, np.float32), H36M17)])
    save_replay(tmp_path / "replay.npz", detections)
    out = tmp_path / "poses.npz"
    main([str(frames), "--output", str(out), "--model", str(_oracle(tmp_path)), "--backend", "replay",
          "--backend-option", f"file={tmp_path / 'replay.npz'}", "--resize-width", "0"])
    result = np.load(out)
    kept = [k for k in range(12) if k not in MISSING]
    height = np.linalg.norm(STANDING_POSE[H36M17.index("head")] - STANDING_POSE[H36M17.index("r_ankle")])
    assert f"head to ankle {height:.2f} m, depth {np.median(roots[kept, 2]):.1f} m" in capsys.readouterr().out
    assert result["track_3_frames"].tolist() == kept and str(result["model"]) == "oracle.json"
    assert (int(result["width"]), int(result["height"])) == (WIDTH, HEIGHT)
    np.testing.assert_allclose(result["track_3_translation"], roots[kept], atol=1e-3)
    np.testing.assert_allclose(result["track_3_joints"], STANDING_POSE + roots[kept][:, None], atol=1e-3)


def test_screen_normalised_lifters_are_refused(tmp_path):
    loaded = load_model(_oracle(tmp_path, input_normalization="screen"))
    cam = CameraIntrinsics.default_for(WIDTH, HEIGHT)
    with pytest.raises(ValueError, match="focal-normalised"):
        lift_recording(loaded, np.zeros((4, 17, 2)), np.ones((4, 17)), cam)


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="pose3d-lift: .*nothing.json"):
        main([str(tmp_path), "--output", str(tmp_path / "x.npz"), "--model", str(tmp_path / "nothing.json")])
