"""Raw image buffers (sensor_msgs/Image fields) to numpy and back, without cv_bridge.

Pure functions on (encoding, height, width, step, data) so they are tested without ROS.
"""
from __future__ import annotations

import cv2
import numpy as np

# encoding -> (channels, conversion to RGB or None when already RGB)
_ENCODINGS = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
}
SUPPORTED_ENCODINGS = tuple(_ENCODINGS)


class ImageError(ValueError):
    """An image that cannot be decoded; the message names the cause."""


def image_to_rgb(encoding: str, height: int, width: int, step: int, data: bytes | memoryview) -> np.ndarray:
    """A sensor_msgs/Image buffer -> (H, W, 3) uint8 RGB array (a copy)."""
    if encoding not in _ENCODINGS:
        raise ImageError(f"unsupported encoding {encoding!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})")
    if height <= 0 or width <= 0:
        raise ImageError(f"empty image ({width}x{height})")
    channels, conversion = _ENCODINGS[encoding]
    if step < width * channels:
        raise ImageError(f"step {step} is smaller than width {width} x {channels} bytes for {encoding}")
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size < step * height:
        raise ImageError(f"data has {buf.size} bytes, expected step {step} x height {height} = {step * height}")
    rows = buf[: step * height].reshape(height, step)[:, : width * channels]
    img = rows.reshape(height, width, channels)
    return img.copy() if conversion is None else cv2.cvtColor(img, conversion)


def compressed_to_rgb(data: bytes | memoryview) -> np.ndarray:
    """A sensor_msgs/CompressedImage payload (JPEG, PNG, ...) -> (H, W, 3) uint8 RGB array."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise ImageError("empty compressed image")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"corrupt or unsupported compressed image ({buf.size} bytes)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
