"""Robust multi-view triangulation on synthetic calibrated cameras."""
from __future__ import annotations

import numpy as np

from pose3d_ros.calibration import CalibratedCamera
from pose3d_ros.geometry import CameraIntrinsics, normalize_with_intrinsics, project
from pose3d_ros.triangulation import epipolar_distance, triangulate


def _look_at(centre, target=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World -> optical-frame rotation of a camera at ``centre`` looking at ``target`` (world z up)."""
    z = np.asarray(target, float) - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def _rig(n: int = 4) -> list[CalibratedCamera]:
    cams = []
    for k in range(n):
        angle = 2 * np.pi * k / n + 0.3
        centre = np.array([4 * np.cos(angle), 4 * np.sin(angle), 1.8])
        rot = _look_at(centre)
        intr = CameraIntrinsics(900.0 + 20 * k, 905.0, 330.0, 245.0, 640, 480, (-0.05 * k, 0.01, 0.001, -0.001, 0.0))
        cams.append(CalibratedCamera(f"cam{k}", intr, rot, -rot @ centre))
    return cams


def test_exact_views_recover_points_and_outlier_view_is_rejected():
    cams = _rig()
    rng = np.random.default_rng(0)
    points = rng.uniform([-0.5, -0.5, 0.2], [0.5, 0.5, 1.8], size=(3, 17, 3))
    keypoints = np.stack([c.project(points) for c in cams])  # (V, F, J, 2), distorted
    confidence = np.full(keypoints.shape[:-1], 0.9)
    keypoints[2, 1, 5] += (150.0, -80.0)  # view 2 is wrong about one joint of frame 1
    tri = triangulate(cams, keypoints, confidence, threshold_px=5.0)
    np.testing.assert_allclose(tri.points, points, atol=1e-6)
    assert np.nanmax(tri.errors) < 1e-4
    assert not tri.inliers[1, 5, 2]
    assert tri.inliers.sum() == tri.inliers.size - 1


def test_noisy_views_and_missing_observations():
    cams = _rig()
    rng = np.random.default_rng(1)
    points = rng.uniform([-0.5, -0.5, 0.2], [0.5, 0.5, 1.8], size=(5, 17, 3))
    keypoints = np.stack([c.project(points) for c in cams]) + rng.normal(0.0, 1.0, (4, 5, 17, 2))
    confidence = np.full(keypoints.shape[:-1], 0.9)
    confidence[1:, 0, 3] = 0.1  # joint 3 of frame 0: only one confident view
    keypoints[0, 2, 4] = np.nan  # a missing observation is ignored
    tri = triangulate(cams, keypoints, confidence, min_confidence=0.3, threshold_px=10.0)
    assert np.all(np.isnan(tri.points[0, 3])) and np.isnan(tri.errors[0, 3]) and not tri.inliers[0, 3].any()
    assert not tri.inliers[2, 4, 0]
    valid = np.isfinite(tri.points[..., 0])
    assert valid.sum() == valid.size - 1
    err = np.linalg.norm(tri.points - points, axis=-1)[valid]
    assert np.mean(err) < 0.01  # 1 px noise at 4 m: millimetres
    assert 0.3 < np.nanmean(tri.errors) < 2.0


def test_undistortion_inverts_projection():
    cam = _rig()[3]
    pts = np.array([[0.3, -0.2, 2.0], [-0.4, 0.25, 3.0]])
    xy = normalize_with_intrinsics(project(pts, cam.intrinsics), cam.intrinsics, np.float64)
    np.testing.assert_allclose(xy, pts[:, :2] / pts[:, 2:], atol=1e-6)


def test_epipolar_distance_zero_for_corresponding_points():
    cams = _rig()
    points = np.array([[0.1, 0.2, 1.0], [-0.3, 0.1, 1.5]])
    xy = [normalize_with_intrinsics(c.project(points), c.intrinsics, np.float64) for c in cams]
    np.testing.assert_allclose(epipolar_distance(cams[0], xy[0], cams[1], xy[1]), 0.0, atol=1e-6)
    assert np.all(epipolar_distance(cams[0], xy[0], cams[1], xy[1][::-1]) > 5.0)
