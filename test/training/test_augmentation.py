"""Chen et al.'s bone-length augmentation: re-boned sequences, their loss and trainer wiring."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d_ros.constraints import bone_lengths
from pose3d_ros.geometry import CameraIntrinsics, normalize_with_intrinsics, project
from pose3d_ros.networks.anatomy import AnatomyAwareModel
from pose3d_ros.skeleton import H36M17
from training.augmentation import TrainingBatch, augment, bone_length_variant
from training.config import TrainingConfig
from training.data import Sequence
from training.generators import flip_pose
from training.losses import Batch, build_objective
from training.train import train

CAM = CameraIntrinsics(1145.0, 1144.0, 512.0, 515.0, 1000, 1002)


def _sequence(frames: int = 20, intrinsics: CameraIntrinsics | None = CAM) -> Sequence:
    rng = np.random.default_rng(1)
    joints = rng.normal(0.0, 0.25, (frames, 17, 3)) + [0.2, -0.1, 5.0]
    uv = project(joints, CAM)
    return Sequence("S1", "Walking 1", "54138969", joints, uv, intrinsics, (1000, 1002))


def test_variant_keeps_root_and_directions_and_projects_new_2d():
    seq = _sequence()
    inputs, joints = bone_length_variant(seq, np.random.default_rng(0), (0.8, 1.2))
    np.testing.assert_allclose(joints[:, 0], seq.positions_3d[:, 0])
    old, new = bone_lengths(seq.positions_3d), bone_lengths(joints)
    child, parent = list(H36M17.bone_children), list(H36M17.bone_parents)
    a = seq.positions_3d[:, child] - seq.positions_3d[:, parent]
    b = joints[:, child] - joints[:, parent]
    cosine = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    np.testing.assert_allclose(cosine, 1.0, atol=1e-9)
    # One new skeleton for the whole sequence, left and right alike, within the scale range
    # of each (symmetrised) mean length.
    np.testing.assert_allclose(new, np.broadcast_to(new[0], new.shape), atol=1e-9)
    left, right = (list(side) for side in zip(*H36M17.left_right_bones))
    np.testing.assert_allclose(new[0, left], new[0, right], atol=1e-9)
    mean = old.mean(axis=0)
    pair_mean = mean.copy()
    pair_mean[left] = pair_mean[right] = (mean[left] + mean[right]) / 2
    assert np.all(new[0] >= 0.8 * pair_mean - 1e-9) and np.all(new[0] <= 1.2 * pair_mean + 1e-9)
    assert not np.allclose(new[0], pair_mean, rtol=0.01)
    np.testing.assert_allclose(inputs, normalize_with_intrinsics(project(joints, CAM), CAM), atol=1e-6)


def test_variant_needs_intrinsics():
    with pytest.raises(ValueError, match="intrinsics"):
        bone_length_variant(_sequence(intrinsics=None), np.random.default_rng(0))


def test_augmented_bone_length_loss_by_hand():
    pose = torch.zeros(1, 2, 17, 3)
    pose[..., 1:, 1] = torch.arange(1, 17, dtype=torch.float32)  # joints on a line: bones of varied length
    true = bone_lengths(pose[0, 0].numpy())
    pred = torch.tensor(true, dtype=torch.float32)[None] + 0.1
    objective = build_objective({"augmented_bone_length": 1.0}, H36M17)
    loss, _ = objective({"augmented_lengths": pred}, Batch(torch.zeros(1, 1, 17, 3), None, pose))
    assert float(loss) == pytest.approx(0.01, rel=1e-5)


def test_augmented_context_trains_only_the_bone_length_network():
    model = AnatomyAwareModel(filter_widths=(3, 3), channels=16, dropout=0.0, context_frames=6)
    x, aug = torch.randn(2, 12, 17, 2), torch.randn(3, 6, 17, 2)
    parts = model(x, context=torch.randn(2, 6, 17, 2), return_parts=True, augmented_context=aug)
    assert parts["augmented_lengths"].shape == (3, 16)
    parts["augmented_lengths"].sum().backward()
    assert model.length_attention.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.trunk.parameters())


def test_trainer_feeds_augmented_sequences(tiny_config):
    cfg = tiny_config
    cfg["model"] = dict(architecture="anatomy_aware", receptive_field=9, causal=True, channels=16, dropout=0.0,
                        context_frames=8)
    cfg["train"].update(epochs=1, bone_length_augmentation={"scale_range": [0.8, 1.2]},
                        losses={"bone_direction": 0.015, "bone_length": 0.05, "context_mpjpe": 1.0,
                                "augmented_bone_length": 0.05})
    assert train(TrainingConfig.from_dict(cfg), resume=False).is_file()
    cfg["model"] = dict(architecture="temporal_conv", receptive_field=9, causal=True, channels=16, dropout=0.0)
    cfg["train"]["losses"] = {"mpjpe": 1.0}
    with pytest.raises(ValueError, match="bone-length network"):
        train(TrainingConfig.from_dict(cfg), resume=False)


def test_batch_augmentation_flips_all_views_of_a_sample_alike_and_scales_the_true_2d():
    torch.manual_seed(0)
    points = torch.randn(16, 4, 17, 3) + torch.tensor([0.0, 0.0, 5.0])
    inputs = points[..., :2] / points[..., 2:]
    context = torch.randn(16, 6, 17, 2)
    batch = TrainingBatch(inputs.clone(), points - points[..., :1, :], points.clone(), context.clone(),
                          torch.randn(16, 6, 17, 3))
    cfg = TrainingConfig.from_dict({"name": "a", "data": {"root": "d"}, "model": {},
                                    "train": {"epochs": 1, "batch_size": 1, "lr": 0.1, "scale_range": [0.5, 2.0]},
                                    "output": {"dir": "o", "export": "o/a"}})
    augment(batch, cfg.train, H36M17)
    scale = batch.scale[:, 0, 0, 0]
    assert not torch.allclose(scale, torch.ones(16))
    flipped = [not torch.allclose(batch.points_3d[i], points[i]) for i in range(16)]
    assert 0 < sum(flipped) < 16
    for i, f in enumerate(flipped):
        seen_3d = flip_pose(points[i], H36M17) if f else points[i]
        assert torch.allclose(batch.points_3d[i], seen_3d)
        assert torch.allclose(batch.inputs[i], scale[i] * seen_3d[..., :2] / seen_3d[..., 2:], atol=1e-6)
        assert torch.allclose(batch.context[i], scale[i] * (flip_pose(context[i], H36M17) if f else context[i]))
    # The losses' true 2D is the scaled projection of the (flipped) 3D: the clean inputs.
    assert torch.allclose(batch.for_losses().target_2d, batch.inputs, atol=1e-6)
