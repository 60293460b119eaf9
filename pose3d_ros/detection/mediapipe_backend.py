"""MediaPipe BlazePose (legacy solution, model_complexity=1): single person, offline.

mediapipe 0.10.21 ships pose_detection.tflite and pose_landmark_full.tflite in its wheel,
so complexity 1 runs without a download. Complexities 0 and 2 would download their models
at run time and are refused.
"""
from __future__ import annotations

import numpy as np

from ..skeleton import BLAZEPOSE33
from .base import Detection, KeypointDetector


class MediaPipeDetector(KeypointDetector):
    """BlazePose-33 keypoints converted to H36M-17. The track id stays the same while the
    person is tracked and increases when the person is lost and found again."""

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        if model_complexity != 1:
            raise ValueError(f"mediapipe model_complexity={model_complexity} needs a model download, "
                             "which is not possible offline; use model_complexity=1 "
                             "(its model ships inside the mediapipe 0.10.21 wheel)")
        import mediapipe as mp  # imported here: optional for the other backends

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=False, model_complexity=model_complexity, smooth_landmarks=True,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)
        self._track_id = 0
        self._tracking = False

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        result = self._pose.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            if self._tracking:
                self._track_id += 1
            self._tracking = False
            return []
        self._tracking = True
        lm = result.pose_landmarks.landmark
        kps = np.array([[p.x * width, p.y * height] for p in lm], dtype=np.float32)
        conf = np.array([p.visibility for p in lm], dtype=np.float32)
        # World landmarks: metres, origin between the hips, x right, y down, z away from the camera.
        world = np.array([[p.x, p.y, p.z] for p in result.pose_world_landmarks.landmark], dtype=np.float32)
        return [Detection.from_source(self._track_id, kps, conf, BLAZEPOSE33, world)]

    def close(self) -> None:
        self._pose.close()
