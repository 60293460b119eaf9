"""Anatomical plausibility of H36M-17 poses: checks, scores and corrections.

Each check gives every joint a severity: its measured value over the check's limit, so a
severity above 1 is a violation. A joint's plausibility score is ``2 ** -(s * s)`` with
``s`` its worst severity (1 for a perfect joint, 0.5 at a limit, then falling fast).

Checks:
- ``bone_length``: a bone's length against the track's estimate, the difference over
  the larger of a relative limit and an absolute floor (short bones such as the hips or
  the head would otherwise fail on centimetres); flags the bone's child joint.
- ``symmetry``: left/right limb bones of the same frame, likewise; flags both.
- ``illegal_bend``: elbows and knees bent the wrong way, Dabral et al. 2018 (Sect. 3.1):
  with n = collar-bone x upper-arm (pelvis-hip x thigh for a leg), a legal lower arm
  (shank) has a component along n of the right sign (right elbow and left knee +,
  left elbow and right knee -). The measure is the cosine between n and the lower bone,
  so the limit is in cosine units; flags the wrist or ankle. On Human3.6M ground truth the
  knees never go beyond -0.11, but 3-6 % of elbow frames are below -0.1 (an internally
  rotated upper arm, hands behind the back): elbows get a wider limit (0.6-1.4 % of ground
  truth frames beyond -0.5).
- ``velocity`` and ``acceleration``: per joint, from the track's previous outputs (m/s, m/s^2).
- ``root_depth``: the pelvis' distance along the optical axis; flags every joint.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import H36M17

_CHILD, _PARENT = list(H36M17.bone_children), list(H36M17.bone_parents)
_LEFT_BONE, _RIGHT_BONE = (list(side) for side in zip(*H36M17.left_right_bones))
# Hinge joints: (root of the plane, proximal joint, hinge, distal joint, legal sign).
_j = H36M17.index
HINGES = (
    ("r_elbow", (_j("thorax"), _j("r_shoulder"), _j("r_elbow"), _j("r_wrist")), 1.0),
    ("l_elbow", (_j("thorax"), _j("l_shoulder"), _j("l_elbow"), _j("l_wrist")), -1.0),
    ("r_knee", (_j("pelvis"), _j("r_hip"), _j("r_knee"), _j("r_ankle")), -1.0),
    ("l_knee", (_j("pelvis"), _j("l_hip"), _j("l_knee"), _j("l_ankle")), 1.0),
)
_H_ROOT, _H_PROXIMAL, _H_HINGE, _H_DISTAL = (np.array(c) for c in zip(*[h[1] for h in HINGES]))
_H_SIGN = np.array([h[2] for h in HINGES])
CHECKS = ("bone_length", "symmetry", "illegal_bend", "velocity", "acceleration", "root_depth")
MIN_PLANE_SINE = 0.1  # collar-bone and upper arm (or hip and thigh) nearly parallel: no plane


@dataclass(frozen=True)
class ConstraintLimits:
    """The limit of each check (see the module docstring)."""

    bone_length: float = 0.25  # relative difference to the track's estimate
    symmetry: float = 0.25  # relative left/right difference
    bone_floor: float = 0.05  # m: differences below this never fail either check
    illegal_elbow: float = 0.5  # cosine between the hinge normal and the lower arm, wrong side
    illegal_knee: float = 0.1  # the same for the shank
    velocity: float = 10.0  # m/s
    acceleration: float = 300.0  # m/s^2
    min_root_depth: float = 0.3  # m
    max_root_depth: float = 30.0  # m


@dataclass
class MotionHistory:
    """A track's last two output positions (camera frame or root-relative) and their stamps."""

    positions: list[np.ndarray]
    stamps: list[float]

    def push(self, positions: np.ndarray, stamp: float) -> None:
        self.positions = (self.positions + [positions])[-2:]
        self.stamps = (self.stamps + [stamp])[-2:]


def bone_lengths(pose: np.ndarray) -> np.ndarray:
    """(..., 17, 3) -> (..., 16) lengths of the bones in ``H36M17.bones`` order."""
    return np.linalg.norm(pose[..., _CHILD, :] - pose[..., _PARENT, :], axis=-1)


def symmetrize(lengths: np.ndarray) -> np.ndarray:
    """Bone lengths (16,) with each left/right pair replaced by its mean."""
    out = np.array(lengths, dtype=np.float64)
    out[_LEFT_BONE] = out[_RIGHT_BONE] = 0.5 * (out[_LEFT_BONE] + out[_RIGHT_BONE])
    return out


