"""Camera geometry: intrinsics, projection, root translation, rotations."""
from __future__ import annotations

import math

import numpy as np
import pytest

from pose3d_ros.geometry import (
    CameraIntrinsics,
    body_frame_rotation,
    camera_up,
    level_rays,
    levelling_rotation,
    normalize_with_intrinsics,
    pitch_roll,
    project,
    quaternion_from_matrix,
    solve_root_translation,
)


def _rot(axis: str, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _matrix_from_quaternion(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _random_pose(rng: np.random.Generator, n: int = 17) -> np.ndarray:
    pose = rng.uniform(-0.8, 0.8, size=(n, 3))
    pose[0] = 0.0
    return pose


# ---------------------------------------------------------------- intrinsics

def test_default_for_uses_60_degree_hfov():
    cam = CameraIntrinsics.default_for(640, 480)
    expected = 0.5 * 640 / math.tan(math.radians(30.0))
    assert cam.fx == pytest.approx(expected)
    assert cam.fy == pytest.approx(expected)
    assert (cam.cx, cam.cy, cam.width, cam.height) == (320.0, 240.0, 640, 480)
    assert cam.distortion == ()
    # a wider field of view gives a shorter focal length
    assert CameraIntrinsics.default_for(640, 480, hfov_deg=90.0).fx == pytest.approx(320.0)


def test_matrix_property():
    cam = CameraIntrinsics(500.0, 510.0, 320.0, 240.0, 640, 480)
    np.testing.assert_array_equal(cam.matrix, [[500, 0, 320], [0, 510, 240], [0, 0, 1]])


CALIBRATION_YAML = """\
image_width: 1280
image_height: 720
camera_name: test_cam
camera_matrix:
  rows: 3
  cols: 3
  data: [900.5, 0.0, 641.2, 0.0, 905.0, 359.8, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.1, -0.05, 0.001, 0.002, 0.0]
"""


def test_from_yaml_reads_ros_calibration(tmp_path):
    path = tmp_path / "cam.yaml"
    path.write_text(CALIBRATION_YAML)
    cam = CameraIntrinsics.from_yaml(path)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (900.5, 905.0, 641.2, 359.8)
    assert (cam.width, cam.height) == (1280, 720)
    assert cam.distortion == (0.1, -0.05, 0.001, 0.002, 0.0)


def test_from_yaml_without_distortion(tmp_path):
    path = tmp_path / "cam.yaml"
    path.write_text("image_width: 64\nimage_height: 48\ncamera_matrix: {data: [50, 0, 32, 0, 51, 24, 0, 0, 1]}\n")
    cam = CameraIntrinsics.from_yaml(path)
    assert cam.distortion == ()
    assert (cam.fx, cam.fy, cam.width) == (50.0, 51.0, 64)


@pytest.mark.parametrize("text", [
    "image_width: 640\nimage_height: 480\n",                        # no camera_matrix
    "image_width: 640\ncamera_matrix: {data: [1, 0, 2, 0, 3, 4, 0, 0, 1]}\n",  # no image_height
    "image_width: 640\nimage_height: 480\ncamera_matrix: {data: [1, 0]}\n",   # short matrix
    "",                                                             # empty file
    "just a string\n",
    "image_width: [640\n  : : bad yaml\n",                          # not YAML at all
    "image_width: 64\nimage_height: 48\ncamera_matrix: {data: [50, 0, 32, 0, 51, 24, 0, 0, 1]}\n"
    "distortion_coefficients: null\n",
    "image_width: 64\nimage_height: 48\ncamera_matrix: {data: [fx, 0, 32, 0, 51, 24, 0, 0, 1]}\n",
])
def test_from_yaml_malformed_raises_value_error_naming_file(tmp_path, text):
    path = tmp_path / "broken_calibration.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="broken_calibration.yaml"):
        CameraIntrinsics.from_yaml(path)


def test_scaled_to_halves_everything():
    cam = CameraIntrinsics(800.0, 820.0, 330.0, 250.0, 640, 480, (0.1, 0.2))
    half = cam.scaled_to(320, 240)
    assert (half.fx, half.fy, half.cx, half.cy) == (400.0, 410.0, 165.0, 125.0)
    assert (half.width, half.height) == (320, 240)
    assert half.distortion == (0.1, 0.2)
    # normalised coordinates of the same scene point agree at both resolutions
    uv = np.array([[100.0, 60.0]])
    np.testing.assert_allclose(normalize_with_intrinsics(uv, cam),
                               normalize_with_intrinsics(uv / 2, half), atol=1e-6)


# ---------------------------------------------------------------- projection

def test_normalize_with_intrinsics():
    cam = CameraIntrinsics(500.0, 400.0, 320.0, 240.0, 640, 480)
    uv = np.array([[320.0, 240.0], [820.0, 640.0], [70.0, 40.0]])
    np.testing.assert_allclose(normalize_with_intrinsics(uv, cam), [[0, 0], [1, 1], [-0.5, -0.5]])
    batch = np.broadcast_to(uv, (4, 3, 3, 2))
    assert normalize_with_intrinsics(batch, cam).shape == (4, 3, 3, 2)


def test_project_pinhole_exact():
    cam = CameraIntrinsics(500.0, 450.0, 320.0, 240.0, 640, 480)
    pts = np.array([[0.0, 0.0, 2.0], [1.0, -0.5, 2.0], [-0.3, 0.6, 3.0]])
    expected = np.array([[320.0, 240.0], [570.0, 127.5], [270.0, 330.0]])
    np.testing.assert_allclose(project(pts, cam), expected)
    # inverse of normalize_with_intrinsics
    np.testing.assert_allclose(normalize_with_intrinsics(project(pts, cam), cam), pts[:, :2] / pts[:, 2:], atol=1e-6)


def test_project_with_distortion_differs_off_axis_only():
    cam = CameraIntrinsics(500.0, 500.0, 320.0, 240.0, 640, 480, (0.2,))
    undistorted = CameraIntrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
    pts = np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 2.0]])
    d, u = project(pts, cam), project(pts, undistorted)
    np.testing.assert_allclose(d[0], u[0])
    # x = 0.5, r2 = 0.25: radial factor 1 + 0.2 * 0.25 = 1.05
    assert d[1, 0] == pytest.approx(320 + 500 * 0.5 * 1.05)


