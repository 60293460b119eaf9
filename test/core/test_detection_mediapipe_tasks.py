"""The mediapipe_tasks backend on two people (one sample clip frame twice, side by side), and
the model bundle it builds from the mediapipe wheel."""
from __future__ import annotations

import zipfile

import cv2
import numpy as np
import pytest

from pose3d_ros.detection import create_detector
from pose3d_ros.detection.mediapipe_bundle import BUNDLE_MODELS, pose_landmarker_bundle
from pose3d_ros.detection.registry import parse_options
from pose3d_ros.resources import sample_clip
from pose3d_ros.skeleton import H36M17

pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def two_people() -> np.ndarray:
    """RGB, 960x480: the clip's first frame around the man (480x480 at full resolution), twice."""
    if not sample_clip().is_file():
        pytest.skip("sample clip missing: run scripts/setup.sh")
    cap = cv2.VideoCapture(str(sample_clip()))
    ok, frame = cap.read()
    cap.release()
    assert ok
    tile = frame[0:480, 400:880]
    return cv2.cvtColor(np.concatenate([tile, tile], axis=1), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("detect_every", [10, 0], ids=["followed in crops", "tasks graph"])
def test_two_people_two_stable_tracks_with_world_landmarks(two_people, detect_every):
    detector = create_detector("mediapipe_tasks", num_poses=4, detect_every=detect_every)
    try:
        frames = [detector.detect(two_people) for _ in range(4)]
    finally:
        detector.close()
    width = two_people.shape[1]
    for people in frames:
        assert len(people) == 2
        left, right = sorted(people, key=lambda d: d.keypoints[:, 0].mean())
        assert left.track_id != right.track_id
        assert (left.keypoints[:, 0] < width / 2).all() and (right.keypoints[:, 0] > width / 2).all()
        # The same man twice: the right one is the left one moved by half the width.
        np.testing.assert_allclose(right.keypoints - [width / 2, 0], left.keypoints, atol=4.0)
        for person in people:
            assert person.world is not None and person.world.shape == (17, 3)
            np.testing.assert_allclose(person.world[H36M17.index("pelvis")], 0.0, atol=1e-6)
            head_to_ankle = person.world[H36M17.index("r_ankle"), 1] - person.world[H36M17.index("head"), 1]
            assert 1.2 < head_to_ankle < 2.2, "world landmarks are not a standing adult in metres, y down"
    ids = [sorted(d.track_id for d in people) for people in frames]
    assert all(i == ids[0] for i in ids), f"track ids changed between frames: {ids}"


def test_num_poses_caps_the_people(two_people):
    detector = create_detector("mediapipe_tasks", num_poses=1)
    try:
        assert [len(detector.detect(two_people)) for _ in range(3)] == [1, 1, 1]
    finally:
        detector.close()


def test_bad_arguments_are_refused_before_loading_anything():
    with pytest.raises(ValueError, match="num_poses must be >= 1"):
        create_detector("mediapipe_tasks", num_poses=0)
    with pytest.raises(ValueError, match="detect_every >= 0"):
        create_detector("mediapipe_tasks", detect_every=-1)
    with pytest.raises(ValueError, match="follow_threads must be >= 1"):
        create_detector("mediapipe_tasks", follow_threads=0)


def test_options_from_text_are_typed_like_their_parameters():
    assert parse_options("mediapipe_tasks", {"num_poses": "2", "min_tracking_confidence": "0.7"}) == {
        "num_poses": 2, "min_tracking_confidence": 0.7}
    assert parse_options("replay", {"file": "k.npz", "loop": "True"}) == {"file": "k.npz", "loop": True}
    with pytest.raises(ValueError, match="has no option 'poses'"):
        parse_options("mediapipe_tasks", {"poses": "2"})
    with pytest.raises(ValueError, match="true or false"):
        parse_options("replay", {"loop": "yes"})


def test_bundle_is_built_once_with_both_models(tmp_path):
    path = pose_landmarker_bundle(tmp_path)
    with zipfile.ZipFile(path) as bundle:
        assert set(bundle.namelist()) == set(BUNDLE_MODELS)
        assert all(info.compress_type == zipfile.ZIP_STORED for info in bundle.infolist())
    stat = path.stat()
    assert pose_landmarker_bundle(tmp_path) == path
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino  # not rewritten
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    path.write_bytes(b"truncated")
    assert zipfile.is_zipfile(pose_landmarker_bundle(tmp_path))  # a broken bundle is rebuilt


def test_bundle_names_the_missing_wheel_model(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"pose_detection\.tflite is missing.*mediapipe==0\.10\.21"):
        pose_landmarker_bundle(tmp_path / "cache", modules_dir=tmp_path)
    assert not (tmp_path / "cache").exists()


def test_followers_on_threads_find_what_they_find_one_after_the_other(two_people):
    found = {}
    for threads in (1, 2):
        detector = create_detector("mediapipe_tasks", num_poses=2, follow_threads=threads)
        try:
            frames = [detector.detect(two_people) for _ in range(4)]
        finally:
            detector.close()
        assert all(len(people) == 2 for people in frames)
        found[threads] = [sorted((d.track_id, d.keypoints.tobytes(), d.world.tobytes()) for d in people)
                          for people in frames]
    assert found[1] == found[2]
