"""Pose metrics, one definition each, on numpy arrays of shape (..., J, 3) in the same units.

Used by training, evaluation and the ROS node's replay tests.
"""
from __future__ import annotations

import numpy as np

from .constraints import bend_legality
from .skeleton import H36M17, SkeletonLayout


def trunk_lean_deg(poses: np.ndarray, layout: SkeletonLayout = H36M17) -> np.ndarray:
    """Angle in degrees of each pose's trunk (pelvis -> thorax) from the frame's up direction, -y
    (a camera's vertical; gravity in a level frame): (..., J, 3) -> (...)."""
    trunk = poses[..., layout.index("thorax"), :] - poses[..., layout.index("pelvis"), :]
    cos = -trunk[..., 1] / np.maximum(np.linalg.norm(trunk, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """Protocol 1: mean per-joint position error."""
    return float(np.mean(np.linalg.norm(pred - target, axis=-1)))


def p_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """Protocol 2: MPJPE after a per-frame similarity (Procrustes) alignment of pred to target."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, *pred.shape[-2:])
    target = np.asarray(target, dtype=np.float64).reshape(-1, *target.shape[-2:])
    mu_x, mu_y = target.mean(axis=1, keepdims=True), pred.mean(axis=1, keepdims=True)
    x0, y0 = target - mu_x, pred - mu_y
    norm_x = np.sqrt((x0 ** 2).sum(axis=(1, 2), keepdims=True))
    norm_y = np.sqrt((y0 ** 2).sum(axis=(1, 2), keepdims=True))
    x0, y0 = x0 / norm_x, y0 / norm_y
    u, s, vt = np.linalg.svd(np.matmul(x0.transpose(0, 2, 1), y0))
    v = vt.transpose(0, 2, 1)
    r = np.matmul(v, u.transpose(0, 2, 1))
    # Avoid reflections: flip the last singular vector where det(R) < 0.
    sign = np.sign(np.linalg.det(r))[:, None]
    v[:, :, -1] *= sign
    s[:, -1] *= sign[:, 0]
    r = np.matmul(v, u.transpose(0, 2, 1))
    scale = s.sum(axis=1)[:, None, None] * norm_x / norm_y
    aligned = scale * np.matmul(y0 * norm_y, r) + mu_x
    return mpjpe(aligned, target)


def n_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after a per-frame least-squares scale of pred to target (Rhodin et al.)."""
    num = (pred * target).sum(axis=(-1, -2), keepdims=True)
    den = (pred * pred).sum(axis=(-1, -2), keepdims=True)
    return mpjpe(num / np.maximum(den, 1e-12) * pred, target)


def mpjve(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint velocity error: MPJPE of first differences along the time axis (axis 0)."""
    return mpjpe(np.diff(pred, axis=0), np.diff(target, axis=0))


def per_joint_error(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean position error of each joint, (J,)."""
    return np.linalg.norm(pred - target, axis=-1).reshape(-1, pred.shape[-2]).mean(axis=0)


def pck(pred: np.ndarray, target: np.ndarray, threshold: float = 0.150) -> float:
    """Percentage of joints within ``threshold`` (150 mm in metres by default), in %."""
    return float(100.0 * np.mean(np.linalg.norm(pred - target, axis=-1) <= threshold))


def auc(pred: np.ndarray, target: np.ndarray, max_threshold: float = 0.150, steps: int = 31) -> float:
    """Area under the PCK curve for thresholds 0..max_threshold (MPI-INF-3DHP convention), in %."""
    return float(np.mean([pck(pred, target, t) for t in np.linspace(0.0, max_threshold, steps)]))


def root_position_error(pred_root: np.ndarray, target_root: np.ndarray) -> float:
    """Mean distance between predicted and true root positions (..., 3), for absolute-depth outputs."""
    return float(np.mean(np.linalg.norm(pred_root - target_root, axis=-1)))


def _lengths(poses: np.ndarray, bones) -> np.ndarray:
    b = np.asarray(bones)
    return np.linalg.norm(poses[..., b[:, 0], :] - poses[..., b[:, 1], :], axis=-1)


def bone_length_std(poses: np.ndarray, bones: tuple[tuple[int, int], ...]) -> float:
    """Temporal consistency: each bone's length standard deviation over time (axis 0),
    averaged over the (child, parent) ``bones``."""
    return float(np.mean(np.std(_lengths(poses, bones), axis=0)))


def head_to_ankle(poses: np.ndarray) -> np.ndarray:
    """Each H36M-17 pose's (..., 17, 3) distance from the head to the right ankle: the size
    check on a clip without 3D truth (a standing adult: about 1.5 m)."""
    return np.linalg.norm(poses[..., H36M17.index("head"), :] - poses[..., H36M17.index("r_ankle"), :], axis=-1)


def symmetry_error(poses: np.ndarray, pairs: tuple[tuple[tuple[int, int], tuple[int, int]], ...]) -> np.ndarray:
    """Dabral et al. Table 6 (upper half): mean |length(left) - length(right)| of each
    (left bone, right bone) pair of (child, parent) bones, (P,)."""
    left = _lengths(poses, [p[0] for p in pairs])
    right = _lengths(poses, [p[1] for p in pairs])
    return np.abs(left - right).reshape(-1, len(pairs)).mean(axis=0)


def bone_length_rmse(pred: np.ndarray, target: np.ndarray, bones: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Tang et al. Table 3: root mean square error of each (child, parent) bone's length, (K,)."""
    diff = _lengths(pred, bones) - _lengths(target, bones)
    return np.sqrt(np.mean(diff.reshape(-1, len(bones)) ** 2, axis=0))


def illegal_bend_share(poses: np.ndarray, tolerance: float = 0.0) -> float:
    """Share (%) of elbows and knees of H36M-17 poses (N, 17, 3) bent the wrong way: legality
    (``constraints.bend_legality``, a cosine) below ``-tolerance``. Dabral et al. report the share
    of illegal non-torso angles under Akhter and Black's limits; this is our elbow/knee version."""
    legality = np.array([bend_legality(p) for p in np.asarray(poses, dtype=np.float64).reshape(-1, 17, 3)])
    return float(100.0 * np.mean(legality < -tolerance))


def reference_scores(pred: np.ndarray, target: np.ndarray, bones: tuple[tuple[int, int], ...],
                     absolute: bool = True, root: int = 0, min_joints: int = 12) -> dict[str, float | int | np.ndarray]:
    """Predicted poses (F, J, 3) against reference poses (F, J, 3) of the same frames and camera,
    NaN where unknown. A frame scores where pred is complete and the reference has its root and at
    least ``min_joints`` joints; errors average over the reference's known joints: ``p_mpjpe``
    (Procrustes per frame on those joints); ``mpjpe`` of the root-relative poses; ``root_error``
    (``root_position_error``; NaN unless ``absolute``: pred has a metric position); ``bone_std``
    (``bone_length_std`` of pred over the scored frames); ``per_joint`` (J,) root-relative errors;
    ``frames`` scored. Same units as the inputs; NaN when no frame scores."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    known = np.all(np.isfinite(target), axis=-1)
    ok = np.all(np.isfinite(pred), axis=(1, 2)) & known[:, root] & (known.sum(axis=1) >= min_joints)
    if not ok.any():
        nan = float("nan")
        return {"p_mpjpe": nan, "mpjpe": nan, "root_error": nan, "bone_std": nan,
                "per_joint": np.full(pred.shape[1], nan), "frames": 0}
    pred, target, known = pred[ok], target[ok], known[ok]
    rel, trel = pred - pred[:, root:root + 1], target - target[:, root:root + 1]
    counts = known.sum(axis=1)
    aligned = [p_mpjpe(p[k][None], t[k][None]) for p, t, k in zip(pred, target, known)]
    per_joint = np.array([mpjpe(rel[known[:, j], j], trel[known[:, j], j]) if known[:, j].any() else np.nan
                          for j in range(pred.shape[1])])
    return {"p_mpjpe": float(np.dot(aligned, counts) / counts.sum()), "mpjpe": mpjpe(rel[known], trel[known]),
            "root_error": root_position_error(pred[:, root], target[:, root]) if absolute else float("nan"),
            "bone_std": bone_length_std(pred, bones), "per_joint": per_joint, "frames": int(ok.sum())}
