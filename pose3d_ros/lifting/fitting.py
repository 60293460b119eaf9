"""Kinematic fitting: a training-free, causal, per-person stage that any 3D source goes through.

Per frame, for one tracked person:

1. Smoothing (causal, bounded lag): One-Euro filters on the focal-normalised 2D keypoints and
   on the source's root-relative 3D pose (:mod:`.smoothing`).
2. Bone lengths: the track's estimate (:class:`~.refinement.BoneLengthEstimator`, a
   confidence-weighted median over frames sampled from its whole history). Proportions come
   from the image: each joint back-projected along its 2D ray to the depth the source gives
   it measures the bones across the view, where the source only guesses along it; the
   overall size comes from the source, shrunk towards a prior stature (Human3.6M's median
   adult) while few frames are known if ``prior_frames`` > 0 (off by default: in the wild
   MediaPipe's own stature was nearer the truth than the prior's).
3. The source's bone directions with those lengths, placed at the root translation that best
   projects it onto the confident 2D keypoints (:func:`~.inputs.root_translation`).
4. Fit to the 2D, parents before children: each bone's direction d minimises
   ``w |proj(parent + L d) - uv|^2 + |d - d_source|^2`` (Gauss-Newton in the plane orthogonal to
   d), ``w`` the keypoint's precision relative to the source's direction error, scaled by the
   joint's confidence above ``min_confidence``: a confident joint moves onto its 2D ray, an
   unseen one or a bone seen end-on keeps the source's direction. Lengths never change.
5. Limits: an elbow or knee bent the wrong way is mirrored through its hinge plane.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..constraints import ConstraintLimits, mirror_illegal_bends, rescale_bones
from ..skeleton import H36M17
from .inputs import root_translation
from .refinement import BoneLengthEstimator
from .smoothing import OneEuroFilter

BONES = np.array(H36M17.bones)  # (16, 2) (child, parent); parents come before children
# Median bone lengths (m) of Human3.6M's training subjects S1, S5-S8 in BONES order (a 1.7 m adult).
PRIOR_BONE_LENGTHS = np.array([0.136, 0.449, 0.442, 0.136, 0.449, 0.442, 0.233, 0.255,
                               0.119, 0.115, 0.149, 0.279, 0.249, 0.149, 0.279, 0.249])


@dataclass(frozen=True)
class FitSettings:
    """Parameters of the fitting stage (see the module docstring)."""

    keypoint_sd_px: float = 10.0  # 2D keypoint noise (pixels) of a joint at confidence 1 (inf: keep the source)
    direction_sd: float = 0.3  # the source's bone direction error (radians) the fit may correct
    min_confidence: float = 0.3  # joints below this keep the source's direction
    bones_from: str = "image"  # bone-length samples: "image" (2D at the source's depths) or "source" (its 3D)
    prior_frames: int = 0  # the prior stature (not proportions) weighs as much as this many frames
    bone_samples: int = 64  # frames kept for the bone-length estimate
    keypoint_cutoff_hz: float = 3.0  # One-Euro on the 2D keypoints: cut-off at rest (0: no smoothing)
    keypoint_beta: float = 20.0  # ... and its rise with speed (per focal-normalised unit per second)
    pose_cutoff_hz: float = 4.0  # One-Euro on the source's root-relative pose (0: no smoothing)
    pose_beta: float = 2.0  # ... (per metre per second)
    limits: ConstraintLimits = field(default_factory=ConstraintLimits)

    def __post_init__(self) -> None:
        if not (self.keypoint_sd_px > 0 and self.direction_sd > 0):
            raise ValueError("keypoint_sd_px and direction_sd must be positive")
        if not 0.0 <= self.min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in [0, 1), got {self.min_confidence}")
        if self.bones_from not in ("image", "source"):
            raise ValueError(f"bones_from must be image or source, got {self.bones_from!r}")
        if self.prior_frames < 0 or self.bone_samples < 1:
            raise ValueError("prior_frames must be >= 0 and bone_samples >= 1")


@dataclass
class FitProblem:
    """One person's fit to the 2D, ready to solve: the placed pose and the 2D it is pulled to."""

    pose: np.ndarray  # (17, 3) root-relative, the track's bone lengths
    translation: np.ndarray  # (3,)
    uv_norm: np.ndarray  # (17, 2)
    weights: np.ndarray  # (17,) precision of each keypoint relative to the source's directions


