"""Preview frames for people without RViz: the 2D overlay beside a 3D view of the skeletons."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .skeleton import H36M17

LEFT_BGR, RIGHT_BGR, CENTRE_BGR = (255, 128, 0), (0, 64, 255), (40, 200, 40)
BACKGROUND_BGR = (32, 32, 32)
GRID_BGR = (80, 80, 80)
VIEW_SPAN_M = 2.4


def _bone_colour(child: int) -> tuple[int, int, int]:
    if child in H36M17.joints_left:
        return LEFT_BGR
    return RIGHT_BGR if child in H36M17.joints_right else CENTRE_BGR


def draw_keypoints(bgr: np.ndarray, keypoints: np.ndarray, confidence: np.ndarray,
                   min_confidence: float = 0.3) -> None:
    """Draw one H36M-17 skeleton (pixels) in place; low-confidence joints are skipped."""
    scale = max(1, round(bgr.shape[1] / 640))
    for child, parent in H36M17.bones:
        if min(confidence[child], confidence[parent]) >= min_confidence:
            a, b = (tuple(int(round(v)) for v in keypoints[j]) for j in (child, parent))
            cv2.line(bgr, a, b, _bone_colour(child), 2 * scale, cv2.LINE_AA)
    for j, (u, v) in enumerate(keypoints):
        if confidence[j] >= min_confidence:
            cv2.circle(bgr, (int(round(u)), int(round(v))), 3 * scale, (255, 255, 255), -1, cv2.LINE_AA)


def view_rotation(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rotation from the camera optical frame (x right, y down, z forward) to a virtual
    viewer orbiting the scene about the vertical axis, looking slightly down."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    yaw = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
    pitch = np.array([[1, 0, 0], [0, math.cos(e), math.sin(e)], [0, -math.sin(e), math.cos(e)]])
    return pitch @ yaw


def render_3d(skeletons: list[np.ndarray], size: int, azimuth_deg: float = 45.0,
              elevation_deg: float = 15.0) -> np.ndarray:
    """Orthographic view of 3D skeletons (camera frame, metres), centred on their mean root."""
    panel = np.full((size, size, 3), BACKGROUND_BGR, dtype=np.uint8)
    rot = view_rotation(azimuth_deg, elevation_deg)
    centre = np.mean([s[0] for s in skeletons], axis=0) if skeletons else np.zeros(3)
    px_per_m = size / VIEW_SPAN_M

    def to_px(points: np.ndarray) -> np.ndarray:
        p = (points - centre) @ rot.T
        return np.stack([size / 2 + p[..., 0] * px_per_m, size / 2 + p[..., 1] * px_per_m], axis=-1)

    floor_y = max((s[:, 1].max() for s in skeletons), default=0.9)
    for g in np.linspace(-1.0, 1.0, 5):
        for line in (np.array([[g, floor_y, -1.0], [g, floor_y, 1.0]]),
                     np.array([[-1.0, floor_y, g], [1.0, floor_y, g]])):
            a, b = to_px(line + [centre[0], 0, centre[2]]).astype(int)
            cv2.line(panel, tuple(a), tuple(b), GRID_BGR, 1, cv2.LINE_AA)
    for skeleton in skeletons:
        uv = to_px(skeleton).astype(int)
        for child, parent in H36M17.bones:
            cv2.line(panel, tuple(uv[child]), tuple(uv[parent]), _bone_colour(child), 3, cv2.LINE_AA)
        for point in uv:
            cv2.circle(panel, tuple(point), 4, (255, 255, 255), -1, cv2.LINE_AA)
    cv2.putText(panel, f"3D, orbit {azimuth_deg:.0f} deg", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (220, 220, 220), 1, cv2.LINE_AA)
    return panel


def render_preview(bgr: np.ndarray, people_2d: list[tuple[np.ndarray, np.ndarray]],
                   skeletons: list[np.ndarray]) -> np.ndarray:
    """Image with 2D skeletons, and a square 3D panel of the same height on its right."""
    overlay = bgr.copy()
    for keypoints, confidence in people_2d:
        draw_keypoints(overlay, keypoints, confidence)
    return np.hstack([overlay, render_3d(skeletons, overlay.shape[0])])
