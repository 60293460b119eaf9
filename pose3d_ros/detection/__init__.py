"""2D keypoint detectors behind one interface, selected by name (registry.py)."""
from __future__ import annotations

from .base import Detection, KeypointDetector
from .registry import BACKENDS, DEFAULT_BACKEND, backend_options, create_detector

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "Detection", "KeypointDetector", "backend_options", "create_detector"]
