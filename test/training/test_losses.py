"""training/losses.py: hand-computed values, invariances and gradients of every loss, and the objective."""
from __future__ import annotations

import math

import pytest
import torch

from pose3d_ros.constraints import HINGES
from pose3d_ros.skeleton import H36M17
from training import losses as L

J = H36M17.index


@pytest.fixture
def pose(standing_pose) -> torch.Tensor:
    """The standing pose as a float64 tensor (17, 3)."""
    return torch.tensor(standing_pose, dtype=torch.float64)


def _sequence(pose: torch.Tensor, frames: int = 20, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return pose + 0.05 * torch.randn(1, frames, 17, 3, generator=g, dtype=torch.float64).cumsum(1)


def test_position_losses_by_hand():
    target = torch.zeros(1, 1, 2, 3)
    pred = torch.tensor([[[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]]])
    assert L.mpjpe(pred, target) == pytest.approx(3.0)  # (5 + 1) / 2
    assert L.squared_position(pred, target) == pytest.approx(13.0)  # (25 + 1) / 2
    root = torch.tensor([[[[0.0, 0.0, 2.0]]]])
    assert L.trajectory(root + torch.tensor([0.0, 0.1, 0.0]), root) == pytest.approx(0.05)


def test_motion_encoding_by_hand():
    target = torch.zeros(1, 2, 1, 3)
    pred = torch.tensor([[[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]]])
    # subtraction: (1, -1, 0) vs 0 -> L1 2; inner: 0 vs 0; cross: (0, 0, 1) vs 0 -> 1.
    assert L.motion(pred, target, (1,), ("subtraction",)) == pytest.approx(2.0)
    assert L.motion(pred, target, (1,), ("inner",)) == pytest.approx(0.0)
    assert L.motion(pred, target, (1,), ("cross",)) == pytest.approx(1.0)
    assert L.motion(pred, target, (1,), ("subtraction", "inner", "cross")) == pytest.approx(3.0)
    assert L.motion(pred, target, (2, 12), ("cross",)) == 0.0  # intervals not shorter than T are skipped


def test_motion_loss_invariances(pose):
    seq = _sequence(pose)
    assert L.motion(seq, seq.clone(), (1, 4, 12), ("subtraction", "inner", "cross")) == 0.0
    shifted = seq + torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    assert L.motion(shifted, seq, (1, 8), ("subtraction",)) == pytest.approx(0.0, abs=1e-12)
    assert L.motion(shifted, seq, (8,), ("cross",)) > 0  # the cross product sees absolute positions


def test_joint_shift_pairs_and_translation_invariance(pose):
    pairs = L.non_adjacent_pairs(H36M17)
    assert len(pairs) == 17 * 16 // 2 - 16 and (0, 1) not in pairs and (0, 2) in pairs
    seq = _sequence(pose)
    assert L.joint_shift(seq + 0.5, seq, pairs) == pytest.approx(0.0, abs=1e-12)
    moved = seq.clone()
    moved[..., J("r_wrist"), 0] += 0.1  # every pair holding the wrist but the elbow bone: 15 of 120
    assert L.joint_shift(moved, seq, pairs) == pytest.approx(0.1 * 15 / 120)


def test_bone_direction_and_length_losses_by_hand(pose):
    target = pose[None]
    dirs = torch.nn.functional.normalize(L.bone_vectors(target, H36M17), dim=-1)
    assert L.bone_direction(dirs, target, H36M17) == pytest.approx(0.0, abs=1e-12)
    assert L.bone_direction(-dirs, target, H36M17) == pytest.approx(4.0)  # |(-d) - d|^2 = 4
    assert L.bone_direction_cosine(-dirs, target, H36M17) == pytest.approx(2.0)
    assert L.bone_direction_cosine(2.0 * dirs, target, H36M17) == pytest.approx(0.0, abs=1e-12)
    lengths = L.bone_lengths(target, H36M17)
    assert L.bone_length(lengths + 0.1, target, H36M17) == pytest.approx(0.01)
    assert L.bone_length_l1(lengths - 0.1, target, H36M17) == pytest.approx(0.1)


def _bend_wrong(pose: torch.Tensor, hinge: int) -> tuple[torch.Tensor, float]:
    """Reflect a hinge's distal joint through the hinge plane; returns the pose and the component."""
    _, (root, proximal, knee, distal), sign = HINGES[hinge]
    n = torch.linalg.cross(pose[proximal] - pose[root], pose[knee] - pose[proximal])
    n = n / n.norm()
    v = pose[distal] - pose[knee]
    out = pose.clone()
    out[distal] = pose[knee] + v - 2 * (v @ n) * n
    return out, float(sign * ((out[distal] - pose[knee]) @ n))


def test_illegal_angle_loss_follows_dabral_eq1(pose):
    assert torch.all(L.bend_measures(pose) > 0)
    assert L.illegal_angle(pose[None]) == 0.0
    for hinge in range(4):  # signs per side: each hinge, mirrored, is penalised
        bent, e = _bend_wrong(pose, hinge)
        assert e < 0
        assert L.illegal_angle(bent[None]) == pytest.approx(-e * math.exp(-e))


def test_symmetry_loss_by_hand(pose):
    assert L.symmetry(pose[None], H36M17) == pytest.approx(0.0, abs=1e-12)
    longer = pose.clone()
    forearm = pose[J("r_wrist")] - pose[J("r_elbow")]
    longer[J("r_wrist")] += 0.1 * forearm / forearm.norm()
    assert L.symmetry(longer[None], H36M17) == pytest.approx(0.1)


def test_bone_ratio_loss_by_hand(pose):
    reference = L.bone_lengths(pose, H36M17)
    assert L.bone_ratio(pose[None], H36M17, reference) == pytest.approx(0.0, abs=1e-12)
    assert L.bone_ratio(2.0 * pose[None], H36M17, reference) == pytest.approx(0.0, abs=1e-12)  # scale-free
    groups = L.ratio_groups(H36M17)
    assert sorted(map(len, groups)) == [2, 2, 4, 4]
    doubled = pose.clone()
    doubled[J("l_wrist")] = pose[J("l_elbow")] + 2 * (pose[J("l_wrist")] - pose[J("l_elbow")])  # lower arm doubled
    assert L.bone_ratio(doubled[None], H36M17, reference) == pytest.approx(0.1875)


def test_projection_parameters_recover_the_camera(pose):
    points = pose + torch.tensor([0.2, -0.1, 4.0], dtype=torch.float64)
    f, c = torch.tensor([1100.0, 1050.0], dtype=torch.float64), torch.tensor([500.0, 480.0], dtype=torch.float64)
    uv = points[:, :2] / points[:, 2:] * f + c
    assert torch.allclose(L.projection_parameters(uv, points), torch.tensor([1100.0, 500.0, 1050.0, 480.0],
                                                                             dtype=torch.float64))
    clip_3d, clip_2d = points.expand(1, 5, 17, 3), uv.expand(1, 5, 17, 2)
    assert L.projection(clip_2d, clip_2d, clip_3d) == pytest.approx(0.0, abs=1e-9)
    # A constant 2-pixel shift in u moves c_x by 2 and nothing else; constant over time.
    shifted = clip_2d + torch.tensor([2.0, 0.0], dtype=torch.float64)
    assert L.projection(shifted, clip_2d, clip_3d) == pytest.approx(2.0)
    jitter = clip_2d.clone()
    jitter[:, 2] += torch.tensor([4.0, 0.0], dtype=torch.float64)  # one frame off: constancy also penalises
    g = torch.Generator().manual_seed(0)
    with_constancy = L.projection(jitter, clip_2d, clip_3d, constancy=1.0, generator=g)
    assert with_constancy > L.projection(jitter, clip_2d, clip_3d, constancy=0.0)


def test_confidence_and_completion_losses_by_hand(pose):
    target = torch.zeros(1, 4, 2, 2)
    refined = target + torch.tensor([3.0, 4.0])
    conf = torch.tensor([1.0, 0.0]).expand(1, 4, 2)
    assert L.confidence_2d(refined, target, conf) == pytest.approx(2.5)  # (5 * 1 + 5 * 0) / 2
    seq = _sequence(pose, 6)
    assert L.completion(seq, seq.clone()) == 0.0
    assert L.completion(seq + 0.1, seq) == pytest.approx(0.03)  # offset: only the position term (3 x 0.01)


@pytest.mark.parametrize("name", ["mpjpe", "squared_position", "motion", "joint_shift", "illegal_angle",
                                  "symmetry", "bone_ratio", "completion", "hard_joint_mpjpe"])
def test_pose_losses_pass_gradients(name, pose):
    target = _sequence(pose, 16).float()
    pred = target.clone()
    pred[..., 1:, :] += 0.02 * torch.randn_like(pred[..., 1:, :])
    pred[0, 0] = _bend_wrong(pred[0, 0].double(), 0)[0].float()  # something for illegal_angle to push
    pred.requires_grad_(True)
    objective = L.Objective({name: 1.0}, H36M17, L.bone_lengths(target, H36M17).mean(dim=(0, 1)))
    loss, values = objective({"pose": pred}, L.Batch(target))
    loss.backward()
    assert values[name] > 0 and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_projection_loss_passes_gradients_to_the_2d(pose):
    points = (pose + torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64)).expand(1, 3, 17, 3)
    uv = points[..., :2] / points[..., 2:] * 1000 + 500
    refined = (uv + torch.randn_like(uv)).requires_grad_(True)
    L.projection(refined, uv, points).backward()
    assert refined.grad.abs().sum() > 0


