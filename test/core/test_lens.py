"""Lens distortion models of CameraInfo against OpenCV, and what is refused."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from pose3d_ros import lens
from pose3d_ros.geometry import CameraIntrinsics, normalize_with_intrinsics, project
from pose3d_ros.nodes.camera_msgs import camera_info_msg, intrinsics_from_msg

# A rational model whose k1 and k4 nearly cancel, as stereo-camera drivers publish them, with thin prism.
RATIONAL = (-4.2, 13.5, 3e-4, -2e-4, 3.1, -4.3, 13.6, 3.0, 1e-3, -5e-4, 8e-4, -2e-4)
FISHEYE = (0.02, -0.01, 3e-3, -5e-4)


@pytest.fixture
def pixels() -> np.ndarray:
    return np.random.default_rng(0).uniform([0, 0], [1280, 720], (300, 2)).astype(np.float64)


def test_rational_polynomial_undistorts_and_projects_as_opencv(pixels):
    cam = CameraIntrinsics(700.0, 690.0, 640.0, 360.0, 1280, 720, RATIONAL, "rational_polynomial")
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    theirs = cv2.undistortPointsIter(pixels[:, None], cam.matrix, np.array(RATIONAL), None, None, criteria)[:, 0]
    ours = normalize_with_intrinsics(pixels, cam, np.float64)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    pinhole = CameraIntrinsics(700.0, 690.0, 640.0, 360.0, 1280, 720)
    assert np.abs(ours - normalize_with_intrinsics(pixels, pinhole, np.float64)).max() > 1e-3  # the lens matters
    points = np.concatenate([ours, np.ones((len(ours), 1))], axis=-1) * 2.5
    expected = cv2.projectPoints(points, np.zeros(3), np.zeros(3), cam.matrix, np.array(RATIONAL))[0][:, 0]
    np.testing.assert_allclose(project(points, cam), expected, atol=1e-6)
    np.testing.assert_allclose(project(points, cam), pixels, atol=1e-4)


def test_equidistant_undistorts_and_projects_as_opencv_fisheye(pixels):
    cam = CameraIntrinsics(600.0, 600.0, 640.0, 360.0, 1280, 720, FISHEYE, "equidistant")
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    theirs = cv2.fisheye.undistortPoints(pixels[:, None], cam.matrix, np.array(FISHEYE), criteria=criteria)[:, 0]
    ours = normalize_with_intrinsics(pixels, cam, np.float64)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    # Far off the axis a fisheye bends rays much more than a pinhole: the corner lies 70 degrees off.
    corner = normalize_with_intrinsics(np.array([[0.0, 0.0]]), cam, np.float64)
    assert math.degrees(math.atan(np.linalg.norm(corner))) > 65
    points = np.concatenate([ours, np.ones((len(ours), 1))], axis=-1) * 2.5
    expected = cv2.fisheye.projectPoints(points[:, None], np.zeros(3), np.zeros(3), cam.matrix, np.array(FISHEYE))[0]
    np.testing.assert_allclose(project(points, cam), expected[:, 0], atol=1e-6)


@pytest.mark.parametrize("model, coefficients", [("plumb_bob", (-0.28, 0.09, 1e-3, -1.5e-3, -0.01)),
                                                 ("plumb_bob", (0.1, -0.02)),
                                                 ("rational_polynomial", RATIONAL[:8]),
                                                 ("rational_polynomial", RATIONAL + (0.0, 0.0)),
                                                 ("equidistant", FISHEYE)])
def test_undistort_inverts_distort(model, coefficients):
    xy = np.random.default_rng(1).uniform(-0.8, 0.8, (200, 2))
    np.testing.assert_allclose(lens.undistort(lens.distort(xy, model, coefficients), model, coefficients), xy,
                               atol=1e-9)


@pytest.mark.parametrize("model, coefficients, message", [
    ("kannala_brandt", (0.1,), "'kannala_brandt' is not supported"),
    ("plumb_bob", (0.1,) * 6, "at most 5 coefficients"),
    ("equidistant", (0.1,) * 5, "at most 4 coefficients"),
    ("rational_polynomial", (0.0,) * 12 + (0.01, 0.0), "tilted sensor"),
    ("plumb_bob", (0.1, math.inf), "non-finite"),
])
def test_distortion_it_cannot_undo_is_refused(model, coefficients, message):
    with pytest.raises(ValueError, match=message):
        CameraIntrinsics(500.0, 500.0, 320.0, 240.0, 640, 480, coefficients, model)


def test_trailing_zero_coefficients_are_accepted():
    padded = CameraIntrinsics(500.0, 500.0, 320.0, 240.0, 640, 480, (0.1, -0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
    plain = CameraIntrinsics(500.0, 500.0, 320.0, 240.0, 640, 480, (0.1, -0.02))
    uv = np.array([[10.0, 20.0], [600.0, 400.0]])
    np.testing.assert_array_equal(normalize_with_intrinsics(uv, padded), normalize_with_intrinsics(uv, plain))


def test_camera_info_carries_its_model_both_ways():
    cam = CameraIntrinsics(700.0, 690.0, 640.0, 360.0, 1280, 720, RATIONAL, "rational_polynomial")
    msg = camera_info_msg(cam, Header(frame_id="cam"))
    assert msg.distortion_model == "rational_polynomial"
    assert intrinsics_from_msg(msg) == cam
    legacy = CameraInfo(width=640, height=480, k=[500.0, 0, 320, 0, 500, 240, 0, 0, 1], d=[0.1, 0.0, 0.0, 0.0, 0.0])
    assert intrinsics_from_msg(legacy).distortion_model == "plumb_bob"  # an empty model name
    legacy.distortion_model, legacy.d = "equidistant", [0.1, 0.0, 0.0, 0.0, 0.01]
    with pytest.raises(ValueError, match="CameraInfo on frame '': distortion model 'equidistant' takes at most 4"):
        intrinsics_from_msg(legacy)


def test_calibration_file_gives_its_model(tmp_path):
    path = tmp_path / "fisheye.yaml"
    path.write_text("image_width: 1280\nimage_height: 720\ncamera_matrix: {rows: 3, cols: 3, data: "
                    "[400, 0, 640, 0, 400, 360, 0, 0, 1]}\ndistortion_model: equidistant\n"
                    "distortion_coefficients: {rows: 1, cols: 4, data: [0.02, -0.01, 0.003, -0.0005]}\n")
    cam = CameraIntrinsics.from_yaml(path)
    assert cam.distortion_model == "equidistant" and cam.scaled_to(640, 360).distortion_model == "equidistant"
    path.write_text(path.read_text().replace("equidistant", "fov"))
    with pytest.raises(ValueError, match="'fov' is not supported"):
        CameraIntrinsics.from_yaml(path)
