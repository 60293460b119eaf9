"""What a lifter is fed and how its output is placed: tracked 2D keypoints, the per-joint input
features, the compute device, and the root translation solved against the 2D keypoints."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import solve_root_translation


@dataclass
class PersonKeypoints:
    """2D keypoints of one tracked person in one image (H36M-17, pixels), and the detector's own
    3D where it has one (root-relative, metres, camera axes: detection.Detection.world)."""

    track_id: int
    keypoints: np.ndarray  # (17, 2) pixels
    confidence: np.ndarray  # (17,) in [0, 1]
    world: np.ndarray | None = None  # (17, 3)


MIN_CONFIDENCE = 0.3  # below this a joint counts as unseen (the lifter node's min_joint_confidence)
MAX_ROOT_DISTANCE_M = 1e4  # a root placed farther is a failed solve (and would overflow float32 clouds)


def lifter_input(uv: np.ndarray, confidence: np.ndarray | None, in_features: int,
                 min_confidence: float = MIN_CONFIDENCE) -> np.ndarray:
    """A lifter's per-joint input from focal-normalised 2D keypoints (..., J, 2).

    Two features: the keypoints as they are. Three: [u, v, seen], seen 1 where the joint's
    confidence is at least ``min_confidence`` (every joint where ``confidence`` is None) and
    0 elsewhere with u, v zeroed, which is how training's joint dropout presents a missing
    joint (training.augmentation.drop_joints, ``train.joint_dropout``).
    """
    if in_features == 2:
        return uv
    if in_features != 3:
        raise ValueError(f"a lifter takes 2 or 3 features per joint, not {in_features}")
    seen = np.ones(uv.shape[:-1], uv.dtype) if confidence is None else (confidence >= min_confidence).astype(uv.dtype)
    return np.concatenate([uv * seen[..., None], seen[..., None]], axis=-1)


def choose_device(name: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cpu`` and ``cuda`` pass."""
    if name == "auto":
        import torch  # here only: the keypoint codec imports this module without torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {name!r}")
    return name


def root_translation(pose_rel: np.ndarray, uv_norm: np.ndarray, confidence: np.ndarray) -> np.ndarray | None:
    """The root's camera-frame position (see geometry.solve_root_translation), or None when
    an input or the solution is not finite, the solution is not in front of the camera or
    farther than MAX_ROOT_DISTANCE_M, or the least squares do not converge."""
    if not (np.all(np.isfinite(pose_rel)) and np.all(np.isfinite(uv_norm)) and np.all(np.isfinite(confidence))):
        return None
    try:
        t = solve_root_translation(pose_rel, uv_norm, confidence)
    except np.linalg.LinAlgError:
        return None
    return t if np.all(np.isfinite(t)) and 0 < t[2] and np.linalg.norm(t) <= MAX_ROOT_DISTANCE_M else None
