"""Training augmentation: flip, 2D scale, 2D noise and joint dropout of each batch, and Chen
et al.'s bone-length augmentation (AUG) of the training skeletons.

AUG: Human3.6M's five training subjects give the bone-length network five skeletons; AUG
gives every training sequence a new random skeleton (each bone's mean length times a
factor, left and right alike), keeps the root and every bone's direction, and projects
the new joints with the sequence's camera to new 2D inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pose3d_ros.constraints import bone_lengths, rescale_bones, symmetrize
from pose3d_ros.geometry import normalize_with_intrinsics, project
from pose3d_ros.skeleton import SkeletonLayout

from .config import BoneLengthAugmentation, TrainConfig
from .data import Sequence, root_relative
from .generators import ChunkedDataset, flip_pose
from .losses import Batch
from .virtual_camera import VirtualCameraSpec, virtual_views


@dataclass
class TrainingBatch:
    """One step's samples: the model's inputs and what the losses compare its outputs against."""

    inputs: torch.Tensor  # (B, T, J, F) normalised 2D (and a confidence channel)
    targets: torch.Tensor  # (B, N, J, 3) root-relative 3D (root positions for trajectories)
    points_3d: torch.Tensor | None = None  # (B, N, J, 3) camera-frame 3D of the output frames
    context: torch.Tensor | None = None  # (B, L, J, F) frames sampled from each sample's sequence
    context_targets: torch.Tensor | None = None  # (B, L, J, 3)
    augmented_context: torch.Tensor | None = None  # (B, L, J, 2) frames of re-boned sequences (AUG)
    augmented_targets: torch.Tensor | None = None  # (B, L, J, 3)
    scale: torch.Tensor | float = 1.0  # the 2D scale factor of each sample
    windows_3d: torch.Tensor | None = None  # (B, T, J, 3) camera-frame 3D of the input frames (virtual cameras)
    output_offset: int = 0  # the input frame of the first output frame (rf - 1 causal, rf // 2 symmetric)
    level: bool = False  # windows_3d in level frames: virtual views come back to them (gravity-levelled)

    def model_inputs(self) -> dict:
        """The model's keyword inputs besides ``inputs``."""
        kwargs = {} if self.context is None else {"context": self.context}
        if self.augmented_context is not None:
            kwargs["augmented_context"] = self.augmented_context
        return kwargs

    def for_losses(self) -> Batch:
        """What the losses see; the true 2D of the output frames is in the inputs' (scaled)
        focal-normalised coordinates (Xu's losses)."""
        target_2d = None if self.points_3d is None else self.scale * self.points_3d[..., :2] / self.points_3d[..., 2:3]
        return Batch(self.targets, self.context_targets, self.augmented_targets, target_2d, self.points_3d)


def augment(batch: TrainingBatch, t: TrainConfig, layout: SkeletonLayout) -> TrainingBatch:
    """``batch`` with the augmentations ``t`` names, in this order: a horizontal flip of half the
    samples (2D, 3D and context alike), a 2D scale per sample (people nearer or farther than in
    the studio: the 2D size varies, the 3D pose does not), Gaussian 2D noise, joint dropout.
    With ``virtual_cameras`` a share of the samples is seen through random virtual cameras after
    the flip (training.virtual_camera); those get no further scale or noise (they have their own).
    ``scale_about: root`` scales each frame's 2D about its root keypoint: the person nearer or
    farther along the same ray, which keeps where a gravity-levelled lifter sees them against the
    horizon (about the image centre the scale also moves them up or down)."""
    if t.flip:
        flip = torch.rand(len(batch.inputs), device=batch.inputs.device) < 0.5
        for name in ("inputs", "targets", "points_3d", "context", "context_targets", "windows_3d"):
            x = getattr(batch, name)
            if x is not None:
                x[flip] = flip_pose(x[flip], layout)
    viewed = _view_virtually(batch, t.virtual_cameras) if t.virtual_cameras is not None else None
    if t.scale_range is not None:
        lo, hi = np.log(t.scale_range)
        s = torch.empty(len(batch.inputs), 1, 1, 1, device=batch.inputs.device).uniform_(float(lo), float(hi)).exp()
        if viewed is not None:
            s[viewed] = 1.0
        if t.scale_about == "root":
            _on_2d_inputs(batch, lambda p: p[..., :1, :] + s * (p - p[..., :1, :]))
        else:
            _on_2d_inputs(batch, lambda p: p * s)
        batch.scale = s
    if t.noise_std > 0:
        keep = 1.0 if viewed is None else (~viewed).to(batch.inputs.dtype)[:, None, None, None]
        _on_2d_inputs(batch, lambda p: p + keep * t.noise_std * torch.randn_like(p))
    if t.joint_dropout > 0:
        batch.inputs = drop_joints(batch.inputs, t.joint_dropout)
    return batch


