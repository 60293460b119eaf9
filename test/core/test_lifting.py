"""OnlineLifter: track buffers, batching, NaN handling, metric root translation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d_ros.geometry import CameraIntrinsics, normalize_with_intrinsics, project
from pose3d_ros.lifting.inputs import PersonKeypoints, lifter_input
from pose3d_ros.lifting.online import OnlineLifter
from pose3d_ros.networks import build_model
from pose3d_ros.networks.cards import load_model, save_model

CAM = CameraIntrinsics.default_for(640, 480)
RF = 9

T = np.array([0.3, -0.2, 4.0])


@pytest.fixture
def make_person(standing_pose):
    """``make_person(tid, pose=the standing pose, t=T, conf=ones)``: the pose's keypoints placed at t."""
    def make(tid: int, pose=standing_pose, t=T, conf=None) -> PersonKeypoints:
        return PersonKeypoints(tid, project(pose + t, CAM), np.ones(17) if conf is None else conf)
    return make


def _save(tmp_path, model, card: dict):
    return load_model(save_model(model, tmp_path / "tiny", card))


@pytest.fixture
def random_lifter(tmp_path, tiny_card, tracked):
    torch.manual_seed(0)
    model = build_model("temporal_conv", tiny_card().hyperparameters)
    return tracked(OnlineLifter(_save(tmp_path, model, tiny_card())))


@pytest.fixture
def oracle_lifter(tmp_path, save_oracle_lifter, tracked):
    """A causal model whose output is always the standing pose."""
    return tracked(OnlineLifter(load_model(save_oracle_lifter(tmp_path / "tiny"))))


def test_rejects_non_causal_model(tmp_path, tiny_card):
    card = tiny_card(hyperparameters={"causal": False})
    model = build_model("temporal_conv", card.hyperparameters)
    loaded = load_model(save_model(model, tmp_path / "sym", card))
    with pytest.raises(ValueError, match="causal"):
        OnlineLifter(loaded)


def test_rejects_screen_normalisation(tmp_path, tiny_card):
    model = build_model("temporal_conv", tiny_card().hyperparameters)
    loaded = _save(tmp_path, model, tiny_card(input_normalization="screen"))
    with pytest.raises(ValueError, match="intrinsics"):
        OnlineLifter(loaded)


def test_first_frame_gives_a_pose(random_lifter, make_person):
    out = random_lifter.update(0.0, [make_person(7)], CAM)
    assert len(out) == 1 and out[0].track_id == 7
    assert out[0].joints.shape == (17, 3) and np.all(np.isfinite(out[0].joints))
    buf = random_lifter.tracks[7].buffer
    assert len(buf) == RF
    expected = normalize_with_intrinsics(make_person(7).keypoints, CAM)
    for frame in buf:
        np.testing.assert_allclose(frame, expected, atol=1e-6)


def test_root_joint_at_zero(random_lifter, make_person):
    for k in range(3):
        out = random_lifter.update(0.1 * k, [make_person(1, t=T + [0.1 * k, 0, 0])], CAM)[0]
        np.testing.assert_array_equal(out.joints[0], 0.0)
        assert np.abs(out.joints[1:]).max() > 0  # not all zero: a real output


def test_oracle_model_recovers_metric_translation(oracle_lifter, standing_pose, make_person):
    for k in range(3):
        out = oracle_lifter.update(0.1 * k, [make_person(3)], CAM)[0]
        assert out.metric
        np.testing.assert_allclose(out.joints, standing_pose - standing_pose[0], atol=1e-5)
        assert out.translation[2] > 0
        np.testing.assert_allclose(out.translation, T, atol=1e-4)
        np.testing.assert_array_equal(out.confidence, 1.0)


