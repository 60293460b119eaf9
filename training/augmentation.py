"""Chen et al.'s bone-length augmentation (AUG): the training skeletons with new bone lengths.

Human3.6M's five training subjects give the bone-length network five skeletons; AUG
gives every training sequence a new random skeleton (each bone's mean length times a
factor, left and right alike), keeps the root and every bone's direction, and projects
the new joints with the sequence's camera to new 2D inputs.
"""
from __future__ import annotations

import numpy as np

from pose3d_ros.constraints import bone_lengths, rescale_bones, symmetrize
from pose3d_ros.geometry import normalize_with_intrinsics, project

from .data import Sequence


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
