"""Multi-camera calibration: per-camera intrinsics and world->camera extrinsics, read from a
Qualisys (QTM) ``.qca.txt`` XML export, and written out as a ROS camera calibration YAML.

Qualisys conventions, as Pose2Sim's converter reads them:

- ``fov_video`` left/top/right/bottom: the video's pixel window on the sensor (inclusive), so
  width = right - left + 1, height = bottom - top + 1;
- ``intrinsic`` focal lengths, principal point and distortion coefficients are in 1/64 units:
  fx = focalLengthU / 64, cx = centerPointU / 64 - left (likewise V, top); radialDistortion1..3
  and tangentalDistortion1..2 divided by 64 are the OpenCV k1, k2, k3, p1, p2;
- ``transform`` x, y, z: the camera centre in the world frame, millimetres; r11..r33 (matrix
  M, row i = r_i1 r_i2 r_i3) rotate world vectors into a camera frame whose y points up and
  z backwards, so the OpenCV/ROS optical frame (x right, y down, z forward) is
  R = diag(1, -1, -1) M, t = -R C.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .geometry import CameraIntrinsics, project

QUALISYS_SUBPIXELS = 64.0
_FLIP_YZ = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class CalibratedCamera:
    """One camera of a calibrated rig: X_cam = rotation @ X_world + translation (metres)."""

    name: str
    intrinsics: CameraIntrinsics
    rotation: np.ndarray  # (3, 3) world -> camera optical frame
    translation: np.ndarray  # (3,) metres

    @property
    def centre(self) -> np.ndarray:
        """The camera centre in the world frame, metres."""
        return -self.rotation.T @ self.translation

    @property
    def projection_matrix(self) -> np.ndarray:
        """P = K [R | t], (3, 4), for undistorted pixels."""
        return self.intrinsics.matrix @ np.hstack([self.rotation, self.translation[:, None]])

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> this camera's optical frame (..., 3)."""
        return np.asarray(points_world, np.float64) @ self.rotation.T + self.translation

    def to_world(self, points_cam: np.ndarray) -> np.ndarray:
        """This camera's optical-frame points (..., 3) -> the world frame (..., 3)."""
        return (np.asarray(points_cam, np.float64) - self.translation) @ self.rotation

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> distorted pixels (..., 2)."""
        return project(self.to_camera(points_world), self.intrinsics)


def _floats(element: ET.Element, *names: str) -> list[float]:
    try:
        return [float(element.attrib[n]) for n in names]
    except KeyError as exc:
        raise ValueError(f"<{element.tag}> has no attribute {exc}") from exc


def read_qualisys(path: str | Path) -> dict[str, CalibratedCamera]:
    """The active cameras of a Qualisys ``.qca.txt`` calibration by serial (e.g. ``cam01``),
    in file order. Raises ValueError naming what is missing."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f"{path}: not a readable Qualisys calibration ({exc})") from exc
    cameras: dict[str, CalibratedCamera] = {}
    for cam in root.iterfind("cameras/camera"):
        if cam.attrib.get("active", "1") != "1":
            continue
        name = cam.attrib.get("serial", f"cam{len(cameras) + 1:02d}")
        fov, intr, tf = cam.find("fov_video"), cam.find("intrinsic"), cam.find("transform")
        if fov is None or intr is None or tf is None:
            raise ValueError(f"{path}: camera {name} lacks fov_video, intrinsic or transform")
        left, top, right, bottom = _floats(fov, "left", "top", "right", "bottom")
        fu, fv, cu, cv = (x / QUALISYS_SUBPIXELS for x in _floats(
            intr, "focalLengthU", "focalLengthV", "centerPointU", "centerPointV"))
        k1, k2, k3, p1, p2 = (x / QUALISYS_SUBPIXELS for x in _floats(
            intr, "radialDistortion1", "radialDistortion2", "radialDistortion3",
            "tangentalDistortion1", "tangentalDistortion2"))
        intrinsics = CameraIntrinsics(fu, fv, cu - left, cv - top, int(right - left + 1), int(bottom - top + 1),
                                      (k1, k2, p1, p2, k3))
        m = np.array(_floats(tf, *(f"r{i}{j}" for i in (1, 2, 3) for j in (1, 2, 3)))).reshape(3, 3)
        centre = np.array(_floats(tf, "x", "y", "z")) / 1000.0
        rotation = _FLIP_YZ @ m
        cameras[name] = CalibratedCamera(name, intrinsics, rotation, -rotation @ centre)
    if not cameras:
        raise ValueError(f"{path}: no active camera in the Qualisys calibration")
    return cameras


def ros_calibration(camera: CalibratedCamera) -> dict:
    """The camera_info_manager YAML content (plumb_bob) for one camera's intrinsics; read back
    with ``CameraIntrinsics.from_yaml``."""
    cam = camera.intrinsics
    d = tuple(cam.distortion) + (0.0,) * (5 - len(cam.distortion))
    p = np.hstack([cam.matrix, np.zeros((3, 1))])
    return {
        "image_width": cam.width, "image_height": cam.height, "camera_name": camera.name,
        "camera_matrix": {"rows": 3, "cols": 3, "data": [float(x) for x in cam.matrix.ravel()]},
        "distortion_model": "plumb_bob",
        "distortion_coefficients": {"rows": 1, "cols": 5, "data": [float(x) for x in d[:5]]},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": [float(x) for x in np.eye(3).ravel()]},
        "projection_matrix": {"rows": 3, "cols": 4, "data": [float(x) for x in p.ravel()]},
    }


def write_ros_calibration(camera: CalibratedCamera, path: str | Path) -> Path:
    """Write ``ros_calibration(camera)`` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(yaml.safe_dump(ros_calibration(camera), sort_keys=False), encoding="utf-8")
    return path
