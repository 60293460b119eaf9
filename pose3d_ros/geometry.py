"""Camera geometry: intrinsics, projection, input normalisation and metric root recovery.

Conventions: pixel coordinates (u, v) with the origin at the top-left corner;
camera coordinates in the ROS optical frame (x right, y down, z forward), metres.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from . import lens

DEFAULT_HFOV_DEG = 60.0


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics with optional lens distortion: CameraInfo's ``d`` in the order of its
    ``distortion_model`` (:mod:`pose3d_ros.lens`: plumb_bob k1, k2, p1, p2, k3;
    rational_polynomial; equidistant). Refuses a model it cannot undo."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...] = field(default=())
    distortion_model: str = "plumb_bob"

    def __post_init__(self) -> None:
        object.__setattr__(self, "distortion_model", lens.checked(self.distortion_model, self.distortion))

    @classmethod
    def default_for(cls, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG) -> "CameraIntrinsics":
        """Documented fallback when no calibration exists: square pixels, centred principal
        point, focal length from a horizontal field of view (60 degrees by default)."""
        f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(f, f, width / 2.0, height / 2.0, int(width), int(height))

    @classmethod
    def from_yaml(cls, path: str | Path) -> "CameraIntrinsics":
        """Read a ROS camera_info_manager calibration file (image_width, camera_matrix, ...)."""
        with open(path, encoding="utf-8") as f:
            try:
                data = yaml.safe_load(f)
            except yaml.YAMLError as exc:
                raise ValueError(f"{path}: not valid YAML ({exc})") from exc
        try:
            k = data["camera_matrix"]["data"]
            dist = tuple(float(x) for x in data.get("distortion_coefficients", {}).get("data", []))
            return cls(float(k[0]), float(k[4]), float(k[2]), float(k[5]),
                       int(data["image_width"]), int(data["image_height"]), dist, data.get("distortion_model") or "")
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"{path}: not a ROS camera calibration file ({exc!r})") from exc

    def scaled_to(self, width: int, height: int) -> "CameraIntrinsics":
        """The same camera at another image resolution (e.g. a resized video)."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy,
                                int(width), int(height), self.distortion, self.distortion_model)

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def normalize_with_intrinsics(uv: np.ndarray, cam: CameraIntrinsics, dtype: type = np.float32) -> np.ndarray:
    """Pixels -> focal-normalised image coordinates ((u - cx) / fx, (v - cy) / fy), with the
    lens distortion removed when the camera has any (:func:`pose3d_ros.lens.undistort`), in ``dtype``
    (float32, the lifters' input; float64 for triangulation).

    The lifters take this input so that one model serves any camera: the 3D pose that
    explains such coordinates does not depend on the focal length or resolution."""
    uv = np.asarray(uv, dtype=dtype)
    xy = np.stack([(uv[..., 0] - cam.cx) / cam.fx, (uv[..., 1] - cam.cy) / cam.fy], axis=-1)
    return lens.undistort(xy, cam.distortion_model, cam.distortion) if any(cam.distortion) else xy


