"""Multi-view triangulation of keypoints: confidence-weighted DLT with view-pair hypotheses
(RANSAC, exhaustive over the pairs for the few views of a rig), re-projection errors in pixels.

Points are undistorted first (geometry.normalize_with_intrinsics) and triangulated in focal-normalised
coordinates against each camera's [R | t], which keeps the DLT well conditioned.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .calibration import CalibratedCamera
from .geometry import normalize_with_intrinsics


def dlt(extrinsics: np.ndarray, xy: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted linear triangulation of one point: extrinsics (V, 3, 4) world -> camera, xy (V, 2)
    normalised image coordinates, weights (V,) >= 0 (at least two positive). Returns (3,)."""
    rows = np.concatenate([xy[:, :1] * extrinsics[:, 2] - extrinsics[:, 0],
                           xy[:, 1:] * extrinsics[:, 2] - extrinsics[:, 1]]) * np.tile(weights, 2)[:, None]
    _, _, vt = np.linalg.svd(rows)
    x = vt[-1]
    return x[:3] / x[3] if abs(x[3]) > 1e-12 else np.full(3, np.nan)


def reprojection_errors(extrinsics: np.ndarray, focal: np.ndarray, xy: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Pixel distance (V,) between each view's observation and the projection of ``point``
    (infinite behind a camera); focal (V, 2) scales normalised coordinates to pixels."""
    cam = extrinsics[:, :, :3] @ point + extrinsics[:, :, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.linalg.norm((cam[:, :2] / cam[:, 2:] - xy) * focal, axis=1)
    return np.where(cam[:, 2] > 0, err, np.inf)


@dataclass
class Triangulation:
    """Triangulated keypoints over frames: world points (F, J, 3) metres, NaN where fewer than two
    views agree; mean re-projection error of the inlier views (F, J) pixels, NaN likewise;
    inlier views (F, J, V)."""

    points: np.ndarray
    errors: np.ndarray
    inliers: np.ndarray


def triangulate_point(extrinsics: np.ndarray, focal: np.ndarray, xy: np.ndarray, weights: np.ndarray,
                      threshold_px: float) -> tuple[np.ndarray, float, np.ndarray]:
    """Robust triangulation of one point seen in V views: every pair of usable views (weight > 0)
    proposes a point; the one with the most views re-projecting within ``threshold_px`` wins
    (ties: the smaller summed error), and its inliers are triangulated again, weighted.
    Returns (point (3,), mean inlier error px, inlier mask (V,)); NaN and no inliers when no
    pair agrees."""
    usable = np.flatnonzero(weights > 0)
    best, best_key = None, (0, np.inf)
    for pair in combinations(usable, 2):
        idx = list(pair)
        candidate = dlt(extrinsics[idx], xy[idx], weights[idx])
        if not np.all(np.isfinite(candidate)):
            continue
        err = reprojection_errors(extrinsics, focal, xy, candidate)
        inl = (err < threshold_px) & (weights > 0)
        key = (int(inl.sum()), float(err[inl].sum()))
        if inl.sum() >= 2 and (key[0] > best_key[0] or (key[0] == best_key[0] and key[1] < best_key[1])):
            best, best_key = inl, key
    if best is None:
        return np.full(3, np.nan), float("nan"), np.zeros(len(xy), bool)
    point = dlt(extrinsics[best], xy[best], weights[best])
    err = reprojection_errors(extrinsics, focal, xy, point)
    inliers = best & (err < threshold_px)
    if inliers.sum() < 2:  # the weighted refit drifted off its own inliers: keep the pair's point
        inliers = best
        point = dlt(extrinsics[best], xy[best], np.ones(int(best.sum())))
        err = reprojection_errors(extrinsics, focal, xy, point)
    return point, float(err[inliers].mean()), inliers


def triangulate(cameras: list[CalibratedCamera], keypoints: np.ndarray, confidence: np.ndarray,
                min_confidence: float = 0.3, threshold_px: float = 20.0) -> Triangulation:
    """Triangulate keypoints (V, F, J, 2), distorted pixels of the V ``cameras``, with their
    confidences (V, F, J) as DLT weights; observations below ``min_confidence`` or not finite
    are ignored."""
    keypoints = np.asarray(keypoints, np.float64)
    confidence = np.where(np.all(np.isfinite(keypoints), axis=-1), np.nan_to_num(confidence), 0.0)
    weights = np.where(confidence >= min_confidence, confidence, 0.0)
    n_views, n_frames, n_joints = weights.shape
    xy = np.stack([normalize_with_intrinsics(np.nan_to_num(k), c.intrinsics, np.float64)
                   for c, k in zip(cameras, keypoints)])
    extrinsics = np.stack([np.hstack([c.rotation, c.translation[:, None]]) for c in cameras])
    focal = np.array([[c.intrinsics.fx, c.intrinsics.fy] for c in cameras])
    points = np.full((n_frames, n_joints, 3), np.nan)
    errors = np.full((n_frames, n_joints), np.nan)
    inliers = np.zeros((n_frames, n_joints, n_views), bool)
    for f in range(n_frames):
        for j in range(n_joints):
            points[f, j], errors[f, j], inliers[f, j] = triangulate_point(
                extrinsics, focal, xy[:, f, j], weights[:, f, j], threshold_px)
    return Triangulation(points, errors, inliers)


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def epipolar_distance(cam_a: CalibratedCamera, xy_a: np.ndarray, cam_b: CalibratedCamera,
                      xy_b: np.ndarray) -> np.ndarray:
    """Distance (...,) in camera b's pixels between b's observations and the epipolar lines of a's,
    both given as undistorted normalised coordinates (..., 2) (see ``geometry.normalize_with_intrinsics``)."""
    rotation = cam_b.rotation @ cam_a.rotation.T
    essential = _skew(cam_b.translation - rotation @ cam_a.translation) @ rotation
    a = np.concatenate([xy_a, np.ones(xy_a.shape[:-1] + (1,))], axis=-1)
    b = np.concatenate([xy_b, np.ones(xy_b.shape[:-1] + (1,))], axis=-1)
    lines = a @ essential.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs((lines * b).sum(-1)) / np.linalg.norm(lines[..., :2], axis=-1) * cam_b.intrinsics.fx
