"""The kinematic fitting stage and its One-Euro smoothing."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.constraints import ConstraintLimits, bend_legality, bone_lengths, hinge_limits
from pose3d_ros.geometry import CameraIntrinsics, normalize_with_intrinsics, project
from pose3d_ros.lifting.fitting import PRIOR_BONE_LENGTHS, FitSettings, KinematicFitter, fit_to_keypoints, solve
from pose3d_ros.lifting.smoothing import OneEuroFilter, VelocityFilter
from pose3d_ros.skeleton import H36M17

CAM = CameraIntrinsics(1000.0, 1000.0, 640.0, 360.0, 1280, 720)
ROOT = np.array([0.2, 0.1, 4.0])
j = H36M17.index


def _rotate_about(pose: np.ndarray, joint: str, angle: float) -> np.ndarray:
    """Rotate the limb below ``joint``'s parent about the camera's y axis (a wrong depth guess)."""
    out = pose.copy()
    k = j(joint)
    below = [k] + [c for c in range(17) if k in _ancestors(c)]
    pivot = pose[H36M17.parents[k]]
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    out[below] = (pose[below] - pivot) @ rot.T + pivot
    return out


def _ancestors(joint: int) -> set[int]:
    out = set()
    while H36M17.parents[joint] >= 0:
        joint = H36M17.parents[joint]
        out.add(joint)
    return out


def _uv(pose_rel: np.ndarray) -> np.ndarray:
    return normalize_with_intrinsics(project(pose_rel + ROOT, CAM), CAM)


def test_fit_moves_joints_onto_their_keypoints_and_keeps_bone_lengths(standing_pose):
    source = _rotate_about(_rotate_about(standing_pose, "l_elbow", 0.5), "r_knee", -0.4)
    uv = _uv(standing_pose)
    weights = np.full(17, 1e4)
    fitted = fit_to_keypoints(source, ROOT, uv, weights, ConstraintLimits())
    before = np.abs(_uv(source) - uv).max()
    after = np.abs(fitted[:, :2] / fitted[:, 2:] - uv).max()
    assert after < 0.1 * before
    np.testing.assert_allclose(bone_lengths(fitted), bone_lengths(source), atol=1e-9)
    error = np.linalg.norm(fitted - ROOT - standing_pose, axis=-1)
    assert error.mean() < 0.5 * np.linalg.norm(source - standing_pose, axis=-1).mean()
    assert error[[j("r_knee"), j("r_ankle")]].max() < 1e-3  # a shin turned in depth is seen in 2D


def test_people_fitted_together_as_alone(standing_pose):
    rng = np.random.default_rng(3)
    sources = [_rotate_about(standing_pose, "l_elbow", 0.5), _rotate_about(standing_pose, "r_knee", -0.4),
               standing_pose * 0.9]
    roots = np.array([ROOT, ROOT + [1.0, 0.0, 1.0], ROOT - [1.2, 0.1, 0.5]])
    uvs = np.stack([_uv(standing_pose) + rng.normal(0, 0.002, (17, 2)) for _ in sources])
    weights = rng.uniform(0, 1e4, (3, 17))
    together = fit_to_keypoints(np.stack(sources), roots, uvs, weights, ConstraintLimits())
    for k in range(3):
        alone = fit_to_keypoints(sources[k], roots[k], uvs[k], weights[k], ConstraintLimits())
        np.testing.assert_allclose(together[k], alone, atol=1e-12)
    problems = [KinematicFitter().prepare(0.0, p, uv, np.ones(17), CAM.fx) for p, uv in zip(sources, uvs)]
    limits = ConstraintLimits()
    for problem, fitted in zip(problems, solve(problems, ConstraintLimits())):
        alone = fit_to_keypoints(problem.pose, problem.translation, problem.uv_norm, problem.weights, limits)
        np.testing.assert_allclose(fitted.joints, alone, atol=1e-12)


def test_zero_weight_keeps_the_source_pose(standing_pose):
    source = _rotate_about(standing_pose, "l_elbow", 0.5)
    fitted = fit_to_keypoints(source, ROOT, _uv(standing_pose), np.zeros(17), ConstraintLimits())
    np.testing.assert_allclose(fitted, source + ROOT, atol=1e-12)


def test_an_illegal_knee_in_the_source_comes_out_legal(standing_pose):
    limits = ConstraintLimits()
    bent = standing_pose.copy()
    bent[j("l_ankle")] = bent[j("l_knee")] + np.array([0.0, 0.3, -0.3])  # shank bent towards the camera
    knee = 3  # l_knee in HINGES order
    assert bend_legality(bent)[knee] < -hinge_limits(limits)[knee]
    fitted = fit_to_keypoints(bent, ROOT, _uv(bent), np.full(17, 1e4), limits)
    assert bend_legality(fitted - ROOT)[knee] >= -hinge_limits(limits)[knee]


def test_tracker_holds_bone_lengths_from_noisy_sources(standing_pose):
    rng = np.random.default_rng(1)
    fitter = KinematicFitter(FitSettings(), seed=0)
    lengths = []
    for k in range(60):
        noisy = standing_pose + rng.normal(0, 0.02, (17, 3))
        out = fitter.update(k / 30, noisy, _uv(standing_pose), np.ones(17), CAM.fx)
        lengths.append(bone_lengths(out.relative))
    late = np.array(lengths[30:])
    assert late.std(axis=0).max() < 0.003  # the raw sources vary by about 0.03 m
    np.testing.assert_allclose(late.mean(axis=0), bone_lengths(standing_pose), atol=0.03)


def test_a_strong_prior_sets_the_stature_and_unseen_joints_keep_the_source(standing_pose):
    fitter = KinematicFitter(FitSettings(prior_frames=1_000_000))
    source = _rotate_about(standing_pose, "l_elbow", 0.5)
    confidence = np.ones(17)
    confidence[[j("l_elbow"), j("l_wrist")]] = 0.0
    out = fitter.update(0.0, source, _uv(standing_pose), confidence, CAM.fx)
    assert bone_lengths(out.relative).sum() == pytest.approx(PRIOR_BONE_LENGTHS.sum())  # the prior's stature
    forearm = out.relative[j("l_wrist")] - out.relative[j("l_elbow")]
    src_forearm = source[j("l_wrist")] - source[j("l_elbow")]
    assert forearm @ src_forearm / np.linalg.norm(forearm) / np.linalg.norm(src_forearm) > 0.999


def test_the_fitter_is_causal(standing_pose):
    rng = np.random.default_rng(2)
    sources = standing_pose + rng.normal(0, 0.02, (40, 17, 3))
    uvs = _uv(standing_pose) + rng.normal(0, 0.002, (40, 17, 2))
    changed_sources, changed_uvs = sources.copy(), uvs.copy()
    changed_sources[20:] += 0.3
    changed_uvs[20:] += 0.05
    a, b = KinematicFitter(seed=3), KinematicFitter(seed=3)
    for k in range(40):
        out_a = a.update(k / 30, sources[k], uvs[k], np.ones(17), CAM.fx)
        out_b = b.update(k / 30, changed_sources[k], changed_uvs[k], np.ones(17), CAM.fx)
        assert np.array_equal(out_a.joints, out_b.joints) == (k < 20)


def test_too_few_confident_joints_give_no_pose(standing_pose):
    out = KinematicFitter().update(0.0, standing_pose, _uv(standing_pose), np.zeros(17), CAM.fx)
    assert out is None


def test_one_euro_passes_a_constant_smooths_noise_and_follows_a_step():
    rng = np.random.default_rng(4)
    filt = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    noisy = 1.0 + rng.normal(0, 0.1, 300)
    out = np.array([filt(np.array([x]), k / 30)[0] for k, x in enumerate(noisy)])
    assert np.std(out[100:]) < 0.4 * np.std(noisy[100:])
    assert abs(out[100:].mean() - 1.0) < 0.05
    step = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    ys = [step(np.array([0.0 if k < 30 else 1.0]), k / 30)[0] for k in range(90)]
    assert ys[29] == 0.0 and 0.0 < ys[31] < 1.0 and ys[-1] > 0.95  # causal, then converges


def test_one_euro_restarts_when_time_goes_back():
    filt = OneEuroFilter()
    filt(np.array([0.0]), 1.0)
    assert filt(np.array([5.0]), 0.5)[0] == 5.0


def test_velocity_of_a_uniform_motion_smoothed_noise_and_a_causal_lag():
    velocity = np.array([0.5, -0.2, 1.0])
    filt = VelocityFilter(cutoff=2.0)
    first = filt(np.zeros(3), 0.0)
    assert np.isnan(first).all()  # unknown from one sample
    outs = [filt(velocity * k / 30, k / 30) for k in range(1, 60)]
    np.testing.assert_allclose(outs, np.broadcast_to(velocity, (59, 3)), atol=1e-9)
    rng = np.random.default_rng(5)  # 1 cm of jitter on a person standing still: raw differences 0.4 m/s
    still = VelocityFilter(cutoff=2.0)
    jitter = np.array([still(rng.normal(0, 0.01, 3), k / 30) for k in range(300)])[30:]
    raw = np.diff(rng.normal(0, 0.01, (300, 3)), axis=0) * 30
    assert np.abs(jitter).mean() < 0.5 * np.abs(raw).mean()
    step = VelocityFilter(cutoff=2.0)  # starts moving at frame 30: the estimate rises after, not before
    ys = [step(np.array([max(0, k - 30) / 30]), k / 30)[0] for k in range(90)]
    assert ys[30] == 0.0 and 0.0 < ys[31] < 1.0 and ys[-1] > 0.99
    assert np.isnan(step(np.array([0.0]), 1.0)).all()  # time went back: restarted
    with pytest.raises(ValueError, match="cut-off > 0"):
        VelocityFilter(cutoff=0.0)


@pytest.mark.parametrize("kwargs", [{"keypoint_sd_px": 0.0}, {"direction_sd": -1.0}, {"min_confidence": 1.0},
                                    {"prior_frames": -1}, {"bones_from": "mesh"}])
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        FitSettings(**kwargs)


def test_bone_proportions_come_from_the_image_at_the_sources_stature(standing_pose):
    """The source's forearms are 30 % short but its depths are right: the 2D measures them."""
    source = standing_pose.copy()
    for wrist, elbow in ((j("l_wrist"), j("l_elbow")), (j("r_wrist"), j("r_elbow"))):
        source[wrist] = source[elbow] + 0.7 * (standing_pose[wrist] - standing_pose[elbow])
    fitter = KinematicFitter(FitSettings(prior_frames=0, keypoint_cutoff_hz=0, pose_cutoff_hz=0))
    for k in range(5):
        out = fitter.update(k / 30, source, _uv(standing_pose), np.ones(17), CAM.fx)
    ratio = bone_lengths(out.relative) / bone_lengths(standing_pose)
    forearm = H36M17.bone_of(j("l_wrist"))
    assert abs(ratio[forearm] / np.median(ratio) - 1.0) < 0.03  # the source alone: 0.7
    assert bone_lengths(out.relative).sum() == pytest.approx(bone_lengths(source).sum(), rel=1e-6)
