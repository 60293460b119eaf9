"""OnlinePoseEstimator: refinement, metric placement, check modes, duplicates and eviction."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.constraints import bend_legality, bone_lengths
from pose3d_ros.geometry import CameraIntrinsics, normalize_with_intrinsics, project
from pose3d_ros.lifting.fitting import FitSettings
from pose3d_ros.lifting.inputs import PersonKeypoints, root_translation
from pose3d_ros.lifting.online import Person3D
from pose3d_ros.lifting.online_pose import OnlinePoseEstimator, PoseSettings
from pose3d_ros.lifting.refinement import CausalRefiner
from pose3d_ros.skeleton import H36M17

CAM = CameraIntrinsics.default_for(640, 480)
T = np.array([0.2, -0.1, 3.5])


class ScriptedLifter:
    """Stands in for OnlineLifter: returns ``self.pose`` (root-relative) for every person."""

    def __init__(self, pose: np.ndarray) -> None:
        self.pose = pose

    def new_track(self) -> dict:
        return {"frames": 0}

    def update(self, stamp, people, intrinsics, tracks):
        out = []
        for p, track in zip(people, tracks, strict=True):
            uv = normalize_with_intrinsics(p.keypoints, intrinsics).astype(np.float64)
            t = root_translation(self.pose, uv, p.confidence)
            out.append(Person3D(p.track_id, self.pose.copy(), p.confidence, t, track["frames"] == 0))
            track["frames"] += 1
        return out


@pytest.fixture
def make_person(standing_pose):
    """``make_person(tid=1, pose=the standing pose, conf=ones)``: the pose's keypoints placed at T."""
    def make(tid=1, pose=standing_pose, conf=None) -> PersonKeypoints:
        return PersonKeypoints(tid, project(pose + T, CAM), np.ones(17) if conf is None else conf)
    return make


@pytest.fixture
def estimator(standing_pose):
    """``estimator(**settings)``: an OnlinePoseEstimator on a ScriptedLifter of the standing pose."""
    return lambda **settings: OnlinePoseEstimator(ScriptedLifter(standing_pose), PoseSettings(**settings))


def test_metric_output_in_the_camera_frame(standing_pose, make_person, estimator):
    out = estimator().update(0.0, [make_person()], CAM)[0]
    assert out.metric and out.valid.all() and not out.violations
    np.testing.assert_allclose(out.translation, T, atol=1e-6)
    np.testing.assert_allclose(out.joints, standing_pose + T, atol=1e-6)
    assert 0.9 < out.score <= 1.0


@pytest.mark.parametrize("source", ["model", "detector", "fused"])
def test_source_selection(source, standing_pose, bent_pose, make_person, estimator):
    """model: the lifter's pose; detector: the detector's 3D (the lifter's for a person without it,
    counted); fused: fusion_weight x the detector's + the rest x the lifter's."""
    est = estimator(source=source, fusion_weight=0.25)
    world = PersonKeypoints(1, make_person().keypoints, np.ones(17), bent_pose - bent_pose[0])
    out = {s.track_id: s for s in est.update(0.0, [world, make_person(tid=2)], None)}
    model = standing_pose - standing_pose[0]
    want = {"model": model, "detector": world.world, "fused": 0.25 * world.world + 0.75 * model}[source]
    np.testing.assert_allclose(out[1].joints, want, atol=1e-9)
    np.testing.assert_allclose(out[2].joints, model, atol=1e-9)  # no detector 3D: the lifter's
    assert est.counts["no_detector_3d"] == (0 if source == "model" else 1)


def test_velocities_of_a_person_walking_past(standing_pose, estimator):
    walk = np.array([0.8, 0.0, -0.3])  # m/s in the camera frame
    est = estimator(velocity_cutoff_hz=2.0)
    outs = [est.update(k / 30, [PersonKeypoints(1, project(standing_pose + T + walk * k / 30, CAM), np.ones(17))],
                       CAM)[0] for k in range(20)]
    assert np.isnan(outs[0].velocity).all()
    np.testing.assert_allclose(outs[-1].velocity, np.broadcast_to(walk, (17, 3)), atol=1e-6)
    with pytest.raises(ValueError, match="velocity_cutoff_hz"):
        PoseSettings(velocity_cutoff_hz=0.0)


def test_without_intrinsics_root_relative(standing_pose, make_person, estimator):
    out = estimator().update(0.0, [make_person()], None)[0]
    assert not out.metric and out.translation is None
    np.testing.assert_allclose(out.joints, standing_pose)


