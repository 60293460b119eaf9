"""Qualisys calibration reader against a camera computed by hand, and the ROS YAML it writes."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.calibration import read_qualisys, write_ros_calibration
from pose3d_ros.geometry import CameraIntrinsics

# Sensor window x 10..649, y 20..499 (640x480); fx = 32000/64 = 500, fy = 32640/64 = 510,
# principal point (21120/64 - 10, 16640/64 - 20) = (320, 240); k1 = 6.4/64 = 0.1, p2 = 0.064/64 = 0.001.
# Centre (0, -5, 1) m looking along world +y, level, world z up: optical x = world x,
# optical y = -world z, optical z = world y; Qualisys stores diag(1, -1, -1) times that rotation.
QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration type="regular">
  <cameras>
    <camera active="1" serial="camA">
      <fov_video left="10" top="20" right="649" bottom="499"/>
      <transform x="0" y="-5000" z="1000" r11="1" r12="0" r13="0" r21="0" r22="0" r23="1"
                 r31="0" r32="-1" r33="0"/>
      <intrinsic focalLengthU="32000" focalLengthV="32640" centerPointU="21120" centerPointV="16640"
                 radialDistortion1="6.4" radialDistortion2="0" radialDistortion3="0"
                 tangentalDistortion1="0" tangentalDistortion2="0.064"/>
    </camera>
    <camera active="0" serial="camOff">
      <fov_video left="0" top="0" right="9" bottom="9"/>
    </camera>
  </cameras>
</calibration>
"""


@pytest.fixture
def camera(tmp_path):
    path = tmp_path / "calib.qca.txt"
    path.write_text(QCA)
    cameras = read_qualisys(path)
    assert list(cameras) == ["camA"]  # the inactive camera is skipped
    return cameras["camA"]


def test_intrinsics_hand_computed(camera):
    cam = camera.intrinsics
    assert (cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height) == pytest.approx((500, 510, 320, 240, 640, 480))
    assert cam.distortion == pytest.approx((0.1, 0.0, 0.0, 0.001, 0.0))


def test_extrinsics_hand_computed(camera):
    np.testing.assert_allclose(camera.rotation, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(camera.centre, [0.0, -5.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(camera.translation, [0.0, 1.0, 5.0], atol=1e-12)
    # A point 0.5 m right of and 0.5 m above the optical axis, 5 m ahead.
    point = np.array([0.5, 0.0, 1.5])
    np.testing.assert_allclose(camera.to_camera(point), [0.5, -0.5, 5.0], atol=1e-12)
    np.testing.assert_allclose(camera.to_world(camera.to_camera(point)), point, atol=1e-12)
    # Normalised (0.1, -0.1), r^2 = 0.02: radial 1 + 0.1 * 0.02; tangential p2: dx = p2 (r^2 + 2 x^2)
    # = 0.001 * 0.04, dy = 2 p2 x y = -0.00002.
    x, y = 0.1 * 1.002 + 0.00004, -0.1 * 1.002 - 0.00002
    np.testing.assert_allclose(camera.project(point), [320 + 500 * x, 240 + 510 * y], atol=1e-9)
    # The undistorted projection matrix maps the point to the pinhole pixel.
    h = camera.projection_matrix @ np.append(point, 1.0)
    np.testing.assert_allclose(h[:2] / h[2], [370.0, 189.0], atol=1e-9)


def test_ros_yaml_round_trip(camera, tmp_path):
    read = CameraIntrinsics.from_yaml(write_ros_calibration(camera, tmp_path / "camA.yaml"))
    assert read == camera.intrinsics


def test_bad_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.qca.txt"
    path.write_text("<calibration><cameras><camera serial='x'><fov_video left='0'/></camera></cameras></calibration>")
    with pytest.raises(ValueError, match="camera x lacks"):
        read_qualisys(path)
    path.write_text("not xml")
    with pytest.raises(ValueError, match="not a readable Qualisys calibration"):
        read_qualisys(path)