# ---------------------------------------------------------------- root translation

def test_solve_root_translation_exact():
    rng = np.random.default_rng(0)
    pose = _random_pose(rng)
    t = np.array([0.3, -0.2, 4.0])
    cam_pts = pose + t
    uv_norm = cam_pts[:, :2] / cam_pts[:, 2:]
    np.testing.assert_allclose(solve_root_translation(pose, uv_norm), t, atol=1e-6)


def test_solve_root_translation_ignores_zero_weight_outliers():
    rng = np.random.default_rng(1)
    pose = _random_pose(rng)
    t = np.array([-0.7, 0.4, 5.5])
    cam_pts = pose + t
    uv_norm = cam_pts[:, :2] / cam_pts[:, 2:]
    corrupted = uv_norm.copy()
    bad = [2, 5, 11, 16]
    corrupted[bad] += rng.uniform(0.3, 1.0, size=(len(bad), 2))
    weights = np.ones(len(pose))
    weights[bad] = 0.0
    # without weights the corruption matters; with zero weights it is ignored
    assert np.linalg.norm(solve_root_translation(pose, corrupted) - t) > 1e-2
    np.testing.assert_allclose(solve_root_translation(pose, corrupted, weights), t, atol=1e-6)


# ---------------------------------------------------------------- rotations

@pytest.mark.parametrize("rot, expected", [
    (np.eye(3), [0, 0, 0, 1]),                                         # trace > 0 branch
    (_rot("x", math.pi), [1, 0, 0, 0]),                                # m00 largest
    (_rot("y", math.pi), [0, 1, 0, 0]),                                # m11 largest
    (_rot("z", math.pi), [0, 0, 1, 0]),                                # m22 largest
    (_rot("z", math.pi / 2), [0, 0, math.sqrt(0.5), math.sqrt(0.5)]),
    (_rot("x", math.pi / 3), [0.5, 0, 0, math.sqrt(3) / 2]),
])
def test_quaternion_known_rotations(rot, expected):
    q = quaternion_from_matrix(rot)
    # q and -q are the same rotation
    if np.dot(q, expected) < 0:
        q = -q
    np.testing.assert_allclose(q, expected, atol=1e-12)
    assert np.linalg.norm(q) == pytest.approx(1.0)


@pytest.mark.parametrize("rot", [
    _rot("x", 0.4) @ _rot("y", -1.1) @ _rot("z", 2.3),                 # generic
    _rot("x", math.pi - 0.05) @ _rot("y", 0.02),                       # near 180 deg about x
    _rot("y", math.pi - 0.05) @ _rot("z", 0.03),                       # near 180 deg about y
    _rot("z", math.pi - 0.05) @ _rot("x", 0.04),                       # near 180 deg about z
    _rot("x", 2.5) @ _rot("z", 2.0),
])
def test_quaternion_round_trip(rot):
    q = quaternion_from_matrix(rot)
    assert np.linalg.norm(q) == pytest.approx(1.0)
    np.testing.assert_allclose(_matrix_from_quaternion(q), rot, atol=1e-10)


def test_body_frame_rotation_axes():
    rng = np.random.default_rng(2)
    pose = rng.normal(size=(17, 3))
    pelvis, left_hip, right_hip, thorax = 0, 4, 1, 8
    rot = body_frame_rotation(pose, left_hip, right_hip, thorax, pelvis)
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    up = pose[thorax] - pose[pelvis]
    np.testing.assert_allclose(rot[:, 2], up / np.linalg.norm(up), atol=1e-12)
    # y points towards the left hip
    assert np.dot(rot[:, 1], pose[left_hip] - pose[right_hip]) > 0


