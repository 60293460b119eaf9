"""Anatomical checks: bone lengths, symmetry, Dabral's illegal bends, motion limits, root depth."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pose3d_ros.constraints import (
    CHECKS,
    HINGES,
    ConstraintLimits,
    MotionHistory,
    bend_legality,
    bone_lengths,
    joint_scores,
    mirror_illegal_bends,
    rescale_bones,
    severities,
    symmetrize,
    violated,
)
from pose3d_ros.skeleton import H36M17

j = H36M17.index
LIMITS = ConstraintLimits()
H36M = Path(__file__).resolve().parents[3] / "shared" / "data" / "h36m"


def test_plausible_pose_passes_every_check(standing_pose):
    sev = severities(standing_pose, standing_pose + [0, 0, 3], 0.0, LIMITS, bone_lengths(standing_pose), None, 3.0)
    assert set(sev) == set(CHECKS)
    assert not any(v.any() for v in violated(sev).values())
    assert np.all(joint_scores(sev) > 0.9)
    assert np.all(bend_legality(standing_pose) > 0)


@pytest.mark.parametrize("distal", ["r_wrist", "l_wrist", "r_ankle", "l_ankle"])
def test_backward_bend_is_illegal_and_mirrored_back(distal, bent_pose, bent_backwards):
    bad = bent_backwards(bent_pose, distal)
    legality = dict(zip([h[0] for h in HINGES], bend_legality(bad)))
    hinge = {"r_wrist": "r_elbow", "l_wrist": "l_elbow", "r_ankle": "r_knee", "l_ankle": "l_knee"}[distal]
    limit = LIMITS.illegal_elbow if hinge.endswith("elbow") else LIMITS.illegal_knee
    assert legality[hinge] < -limit
    flags = violated(severities(bad, bad, 0.0, LIMITS, None, None, None))
    assert np.flatnonzero(flags["illegal_bend"]).tolist() == [j(distal)]
    fixed = mirror_illegal_bends(bad, LIMITS)
    np.testing.assert_allclose(fixed, bent_pose, atol=1e-9)
    np.testing.assert_allclose(bone_lengths(fixed), bone_lengths(bad), atol=1e-12)


def test_bone_length_against_estimate_flags_the_child_joint(standing_pose):
    long_shin = standing_pose.copy()
    long_shin[j("r_ankle")] += [0.0, 0.3, 0.0]
    flags = violated(severities(long_shin, long_shin, 0.0, LIMITS, bone_lengths(standing_pose), None, None))
    assert np.flatnonzero(flags["bone_length"]).tolist() == [j("r_ankle")]
    # ... and the same frame is asymmetric: both shins flagged.
    assert set(np.flatnonzero(flags["symmetry"])) == {j("r_ankle"), j("l_ankle")}


def test_rescale_bones_keeps_directions(standing_pose):
    lengths = bone_lengths(standing_pose) * np.linspace(0.8, 1.2, 16)
    out = rescale_bones(standing_pose, lengths)
    np.testing.assert_allclose(bone_lengths(out), lengths, atol=1e-12)
    np.testing.assert_array_equal(out[0], standing_pose[0])
    for child, parent in H36M17.bones:
        a, b = standing_pose[child] - standing_pose[parent], out[child] - out[parent]
        assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) == pytest.approx(1.0)


def test_rescale_bones_takes_a_batch_of_poses(standing_pose):
    poses = np.stack([standing_pose, standing_pose + [0.1, 0.2, 3.0], 1.1 * standing_pose])
    lengths = bone_lengths(standing_pose) * np.linspace(0.8, 1.2, 16)
    out = rescale_bones(poses, lengths)
    for k in range(3):
        np.testing.assert_allclose(out[k], rescale_bones(poses[k], lengths), atol=1e-12)


def test_symmetrize_averages_pairs():
    lengths = symmetrize(np.arange(16.0))
    left, right = H36M17.bone_of(j("l_knee")), H36M17.bone_of(j("r_knee"))
    assert lengths[left] == lengths[right] == pytest.approx((left + right) / 2)


def test_velocity_and_acceleration_limits(standing_pose):
    motion = MotionHistory([], [])
    motion.push(standing_pose, 0.0)
    motion.push(standing_pose, 0.02)
    moved = standing_pose.copy()
    moved[j("r_wrist")] += [0.0, 0.0, 0.3]  # from rest to 15 m/s in one 50 Hz frame
    flags = violated(severities(moved, moved, 0.04, LIMITS, None, motion, None))
    assert np.flatnonzero(flags["velocity"]).tolist() == [j("r_wrist")]
    assert np.flatnonzero(flags["acceleration"]).tolist() == [j("r_wrist")]
    still = violated(severities(standing_pose, standing_pose, 0.04, LIMITS, None, motion, None))
    assert not still["velocity"].any() and not still["acceleration"].any()


@pytest.mark.parametrize("depth, bad", [(0.1, True), (3.0, False), (50.0, True)])
def test_root_depth(depth, bad, standing_pose):
    flags = violated(severities(standing_pose, standing_pose, 0.0, LIMITS, None, None, depth))
    assert flags["root_depth"].all() == bad and flags["root_depth"].any() == bad


def test_score_is_one_half_at_a_limit():
    sev = {name: np.zeros(17) for name in CHECKS}
    sev["symmetry"][3] = 1.0
    scores = joint_scores(sev)
    assert scores[3] == pytest.approx(0.5) and scores[0] == 1.0


@pytest.mark.skipif(not (H36M / "h36m_positions_3d17.npz").is_file(), reason="needs ../shared/data/h36m")
def test_ground_truth_knees_are_legal():
    from training.data import load_h36m
    seq = [s for s in load_h36m(H36M, ("S9",), frame_step=25) if s.action == "Walking 1"][0]
    legality = np.array([bend_legality(p.astype(np.float64)) for p in seq.positions_3d])
    knees = [i for i, h in enumerate(HINGES) if h[0].endswith("knee")]
    assert legality[:, knees].min() > -LIMITS.illegal_knee
