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
    plus the detector's own layout."""

    track_id: int
    keypoints: np.ndarray  # (17, 2)
    confidence: np.ndarray  # (17,)
    source_layout: SkeletonLayout
    source_keypoints: np.ndarray  # (J_src, 2)
    source_confidence: np.ndarray  # (J_src,)

    @classmethod
    def from_source(cls, track_id: int, keypoints: np.ndarray, confidence: np.ndarray,
                    layout: SkeletonLayout) -> "Detection":
        kps, conf = to_h36m(keypoints, confidence, layout)
        return cls(track_id, kps, np.clip(conf, 0.0, 1.0), layout, keypoints, confidence)


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
