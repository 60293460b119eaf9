"""The detector interface and its output type."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..layout_conversion import to_h36m
from ..skeleton import SkeletonLayout
from ..tracking import PersonTracker, keypoint_box


@dataclass
class Detection:
    """One person in one image: H36M-17 keypoints (pixels) and confidences in [0, 1],
    plus the detector's own layout and, where the backend estimates it, the detector's own 3D
    (``world``: H36M-17 in metres, pelvis at the origin, axes of the camera optical frame:
    x right, y down, z away from the camera; converted by the same rules as the 2D)."""

    track_id: int
    keypoints: np.ndarray  # (17, 2)
    confidence: np.ndarray  # (17,)
    source_layout: SkeletonLayout
    source_keypoints: np.ndarray  # (J_src, 2)
    source_confidence: np.ndarray  # (J_src,)
    world: np.ndarray | None = None  # (17, 3) metres, root-relative; None: the backend has no 3D

    @classmethod
    def from_source(cls, track_id: int, keypoints: np.ndarray, confidence: np.ndarray,
                    layout: SkeletonLayout, world: np.ndarray | None = None) -> "Detection":
        """``world``: the detector's 3D in its own layout (J_src, 3), metres, any origin."""
        kps, conf = to_h36m(keypoints, confidence, layout)
        if world is not None:
            world, _ = to_h36m(np.asarray(world, np.float32), confidence, layout)
            world = world - world[0]
        return cls(track_id, kps, np.clip(conf, 0.0, 1.0), layout, keypoints, confidence, world)


def assign_track_ids(detections: list[Detection], tracker: PersonTracker) -> list[Detection]:
    """Give each detection the id of the track its keypoint box continues (in place)."""
    boxes = np.array([keypoint_box(d.keypoints, d.confidence) for d in detections]).reshape(-1, 4)
    for det, track_id in zip(detections, tracker.update(boxes)):
        det.track_id = track_id
    return detections


class KeypointDetector(ABC):
    """Images in (H, W, 3) uint8 RGB, detections out."""

    @abstractmethod
    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Detect and track the people in one image (frames in time order)."""

    def close(self) -> None:
        """Release backend resources."""