def test_body_frame_rotation_upright_person():
    # camera optical frame: y is down. Person standing, facing the camera, 3 m away.
    pose = np.zeros((17, 3))
    pose[:, 2] = 3.0
    pose[8] = [0.0, -0.5, 3.0]      # thorax above pelvis
    pose[4] = [0.1, 0.0, 3.0]       # left hip on the image right (person faces the camera)
    pose[1] = [-0.1, 0.0, 3.0]
    rot = body_frame_rotation(pose, 4, 1, 8)
    np.testing.assert_allclose(rot[:, 2], [0, -1, 0], atol=1e-12)   # up
    np.testing.assert_allclose(rot[:, 1], [1, 0, 0], atol=1e-12)    # left
    np.testing.assert_allclose(rot[:, 0], [0, 0, -1], atol=1e-12)   # forward: towards the camera


def test_body_frame_rotation_degenerate_hips():
    pose = np.zeros((17, 3))
    pose[8] = [0.0, -0.5, 0.0]
    rot = body_frame_rotation(pose, 4, 1, 8)      # hips coincide
    assert np.all(np.isfinite(rot))
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)


def test_undistortion_matches_opencv_and_inverts_project():
    import cv2

    cam = CameraIntrinsics(900.0, 880.0, 650.0, 350.0, 1280, 720, (-0.28, 0.09, 0.001, -0.0015, -0.01))
    rng = np.random.default_rng(0)
    uv = rng.uniform([0, 0], [1280, 720], (200, 2)).astype(np.float32)
    ours = normalize_with_intrinsics(uv, cam)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
    theirs = cv2.undistortPointsIter(uv[:, None, :], cam.matrix, np.array(cam.distortion), None, None, criteria)[:, 0]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    points = np.concatenate([ours, np.ones((200, 1), np.float32)], axis=-1) * 3.0
    np.testing.assert_allclose(project(points, cam), uv, atol=0.05)


def test_without_distortion_normalisation_is_the_plain_formula():
    cam = CameraIntrinsics(500.0, 500.0, 320.0, 240.0, 640, 480, (0.0,) * 5)
    np.testing.assert_allclose(normalize_with_intrinsics(np.array([[820.0, 240.0]]), cam), [[1.0, 0.0]])


@pytest.mark.parametrize("pitch, roll", [(0.0, 0.0), (22.5, -13.4), (-30.0, 5.0), (60.0, 170.0)])
def test_the_level_frame_turns_up_to_minus_y_and_keeps_the_heading(pitch, roll):
    up = camera_up(pitch, roll)
    np.testing.assert_allclose(pitch_roll(up), (pitch, roll), atol=1e-9)
    level = levelling_rotation(up)
    np.testing.assert_allclose(level @ level.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(level) == pytest.approx(1.0)
    np.testing.assert_allclose(level @ up, [0.0, -1.0, 0.0], atol=1e-12)
    # The optical axis only turns in the level frame's vertical plane, by the pitch.
    axis = level @ [0.0, 0.0, 1.0]
    np.testing.assert_allclose(axis, [0.0, math.sin(math.radians(pitch)), math.cos(math.radians(pitch))], atol=1e-12)


def test_a_camera_looking_down_sees_a_standing_body_tilted_and_the_level_frame_straightens_it():
    up = camera_up(20.0)  # looking 20 degrees down: the world's up leans towards the camera
    np.testing.assert_allclose(up, [0.0, -math.cos(math.radians(20)), -math.sin(math.radians(20))])
    level = levelling_rotation(up)
    feet, head = np.array([0.0, 0.9, 4.0]), np.array([0.0, 0.9, 4.0]) + 1.7 * up
    np.testing.assert_allclose(level @ (head - feet), [0.0, -1.7, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="straight"):
        levelling_rotation([0.0, 0.0, -1.0])
    with pytest.raises(ValueError, match="finite"):
        levelling_rotation([0.0, 0.0, 0.0])


def test_level_rays_are_the_images_of_the_turned_points():
    rng = np.random.default_rng(0)
    points = rng.uniform([-1, -1, 3], [1, 1, 6], size=(20, 3))
    level = levelling_rotation(camera_up(25.0, 10.0))
    turned = points @ level.T
    got = level_rays(points[:, :2] / points[:, 2:], level)
    np.testing.assert_allclose(got, turned[:, :2] / turned[:, 2:], atol=1e-12)
    behind = level_rays(np.array([[0.0, -100.0]]), levelling_rotation(camera_up(-60.0)))
    assert np.isfinite(behind).all()  # clamped at the new image plane's edge, not flipped through infinity
