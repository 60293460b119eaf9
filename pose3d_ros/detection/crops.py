"""Image -> model input as one affine map (a person crop or a letterbox), and back for points."""
from __future__ import annotations

import cv2
import numpy as np


def crop_matrix(box: np.ndarray, input_size: tuple[int, int], padding: float = 1.25) -> np.ndarray:
    """2x3 map from image pixels to a (width, height) model input showing ``box``
    (x0, y0, x1, y1) enlarged by ``padding`` and widened to the input's aspect ratio."""
    in_w, in_h = input_size
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = max(x1 - x0, 1.0) * padding, max(y1 - y0, 1.0) * padding
    if w * in_h > h * in_w:
        h = w * in_h / in_w
    else:
        w = h * in_w / in_h
    s = in_w / w
    return np.array([[s, 0.0, in_w / 2 - s * (x0 + x1) / 2],
                     [0.0, s, in_h / 2 - s * (y0 + y1) / 2]])


def letterbox_matrix(image_size: tuple[int, int], input_size: tuple[int, int]) -> np.ndarray:
    """2x3 map from a (width, height) image to the input: scaled to fit, centred, padded."""
    (w, h), (in_w, in_h) = image_size, input_size
    s = min(in_w / w, in_h / h)
    return np.array([[s, 0.0, (in_w - s * w) / 2], [0.0, s, (in_h - s * h) / 2]])


def warp(rgb: np.ndarray, matrix: np.ndarray, input_size: tuple[int, int], fill: int = 0) -> np.ndarray:
    """The model input (H, W, 3) seen through ``matrix``; outside the image is ``fill``."""
    return cv2.warpAffine(rgb, matrix, tuple(input_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(fill, fill, fill))


def to_image(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(..., 2) model-input pixels -> image pixels (the inverse of ``matrix``)."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    return (np.asarray(points, np.float64) @ inv[:, :2].T + inv[:, 2]).astype(np.float32)
