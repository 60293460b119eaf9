"""2D keypoint detectors behind one interface, selected by name."""
from __future__ import annotations

from .base import Detection, KeypointDetector

BACKENDS = ("mediapipe", "onnx", "replay")


def create_detector(backend: str, **options) -> KeypointDetector:
    """Build a detector backend by name; options are its constructor's keyword arguments."""
    if backend == "mediapipe":
        from .mediapipe_backend import MediaPipeDetector
        return MediaPipeDetector(**options)
    if backend == "onnx":
        from .onnx_backend import OnnxDetector
        return OnnxDetector(**options)
    if backend == "replay":
        from .replay_backend import ReplayDetector
        return ReplayDetector(**options)
    raise ValueError(f"unknown detector backend {backend!r}; available: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Detection", "KeypointDetector", "create_detector"]