def test_batched_equals_single(tmp_path, random_lifter, standing_pose, make_person, tracked):
    rng = np.random.default_rng(0)
    loaded = random_lifter
    other_a = tracked(OnlineLifter(load_model(tmp_path / "tiny.json")))
    other_b = tracked(OnlineLifter(load_model(tmp_path / "tiny.json")))
    for k in range(RF + 3):
        pa = make_person(1, standing_pose + rng.normal(scale=0.02, size=standing_pose.shape))
        pb = make_person(2, standing_pose * 0.9 + rng.normal(scale=0.02, size=standing_pose.shape),
                         t=np.array([-0.8, 0.1, 3.0]))
        both = loaded.update(0.05 * k, [pa, pb], CAM)
        alone_a = other_a.update(0.05 * k, [pa], CAM)[0]
        alone_b = other_b.update(0.05 * k, [pb], CAM)[0]
        assert [p.track_id for p in both] == [1, 2]
        np.testing.assert_allclose(both[0].joints, alone_a.joints, atol=1e-5)
        np.testing.assert_allclose(both[1].joints, alone_b.joints, atol=1e-5)
        for x, y in ((both[0], alone_a), (both[1], alone_b)):
            if x.translation is None:
                assert y.translation is None
            else:
                np.testing.assert_allclose(x.translation, y.translation, atol=1e-4)


def _distinct_frames(make_person, lifter, tid, stamps):
    frames = []
    for k, stamp in enumerate(stamps):
        person = make_person(tid, t=T + np.array([0.05 * k, 0.0, 0.0]))
        lifter.update(stamp, [person], CAM)
        frames.append(normalize_with_intrinsics(person.keypoints, CAM))
    return frames


def test_continuing_track_keeps_history(random_lifter, make_person):
    frames = _distinct_frames(make_person, random_lifter, 5, [0.0, 0.2, 0.4, 0.4])  # equal stamps continue
    buf = list(random_lifter.tracks[5].buffer)
    assert len(buf) == RF
    for got, want in zip(buf[-4:], frames):
        np.testing.assert_allclose(got, want, atol=1e-6)
    for got in buf[:-4]:  # the padding repeats the first frame
        np.testing.assert_allclose(got, frames[0], atol=1e-6)


@pytest.mark.parametrize("next_stamp", [1.0, 0.1])  # a gap > track_gap_s, and a backwards stamp
def test_gap_or_backwards_stamp_restarts_track(random_lifter, next_stamp, make_person):
    _distinct_frames(make_person, random_lifter, 5, [0.2, 0.3, 0.4])
    new = make_person(5, t=np.array([-0.5, 0.3, 6.0]))
    random_lifter.update(next_stamp, [new], CAM)
    track = random_lifter.tracks[5]
    assert track.last_stamp == next_stamp
    expected = normalize_with_intrinsics(new.keypoints, CAM)
    assert len(track.buffer) == RF
    for got in track.buffer:
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_restarted_track_matches_a_fresh_one(tmp_path, random_lifter, make_person, tracked):
    _distinct_frames(make_person, random_lifter, 5, [0.0, 0.1, 0.2])
    fresh = tracked(OnlineLifter(load_model(tmp_path / "tiny.json")))
    p = make_person(5, t=np.array([0.0, 0.0, 3.0]))
    a = random_lifter.update(5.0, [p], CAM)[0]
    b = fresh.update(5.0, [p], CAM)[0]
    np.testing.assert_allclose(a.joints, b.joints, atol=1e-6)


def test_nan_keypoints_get_zero_confidence(oracle_lifter, make_person):
    person = make_person(4)
    kps = person.keypoints.copy()
    kps[[3, 13]] = np.nan
    kps[16, 0] = np.inf
    out = oracle_lifter.update(0.0, [PersonKeypoints(4, kps, np.full(17, 0.9))], CAM)
    assert len(out) == 1
    conf = out[0].confidence
    assert conf[3] == conf[13] == conf[16] == 0.0
    np.testing.assert_array_equal(np.delete(conf, [3, 13, 16]), 0.9)
    for frame in oracle_lifter.tracks[4].buffer:
        assert np.all(np.isfinite(frame))
    # zero-confidence joints do not disturb the root solve
    np.testing.assert_allclose(out[0].translation, T, atol=1e-4)