def rescale_bones(pose: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Keep each bone's direction, set its length; the root stays where it is.
    ``pose`` (..., 17, 3), ``lengths`` (16,) or broadcastable to (..., 16)."""
    d = pose[..., _CHILD, :] - pose[..., _PARENT, :]
    norms = np.linalg.norm(d, axis=-1, keepdims=True)
    d = np.where(norms > 1e-9, d * (np.asarray(lengths)[..., None] / np.maximum(norms, 1e-9)), d)
    out = pose.copy()
    for i, (child, parent) in enumerate(H36M17.bones):  # parents come before children
        out[..., child, :] = out[..., parent, :] + d[..., i, :]
    return out


def _hinge_normals(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit normals (4, 3) of the hinges' planes and whether each plane is defined (4,)."""
    a = pose[_H_PROXIMAL] - pose[_H_ROOT]
    b = pose[_H_HINGE] - pose[_H_PROXIMAL]
    n = np.cross(a, b)
    norm = np.linalg.norm(n, axis=-1)
    defined = norm >= MIN_PLANE_SINE * np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    defined &= norm > 1e-12
    return n / np.maximum(norm, 1e-12)[:, None], defined


def bend_legality(pose: np.ndarray) -> np.ndarray:
    """Per hinge in ``HINGES`` order: the cosine between the legal side of the hinge normal
    and the distal bone (negative: bent the wrong way; 0 where the plane is undefined)."""
    n, defined = _hinge_normals(pose)
    v = pose[_H_DISTAL] - pose[_H_HINGE]
    vn = np.linalg.norm(v, axis=-1)
    cos = _H_SIGN * np.einsum("ij,ij->i", n, v) / np.maximum(vn, 1e-9)
    return np.where(defined & (vn > 1e-9), cos, 0.0)


def hinge_limits(limits: ConstraintLimits) -> np.ndarray:
    """The illegal-bend limit of each hinge in ``HINGES`` order."""
    return np.array([limits.illegal_elbow if name.endswith("elbow") else limits.illegal_knee
                     for name, _, _ in HINGES])


def mirror_illegal_bends(pose: np.ndarray, limits: ConstraintLimits) -> np.ndarray:
    """Reflect each distal bone bent the wrong way beyond its limit through its hinge plane."""
    out = pose.copy()
    n, _ = _hinge_normals(pose)
    for i in np.flatnonzero(bend_legality(pose) < -hinge_limits(limits)):
        v = pose[_H_DISTAL[i]] - pose[_H_HINGE[i]]
        out[_H_DISTAL[i]] = pose[_H_HINGE[i]] + v - 2.0 * (v @ n[i]) * n[i]
    return out


def severities(pose_rel: np.ndarray, positions: np.ndarray, stamp: float, limits: ConstraintLimits,
               bone_estimate: np.ndarray | None, motion: MotionHistory | None,
               root_depth: float | None) -> dict[str, np.ndarray]:
    """Severity (17,) of each check in ``CHECKS``; 0 where a check cannot be evaluated.

    pose_rel: root-relative pose (m); positions: the published positions (camera frame, or
    root-relative without intrinsics) for the motion checks; bone_estimate: the track's
    bone lengths (None: not yet known); root_depth: the pelvis' z (None: not metric).
    """
    out = {name: np.zeros(17) for name in CHECKS}
    lengths = bone_lengths(pose_rel)
    if bone_estimate is not None:
        tolerance = np.maximum(limits.bone_length * bone_estimate, limits.bone_floor)
        out["bone_length"][_CHILD] = np.abs(lengths - bone_estimate) / tolerance
    left, right = lengths[_LEFT_BONE], lengths[_RIGHT_BONE]
    asym = np.abs(left - right) / np.maximum(limits.symmetry * 0.5 * (left + right), limits.bone_floor)
    out["symmetry"][list(H36M17.joints_left)] = out["symmetry"][list(H36M17.joints_right)] = asym
    out["illegal_bend"][_H_DISTAL] = np.maximum(-bend_legality(pose_rel), 0.0) / hinge_limits(limits)
    if motion is not None and motion.stamps:
        dt1 = stamp - motion.stamps[-1]
        if dt1 > 0:
            v1 = (positions - motion.positions[-1]) / dt1
            out["velocity"] = np.linalg.norm(v1, axis=-1) / limits.velocity
            if len(motion.stamps) == 2 and motion.stamps[1] > motion.stamps[0]:
                dt0 = motion.stamps[1] - motion.stamps[0]
                v0 = (motion.positions[1] - motion.positions[0]) / dt0
                accel = np.linalg.norm(v1 - v0, axis=-1) / (0.5 * (dt0 + dt1))
                out["acceleration"] = accel / limits.acceleration
    if root_depth is not None:
        if root_depth < limits.min_root_depth:
            out["root_depth"][:] = limits.min_root_depth / max(root_depth, 1e-6)
        elif root_depth > limits.max_root_depth:
            out["root_depth"][:] = root_depth / limits.max_root_depth
    return out


def joint_scores(severity: dict[str, np.ndarray]) -> np.ndarray:
    """Plausibility in (0, 1] per joint from the worst severity: 2 ** -(s * s)."""
    worst = np.max(np.stack(list(severity.values())), axis=0)
    return np.exp2(-worst * worst)


def violated(severity: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per check, the joints that violate it (severity above 1)."""
    return {name: s > 1.0 for name, s in severity.items()}