def normalize_screen(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """VideoPose3D screen normalisation: [0, w] -> [-1, 1], aspect ratio kept (for data without intrinsics)."""
    uv = np.asarray(uv, dtype=np.float32)
    return uv / width * 2.0 - np.array([1.0, height / width], dtype=np.float32)


def world_to_camera(points: np.ndarray, rotation: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """X_cam = R (X_world - C), with R world-to-camera and C the camera centre."""
    return (np.asarray(points) - np.asarray(centre)) @ np.asarray(rotation).T


def camera_up(pitch_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    """The world's up direction in the optical frame of a camera pitched down by ``pitch_deg``
    (negative: looking up) and then rolled by ``roll_deg`` about its optical axis (positive: the
    image's right side dips, the camera turned clockwise seen from behind)."""
    p, r = math.radians(pitch_deg), math.radians(roll_deg)
    return np.array([-math.sin(r) * math.cos(p), -math.cos(r) * math.cos(p), -math.sin(p)])


def pitch_roll(up: np.ndarray) -> tuple[float, float]:
    """(pitch, roll) in degrees of a camera whose optical frame sees the world's up direction as
    ``up``: the inverse of :func:`camera_up`."""
    x, y, z = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    return math.degrees(math.asin(-z)), math.degrees(math.atan2(-x, -y))


def levelling_rotation(up: np.ndarray) -> np.ndarray:
    """The rotation L (3, 3) from a camera's optical frame to its level frame: the same centre
    and heading, y pointing down along gravity, z horizontal (``L @ x_cam``). ``up``: the
    world's up direction in the camera's optical frame (a level camera's is (0, -1, 0))."""
    up = np.asarray(up, dtype=np.float64)
    norm = np.linalg.norm(up)
    if not np.isfinite(norm) or norm == 0:
        raise ValueError(f"the camera's up direction must be a finite non-zero vector, not {up.tolist()}")
    down = -up / norm
    ahead = np.array([0.0, 0.0, 1.0]) - down[2] * down  # the optical axis made horizontal
    if np.linalg.norm(ahead) < 1e-3:
        raise ValueError("a camera looking straight up or down has no level frame")
    ahead /= np.linalg.norm(ahead)
    return np.stack([np.cross(down, ahead), down, ahead])


def level_rays(uv: np.ndarray, rotation: np.ndarray, min_depth: float = 0.1) -> np.ndarray:
    """Focal-normalised 2D (..., 2) of one camera -> the same rays in another camera at the same
    centre (``rotation``: its frame from the first's, e.g. :func:`levelling_rotation`). Rays
    reaching the new image plane at a depth below ``min_depth`` (more than about 84 degrees
    off its axis, or behind it) are clamped there."""
    rays = np.concatenate([uv, np.ones_like(uv[..., :1])], axis=-1) @ np.asarray(rotation).T
    return rays[..., :2] / np.maximum(rays[..., 2:], min_depth)


def project(points_cam: np.ndarray, cam: CameraIntrinsics) -> np.ndarray:
    """Camera-frame points (..., 3) -> pixels (..., 2), with the camera's lens distortion if any."""
    xy = points_cam[..., :2] / np.clip(points_cam[..., 2:3], 1e-6, None)
    if any(cam.distortion):
        xy = lens.distort(xy, cam.distortion_model, cam.distortion)
    return xy * np.array([cam.fx, cam.fy]) + np.array([cam.cx, cam.cy])


def solve_root_translation(pose_rel: np.ndarray, uv_norm: np.ndarray,
                           weights: np.ndarray | None = None) -> np.ndarray:
    """Camera-frame translation t such that pose_rel + t projects onto uv_norm.

    pose_rel: (J, 3) root-relative pose in metres; uv_norm: (J, 2) focal-normalised image
    coordinates; weights: (J,) per-joint confidence. Linear least squares on
    x_j (Z_j + tz) = X_j + tx and y_j (Z_j + tz) = Y_j + ty.
    """
    pose_rel = np.asarray(pose_rel, dtype=np.float64)
    uv_norm = np.asarray(uv_norm, dtype=np.float64)
    w = np.ones(len(pose_rel)) if weights is None else np.sqrt(np.clip(np.asarray(weights, float), 0, None))
    n = len(pose_rel)
    a = np.zeros((2 * n, 3))
    b = np.zeros(2 * n)
    a[0::2, 0] = 1.0
    a[0::2, 2] = -uv_norm[:, 0]
    b[0::2] = uv_norm[:, 0] * pose_rel[:, 2] - pose_rel[:, 0]
    a[1::2, 1] = 1.0
    a[1::2, 2] = -uv_norm[:, 1]
    b[1::2] = uv_norm[:, 1] * pose_rel[:, 2] - pose_rel[:, 1]
    ww = np.repeat(w, 2)
    t, *_ = np.linalg.lstsq(a * ww[:, None], b * ww, rcond=None)
    return t


def quaternion_from_matrix(rot: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> unit quaternion (x, y, z, w), the geometry_msgs order."""
    m = np.asarray(rot, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * math.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.array(q)
    return q / np.linalg.norm(q)


def body_frame_rotation(pose: np.ndarray, left_hip: int, right_hip: int, thorax: int,
                        pelvis: int = 0) -> np.ndarray:
    """REP-155-style body frame at the pelvis, expressed in the camera frame.

    Columns are the body's x (forward), y (left) and z (up) axes: z from pelvis to thorax,
    y from the right hip to the left hip made orthogonal to z, x = y cross z."""
    z = pose[thorax] - pose[pelvis]
    y = pose[left_hip] - pose[right_hip]
    z = z / max(np.linalg.norm(z), 1e-9)
    y = y - np.dot(y, z) * z
    if np.linalg.norm(y) < 1e-9:
        y = np.cross(z, [0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.cross(z, [1.0, 0.0, 0.0])
    y = y / np.linalg.norm(y)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)