def test_nan_joint_filled_from_previous_frame(random_lifter, make_person):
    person = make_person(4)
    random_lifter.update(0.0, [person], CAM)
    kps = person.keypoints.copy() + 3.0
    kps[2] = np.nan
    random_lifter.update(0.05, [PersonKeypoints(4, kps, np.ones(17))], CAM)
    last = random_lifter.tracks[4].buffer[-1]
    np.testing.assert_allclose(last[2], normalize_with_intrinsics(person.keypoints, CAM)[2], atol=1e-6)
    np.testing.assert_allclose(last[5], normalize_with_intrinsics(kps, CAM)[5], atol=1e-6)


def test_all_nan_person_skipped(random_lifter, make_person):
    nan_person = PersonKeypoints(9, np.full((17, 2), np.nan), np.ones(17))
    assert random_lifter.update(0.0, [nan_person], CAM) == []
    assert not random_lifter.tracks[9].buffer  # its track state is left as it was
    out = random_lifter.update(0.0, [nan_person, make_person(1)], CAM)
    assert [p.track_id for p in out] == [1]


def test_lifter_input_marks_joints_below_the_threshold_unseen():
    uv = np.arange(34, dtype=float).reshape(17, 2) + 1
    conf = np.ones(17)
    conf[[4, 9, 5]] = [0.1, 0.29, 0.3]
    assert lifter_input(uv, conf, 2) is uv
    x = lifter_input(uv, conf, 3)
    assert x.shape == (17, 3)
    np.testing.assert_array_equal(x[[4, 9]], 0.0)
    np.testing.assert_array_equal(x[5], [*uv[5], 1.0])  # at the threshold: seen
    np.testing.assert_array_equal(lifter_input(uv, None, 3), np.concatenate([uv, np.ones((17, 1))], axis=1))
    with pytest.raises(ValueError, match="2 or 3"):
        lifter_input(uv, conf, 4)


def test_confidence_channel_lifter_is_told_which_joints_are_unseen(tmp_path, standing_pose, make_person, tiny_card,
                                                                  tracked):
    torch.manual_seed(0)
    card = tiny_card(hyperparameters={"in_features": 3})
    lifter = tracked(OnlineLifter(load_model(save_model(build_model("temporal_conv", card.hyperparameters),
                                                        tmp_path / "conf", card)), min_confidence=0.5))
    conf = np.ones(17)
    conf[13] = 0.2
    seen = lifter.update(0.0, [make_person(1)], CAM)[0]
    unseen = lifter.update(0.0, [make_person(2, conf=conf)], CAM)[0]
    frame = lifter.tracks[2].buffer[-1]
    assert frame.shape == (17, 3) and np.all(frame[13] == 0.0)
    np.testing.assert_array_equal(np.delete(frame, 13, axis=0)[:, 2], 1.0)
    np.testing.assert_array_equal(lifter.tracks[1].buffer[-1][:, 2], 1.0)
    assert not np.allclose(seen.joints, unseen.joints)
    # The root is placed from the detector's 2D, not the zeroed input: an oracle lifter (its
    # output is always the standing pose) puts both people where they are.
    with torch.no_grad():
        lifter.lifter.model.shrink.weight.zero_()
        lifter.lifter.model.shrink.bias.copy_(torch.tensor(standing_pose.reshape(-1), dtype=torch.float32))
    lifter.lifter.stream = lifter.lifter._stream_on("cpu")
    lifter.tracks.clear()
    for tid, c in ((1, None), (2, conf)):
        np.testing.assert_allclose(lifter.update(0.0, [make_person(tid, conf=c)], CAM)[0].translation, T, atol=1e-6)