def test_low_confidence_joints_invalid_without_a_violation(make_person, estimator):
    conf = np.ones(17)
    conf[5] = 0.1
    est = estimator()
    out = est.update(0.0, [make_person(conf=conf)], CAM)[0]
    assert np.flatnonzero(~out.valid).tolist() == [5] and not out.violations


@pytest.mark.parametrize("mode", ["flag", "correct", "drop"])
def test_modes_on_an_illegal_elbow(mode, estimator, make_person, bent_pose, bent_backwards):
    est = estimator(mode=mode)
    bad = bent_backwards(bent_pose, "r_wrist")
    est.lifter.pose = bad
    out = est.update(0.0, [make_person(pose=bad)], CAM)
    assert est.counts["violation_illegal_bend"] == 1 and est.counts["poses"] == 1
    wrist = H36M17.index("r_wrist")
    if mode == "drop":
        assert out == [] and est.counts["dropped"] == 1
        return
    (skeleton,) = out
    assert skeleton.violations == ("illegal_bend",)
    rel = skeleton.joints - skeleton.joints[0]
    if mode == "flag":
        assert not skeleton.valid[wrist] and skeleton.valid.sum() == 16 and skeleton.scores[wrist] < 0.5
        np.testing.assert_allclose(rel, bad, atol=1e-6)
    else:
        assert skeleton.valid.all() and est.counts["corrected"] == 1
        assert bend_legality(rel).min() > 0
        np.testing.assert_allclose(rel, bent_pose, atol=1e-6)


def test_bone_length_refinement_makes_bones_constant(standing_pose, make_person, estimator):
    rng = np.random.default_rng(0)
    plain, refined = estimator(), estimator(bone_length_refinement=True, bone_min_frames=3)
    lengths = {"plain": [], "refined": []}
    for k in range(40):
        pose = standing_pose * (1 + rng.normal(0, 0.05, (17, 1)))  # lifter output with jittering bones
        pose -= pose[0]
        for name, est in (("plain", plain), ("refined", refined)):
            est.lifter.pose = pose
            out = est.update(0.02 * k, [make_person()], CAM)[0]
            lengths[name].append(bone_lengths(out.joints - out.joints[0]))
    assert np.std(lengths["refined"][10:], axis=0).mean() < 0.3 * np.std(lengths["plain"][10:], axis=0).mean()


def test_fitting_keeps_its_own_bone_lengths(standing_pose, make_person, estimator):
    """bone_length_refinement rescales only without the fitting stage, which estimates lengths itself."""
    rng = np.random.default_rng(1)
    poses = [standing_pose * (1 + rng.normal(0, 0.05, (17, 1))) for _ in range(30)]  # jittering bones
    outs = {}
    for flag in (False, True):
        est = estimator(bone_length_refinement=flag, bone_min_frames=3, fitting=FitSettings())
        outs[flag] = []
        for k, pose in enumerate(poses):
            est.lifter.pose = pose - pose[0]
            outs[flag].append(est.update(0.02 * k, [make_person()], CAM)[0].joints)
    np.testing.assert_allclose(outs[True], outs[False], atol=1e-12)


def test_identity_refiner_changes_nothing(standing_pose, make_person):
    est = OnlinePoseEstimator(ScriptedLifter(standing_pose), PoseSettings(), CausalRefiner(window=4, hidden=8))
    for k in range(6):
        out = est.update(0.02 * k, [make_person(1), make_person(2)], CAM)
        assert [s.track_id for s in out] == [1, 2]
        np.testing.assert_allclose(out[1].joints, standing_pose + T, atol=1e-5)
    assert len(est.tracks[1].segment.history) == 4


def test_repeated_stamp_is_ignored(make_person, estimator):
    est = estimator()
    assert est.update(1.0, [make_person()], CAM)
    assert est.update(1.0, [make_person()], CAM) is None
    assert est.counts["duplicate_stamps"] == 1 and est.counts["poses"] == 1


def test_eviction_after_timeout_and_after_a_bag_loop(make_person, estimator):
    est = estimator(track_timeout_s=1.0)
    est.update(10.0, [make_person(1), make_person(2)], CAM)
    est.update(10.5, [make_person(2)], CAM)
    assert est.evict(11.2) == [1] and set(est.tracks) == {2}
    est.update(11.3, [make_person(1)], CAM)
    assert est.tracks[1].lift == {"frames": 1}  # the lifter's state left with the evicted track
    assert est.evict(0.1) == [2, 1]  # stamps jumped back: the bag looped
    assert est.tracks == {}
