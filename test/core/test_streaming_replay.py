"""Streaming replay of Human3.6M through the lifter node's code path equals the offline evaluation.

Three S9/S11 sequences (one camera, their first 500 frames) are replayed as three
simultaneous tracks: every frame becomes a real ``keypoints`` PointCloud2 (50 Hz stamps),
decoded by the node's codec (clouds.keypoints_from_cloud) and lifted by OnlinePoseEstimator with the node's
default settings (refinements off). P1 must equal training.evaluate's within 0.1 mm.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from rclpy.time import Time
from std_msgs.msg import Header

from pose3d_ros.lifting.inputs import PersonKeypoints
from pose3d_ros.lifting.online import OnlineLifter
from pose3d_ros.lifting.online_pose import OnlinePoseEstimator
from pose3d_ros.metrics import mpjpe
from pose3d_ros.networks.cards import load_model
from pose3d_ros.nodes.clouds import keypoints_from_cloud, keypoints_to_cloud
from pose3d_ros.nodes.lifter import PARAMS, settings_from_params

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "h36m"
MODEL = ROOT / "models" / "lifter_causal81.json"
CAMERA = "54138969"
CHOSEN = {("S9", "Walking 1"), ("S9", "Sitting 1"), ("S11", "Greeting")}
FRAMES = 500

pytestmark = pytest.mark.skipif(
    not (DATA / "h36m_positions_3d17.npz").is_file() or not MODEL.is_file(),
    reason="needs ../shared/data/h36m (Human3.6M, not shipped) and models/lifter_causal81.json")


@pytest.fixture(scope="module")
def sequences():
    from training.data import load_h36m
    seqs = [s for s in load_h36m(DATA, ("S9", "S11")) if (s.subject, s.action) in CHOSEN and s.camera == CAMERA]
    assert len(seqs) == len(CHOSEN)
    return [dataclasses.replace(s, positions_3d=s.positions_3d[:FRAMES], keypoints_2d=s.keypoints_2d[:FRAMES])
            for s in seqs]


def _cloud(k: int, sequences) -> object:
    people = [PersonKeypoints(tid, seq.keypoints_2d[k], np.ones(17)) for tid, seq in enumerate(sequences)]
    return keypoints_to_cloud(Header(stamp=Time(nanoseconds=k * 20_000_000).to_msg(), frame_id="cam"), people)


def test_streaming_replay_equals_offline_evaluation(sequences, one_torch_thread):
    from training.evaluate import evaluate
    loaded = load_model(MODEL)
    offline = evaluate(loaded.model, sequences, loaded.receptive_field, loaded.causal)

    defaults = {p.name: p.default for p in PARAMS}
    estimator = OnlinePoseEstimator(OnlineLifter(load_model(MODEL), "cpu"),
                                    settings_from_params(dict(defaults, bone_length_refinement=False, fitting=False,
                                                              pose_source="model")))
    cam = sequences[0].intrinsics  # one camera: the same intrinsics for all three
    streamed = np.zeros((len(sequences), FRAMES, 17, 3))
    roots = np.zeros((len(sequences), FRAMES, 3))
    for k in range(FRAMES):
        msg = _cloud(k, sequences)
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        decoded = keypoints_from_cloud(msg, (cam.width, cam.height))
        assert not decoded.causes
        for s in estimator.update(stamp, decoded.people, cam):
            streamed[s.track_id, k] = s.joints - s.joints[0]
            roots[s.track_id, k] = s.joints[0]

    per_action = [1000 * mpjpe(pred, seq.positions_3d - seq.positions_3d[:, :1])
                  for pred, seq in zip(streamed, sequences)]
    assert abs(np.mean(per_action) - offline["p1_mm"]) < 0.1
    # Metric output: the root lands near the true pelvis (known H36M intrinsics).
    root_error = np.mean([np.linalg.norm(r - s.positions_3d[:, 0], axis=-1).mean() for r, s in zip(roots, sequences)])
    assert root_error < 1.0, f"root position error {root_error:.2f} m"