def test_objective_weights_parts_and_errors(pose):
    target = _sequence(pose, 8)
    pred = target + 0.01
    spec = {"mpjpe": 2.0, "motion": {"weight": 0.5, "intervals": [1], "operators": ["subtraction"]}}
    objective = L.build_objective(spec, H36M17)
    total, values = objective({"pose": pred}, L.Batch(target))
    assert total == pytest.approx(2.0 * values["mpjpe"] + 0.5 * values["motion"])
    assert values["mpjpe"] == pytest.approx(0.01 * math.sqrt(3)) and values["motion"] == pytest.approx(0.0, abs=1e-12)
    dirs = [torch.nn.functional.normalize(L.bone_vectors(target, H36M17), dim=-1)] * 2  # one per sub-network
    assert L.build_objective({"bone_direction": 1.0}, H36M17)({"directions": dirs}, L.Batch(target))[0] < 1e-12
    assert list(L.build_objective(None, H36M17).terms[0][:2]) == ["mpjpe", 1.0]
    assert L.build_objective(None, H36M17, trajectory_target=True).terms[0][0] == "trajectory"
    with pytest.raises(ValueError, match="unknown loss"):
        L.build_objective({"nope": 1.0}, H36M17)
    with pytest.raises(ValueError, match="needs the model output 'lengths'"):
        L.build_objective({"bone_length": 1.0}, H36M17)({"pose": pred}, L.Batch(target))
    with pytest.raises(ValueError, match="mean bone lengths"):
        L.build_objective({"bone_ratio": 1.0}, H36M17)