@dataclass
class Fitted:
    """One fitted pose: camera frame (metres), its root translation and the root-relative pose."""

    joints: np.ndarray  # (17, 3)
    translation: np.ndarray  # (3,)

    @property
    def relative(self) -> np.ndarray:
        return self.joints - self.translation


def _levels() -> list[np.ndarray]:
    """Indices into BONES grouped by the child's depth in the tree (root's children first)."""
    depth = np.zeros(H36M17.num_joints, int)
    for child, parent in BONES:
        depth[child] = depth[parent] + 1
    return [np.flatnonzero(depth[BONES[:, 0]] == d) for d in range(1, depth.max() + 1)]


_LEVELS = _levels()


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (np.cross costs more than the whole solve at this size)."""
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def _tangent_basis(d: np.ndarray) -> np.ndarray:
    """(..., 3, 2): two unit vectors orthogonal to each unit direction in ``d`` (..., 3)."""
    helper = np.where(np.abs(d[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    e1 = _cross(d, helper)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    return np.stack([e1, _cross(d, e1)], axis=-1)


def fit_to_keypoints(pose_rel: np.ndarray, translation: np.ndarray, uv_norm: np.ndarray, weights: np.ndarray,
                     limits: ConstraintLimits, iterations: int = 2) -> np.ndarray:
    """Turn the bones of the placed pose (``pose_rel + translation``) towards their children's 2D
    keypoints, keeping every bone's length, parents before children; then repair illegal bends.
    One person (pose_rel (17, 3), translation (3,), uv_norm (17, 2), weights (17,)) or a batch
    of people (a leading axis on each), solved together.

    Per bone the new direction d minimises ``weights[child] * |proj(parent + L d) - uv|^2 +
    |d - d_source|^2`` (Gauss-Newton in the plane orthogonal to d): ``weights`` is the
    precision of each 2D keypoint relative to the prior on the source's directions, so a bone
    seen end-on or a doubtful keypoint keeps the source's depth. Returns the joints in the
    camera frame, shaped like pose_rel.
    """
    src = pose_rel + translation[..., None, :]
    out = src.copy()
    for level in _LEVELS:
        child, parent = BONES[level, 0], BONES[level, 1]
        vec = src[..., child, :] - src[..., parent, :]
        length = np.linalg.norm(vec, axis=-1, keepdims=True)
        d_src = vec / np.maximum(length, 1e-9)
        d = d_src.copy()
        w = weights[..., child]
        for _ in range(iterations):
            x = out[..., parent, :] + length * d
            z = np.maximum(x[..., 2], 1e-6)
            residual = uv_norm[..., child, :] - x[..., :2] / z[..., None]
            jac = np.zeros(x.shape[:-1] + (2, 3))  # d proj / d x
            jac[..., 0, 0] = jac[..., 1, 1] = 1.0 / z
            jac[..., :, 2] = -x[..., :2] / (z * z)[..., None]
            basis = _tangent_basis(d)
            a = jac @ (length[..., None] * basis)  # (..., n, 2, 2)
            lhs = w[..., None, None] * np.swapaxes(a, -1, -2) @ a + np.eye(2)
            rhs = (w[..., None] * np.einsum("...ji,...j->...i", a, residual)
                   - np.einsum("...ji,...j->...i", basis, d - d_src))
            step = np.linalg.solve(lhs, rhs[..., None])[..., 0]
            d = d + np.einsum("...ij,...j->...i", basis, step)
            d /= np.linalg.norm(d, axis=-1, keepdims=True)
        out[..., child, :] = out[..., parent, :] + length * d
    if out.ndim == 2:
        return mirror_illegal_bends(out, limits)
    return np.stack([mirror_illegal_bends(pose, limits) for pose in out])


def solve(problems: list[FitProblem], limits: ConstraintLimits) -> list[Fitted]:
    """Steps 4-5 for several people at once (one batched :func:`fit_to_keypoints`)."""
    if not problems:
        return []
    joints = fit_to_keypoints(*(np.stack([getattr(p, name) for p in problems])
                                for name in ("pose", "translation", "uv_norm", "weights")), limits)
    return [Fitted(j, p.translation) for j, p in zip(joints, problems)]


def _lengths(pose: np.ndarray) -> np.ndarray:
    return np.linalg.norm(pose[BONES[:, 0]] - pose[BONES[:, 1]], axis=-1)


class KinematicFitter:
    """The fitting stage of one track (one instance per person; see the module docstring)."""

    def __init__(self, settings: FitSettings = FitSettings(), seed: int = 0) -> None:
        self.settings = settings
        self.bones = BoneLengthEstimator(settings.bone_samples, min_frames=1, seed=seed)
        self.image_bones = BoneLengthEstimator(settings.bone_samples, min_frames=1, seed=seed)
        s = settings
        self._uv_filter = OneEuroFilter(s.keypoint_cutoff_hz, s.keypoint_beta) if s.keypoint_cutoff_hz > 0 else None
        self._pose_filter = OneEuroFilter(s.pose_cutoff_hz, s.pose_beta) if s.pose_cutoff_hz > 0 else None

    def bone_lengths(self) -> np.ndarray:
        """The track's bone lengths: the image's proportions (or the source's) at the source's
        stature, shrunk towards the prior stature while frames are few."""
        estimate = self.bones.estimate()
        if estimate is None:
            return PRIOR_BONE_LENGTHS.copy()
        stature = estimate.sum()
        image = self.image_bones.estimate()
        if image is not None:  # the image alone has no scale
            estimate = image * (stature / image.sum())
        n, k = min(self.bones.seen, self.settings.bone_samples), self.settings.prior_frames
        return estimate * (n * stature + k * PRIOR_BONE_LENGTHS.sum()) / ((n + k) * stature)

    def prepare(self, stamp: float, source_rel: np.ndarray, uv_norm: np.ndarray, confidence: np.ndarray,
                focal_px: float) -> FitProblem | None:
        """Steps 1-3 of one frame, leaving the fit to the 2D to :func:`solve` (batched over people):
        the source's root-relative pose (17, 3), the undistorted focal-normalised
        2D keypoints (17, 2), their confidences (17,) and the focal length (pixels). None when
        the root cannot be placed in front of the camera (too few confident joints)."""
        s = self.settings
        if self._uv_filter is not None:
            uv_norm = self._uv_filter(uv_norm, stamp)
        if self._pose_filter is not None:
            source_rel = self._pose_filter(source_rel - source_rel[0], stamp)
        source_rel = source_rel - source_rel[0]
        seen = confidence >= s.min_confidence
        if seen.sum() < 3:
            return None
        self.bones.add(_lengths(source_rel), confidence)
        pose = rescale_bones(source_rel, self.bone_lengths())
        translation = root_translation(pose, uv_norm, np.where(seen, confidence, 0.0))
        if translation is None:
            return None
        if s.bones_from == "image":
            # Each joint back-projected along its 2D ray to the depth the source gives it: lengths
            # that the image measures across the view and the source only along it.
            depth = (pose + translation)[:, 2:3]
            self.image_bones.add(_lengths(np.concatenate([uv_norm * depth, depth], axis=-1)),
                                 np.where(seen, confidence, 0.0))
            pose = rescale_bones(source_rel, self.bone_lengths())
        trust = np.clip((confidence - s.min_confidence) / (1.0 - s.min_confidence), 0.0, 1.0)
        weights = trust * (s.direction_sd * focal_px / s.keypoint_sd_px) ** 2
        return FitProblem(pose, translation, uv_norm, weights)

    def update(self, stamp: float, source_rel: np.ndarray, uv_norm: np.ndarray, confidence: np.ndarray,
               focal_px: float) -> Fitted | None:
        """One frame of one person (arguments as :meth:`prepare`), fitted."""
        problem = self.prepare(stamp, source_rel, uv_norm, confidence, focal_px)
        return None if problem is None else solve([problem], self.settings.limits)[0]