def _view_virtually(batch: TrainingBatch, spec: VirtualCameraSpec) -> torch.Tensor:
    """Re-view a share of the samples through virtual cameras (in place): the 3D of each sample's
    input window from one camera gives its 2D inputs and its output frames' targets. Returns which."""
    if batch.windows_3d is None or batch.context is not None or batch.points_3d is not None:
        raise ValueError("virtual_cameras needs the 3D of the input windows and a lifter without "
                         "sequence context or 2D losses")
    uv, seen, viewed = virtual_views(batch.windows_3d, spec, level=batch.level)
    out = seen[:, batch.output_offset:batch.output_offset + batch.targets.shape[1]]
    batch.inputs[viewed, :, :, :2] = uv[viewed].to(batch.inputs.dtype)
    batch.targets[viewed] = (out - out[:, :, :1])[viewed].to(batch.targets.dtype)
    return viewed


def _on_2d_inputs(batch: TrainingBatch, change) -> None:
    batch.inputs = apply_to_xy(batch.inputs, change)
    if batch.context is not None:
        batch.context = apply_to_xy(batch.context, change)


def apply_to_xy(x: torch.Tensor, change) -> torch.Tensor:
    """``change`` applied to the 2D coordinates of (..., J, F) inputs; further features (a
    confidence channel) kept."""
    return torch.cat([change(x[..., :2]), x[..., 2:]], dim=-1) if x.shape[-1] > 2 else change(x)


def drop_joints(inputs: torch.Tensor, rate: float) -> torch.Tensor:
    """Joint dropout: each joint of each frame unseen with probability ``rate``, as
    pose3d_ros.lifting.lifter_input presents a joint below the confidence threshold
    (u, v and the confidence channel zeroed)."""
    return inputs * (torch.rand(inputs.shape[:-1], device=inputs.device) >= rate)[..., None].to(inputs.dtype)


def bone_length_variant(seq: Sequence, rng: np.random.Generator,
                        scale_range: tuple[float, float] = (0.8, 1.2)) -> tuple[np.ndarray, np.ndarray]:
    """(model inputs (N, 17, 2) focal-normalised, 3D joints (N, 17, 3) camera frame) of ``seq``
    re-boned: each bone's mean length scaled by a factor from ``scale_range`` (the same for left and
    right), directions and root positions kept, 2D projected with the sequence's intrinsics."""
    if seq.intrinsics is None:
        raise ValueError(f"bone-length augmentation needs camera intrinsics; {seq.subject} {seq.action} has none")
    lengths = symmetrize(bone_lengths(seq.positions_3d).mean(axis=0)) * symmetrize(rng.uniform(*scale_range, 16))
    joints = rescale_bones(seq.positions_3d, lengths)
    return normalize_with_intrinsics(project(joints, seq.intrinsics), seq.intrinsics), joints


def reboned_frames(seqs: list[Sequence], rng: np.random.Generator, spec: BoneLengthAugmentation,
                   device: torch.device | str) -> ChunkedDataset:
    """AUG for one epoch: every training sequence with a new random skeleton, as single frames."""
    variants = [bone_length_variant(s, rng, spec.scale_range) for s in seqs]
    return ChunkedDataset([v[0] for v in variants], [root_relative(v[1]) for v in variants], 1, False, 1).to(device)
