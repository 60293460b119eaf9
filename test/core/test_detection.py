"""Backend selection, the replay backend and its file format, and track id assignment."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.detection import Detection, create_detector
from pose3d_ros.detection.replay_backend import save_replay
from pose3d_ros.layout_conversion import to_h36m
from pose3d_ros.skeleton import BLAZEPOSE33, COCO17

IMAGE = np.zeros((48, 64, 3), np.uint8)  # replay ignores the image


def _person(cx: float, cy: float, track_id: int = -1) -> Detection:
    """The same random 60x60 px COCO-17 figure, moved to (cx, cy)."""
    kps = np.array([cx, cy]) + np.random.default_rng(0).uniform(-30, 30, (17, 2))
    return Detection.from_source(track_id, kps.astype(np.float32), np.full(17, 0.8, np.float32), COCO17)


def test_unknown_backend_and_refused_mediapipe_complexity():
    with pytest.raises(ValueError, match="available: mediapipe_tasks, mediapipe, onnx, replay"):
        create_detector("openpose")
    for complexity in (0, 2):
        with pytest.raises(ValueError, match="download"):
            create_detector("mediapipe", model_complexity=complexity)


def test_replay_round_trip_keeps_layout_ids_and_empty_frames(tmp_path):
    frames = [[_person(100, 100, 3), _person(300, 120, 7)], [], [_person(305, 121, 7)]]
    save_replay(tmp_path / "kps.npz", frames)
    det = create_detector("replay", file=str(tmp_path / "kps.npz"))
    assert len(det) == 3
    for recorded in frames:
        replayed = det.detect(IMAGE)
        assert [d.track_id for d in replayed] == [d.track_id for d in recorded]
        for a, b in zip(replayed, recorded):
            assert a.source_layout is COCO17
            np.testing.assert_allclose(a.source_keypoints, b.source_keypoints)
            np.testing.assert_allclose(a.keypoints, to_h36m(b.source_keypoints, b.source_confidence, COCO17)[0])
            np.testing.assert_allclose(a.confidence, b.confidence)
    assert det.detect(IMAGE) == []  # past the end


def test_replay_loop_and_tracker_when_the_file_has_no_ids(tmp_path):
    # people swap slots between frames; the tracker follows them by their boxes
    kps = np.stack([np.stack([_person(100 + 5 * t, 100).source_keypoints,
                              _person(400 - 5 * t, 100).source_keypoints])[::1 if t % 2 else -1]
                    for t in range(4)])
    np.savez(tmp_path / "kps.npz", layout="coco17", keypoints=kps, confidence=np.full(kps.shape[:-1], 0.9))
    det = create_detector("replay", file=str(tmp_path / "kps.npz"), loop=True)
    ids = [[d.track_id for d in det.detect(IMAGE)] for _ in range(4)]
    assert ids == [[0, 1], [1, 0], [0, 1], [1, 0]]
    assert len(det.detect(IMAGE)) == 2  # looped to the first frame


def test_replay_rejects_a_file_that_does_not_fit_its_layout(tmp_path):
    np.savez(tmp_path / "bad.npz", layout="coco17", keypoints=np.zeros((2, 1, 33, 2)), confidence=np.zeros((2, 1, 33)))
    with pytest.raises(ValueError, match="do not fit coco17"):
        create_detector("replay", file=str(tmp_path / "bad.npz"))
    blazepose = Detection.from_source(0, np.ones((33, 2)), np.ones(33), BLAZEPOSE33)
    with pytest.raises(ValueError, match="one layout per replay file"):
        save_replay(tmp_path / "mixed.npz", [[_person(1, 1)], [blazepose]])
