"""Lens distortion of ROS CameraInfo (``distortion_model`` and ``d``), on focal-normalised points.

- ``plumb_bob``: k1, k2, p1, p2, k3 (fewer coefficients: the rest zero);
- ``rational_polynomial``: k1, k2, p1, p2, k3, k4, k5, k6 and optionally OpenCV's thin prism
  s1..s4 and tilt tau_x, tau_y (12 or 14 coefficients, as some drivers publish them); a
  non-zero tilt is refused;
- ``equidistant``: the fisheye model k1..k4 of OpenCV's cv::fisheye (angle polynomial).

An empty model name counts as ``plumb_bob``; coefficients all zero mean no distortion.
:func:`checked` validates a model once (``CameraIntrinsics`` does it when built); :func:`distort`
and :func:`undistort`, called per frame, take a model it accepted.
The formulas are OpenCV's (projectPoints, undistortPoints, fisheye::undistortPoints).
"""
from __future__ import annotations

import numpy as np

MODELS = {"plumb_bob": 5, "rational_polynomial": 14, "equidistant": 4}  # name -> most coefficients
MAX_FISHEYE_ANGLE = 1.5  # radians off the axis (86 degrees) at most when undistorting a fisheye point


def checked(model: str, coefficients: tuple[float, ...]) -> str:
    """The model's name (``plumb_bob`` for ""); raises ValueError naming an unknown model,
    non-finite coefficients, non-zero ones beyond the model's or a tilted sensor."""
    model = model or "plumb_bob"
    if model not in MODELS:
        raise ValueError(f"distortion model {model!r} is not supported (supported: {', '.join(MODELS)})")
    if not np.all(np.isfinite(coefficients)):
        raise ValueError(f"non-finite distortion coefficients {list(coefficients)}")
    if any(coefficients[MODELS[model]:]):  # trailing zeros, as some drivers pad d, are harmless
        raise ValueError(f"distortion model {model!r} takes at most {MODELS[model]} coefficients, "
                         f"got {len(coefficients)}: {list(coefficients)}")
    if any(coefficients[12:]):
        raise ValueError(f"a tilted sensor (tau_x, tau_y = {list(coefficients[12:])}) is not supported")
    return model


def _padded(coefficients: tuple[float, ...], n: int) -> np.ndarray:
    d = np.zeros(n)
    d[:min(len(coefficients), n)] = coefficients[:n]
    return d


def _polynomial_terms(xy: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The radial factor (..., 1) and the tangential and thin-prism shift (..., 2) at undistorted xy."""
    k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4 = d
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    shift = np.stack([2 * p1 * x * y + p2 * (r2 + 2 * x * x) + r2 * (s1 + r2 * s2),
                      p1 * (r2 + 2 * y * y) + 2 * p2 * x * y + r2 * (s3 + r2 * s4)], axis=-1)
    return radial[..., None], shift


def _fisheye_angle(theta: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """theta_d(theta) and its derivative."""
    t2 = theta * theta
    poly = 1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3])))
    slope = 1 + t2 * (3 * k[0] + t2 * (5 * k[1] + t2 * (7 * k[2] + t2 * 9 * k[3])))
    return theta * poly, slope


def distort(xy: np.ndarray, model: str, coefficients: tuple[float, ...]) -> np.ndarray:
    """Undistorted focal-normalised points (..., 2) -> where the lens puts them."""
    xy = np.asarray(xy, np.float64)
    if model == "equidistant":
        r = np.linalg.norm(xy, axis=-1, keepdims=True)
        theta_d, _ = _fisheye_angle(np.arctan(r), _padded(coefficients, 4))
        return xy * np.where(r > 1e-12, theta_d / np.maximum(r, 1e-12), 1.0)
    radial, shift = _polynomial_terms(xy, _padded(coefficients, 12))
    return xy * radial + shift


def undistort(xy: np.ndarray, model: str, coefficients: tuple[float, ...], iterations: int = 20) -> np.ndarray:
    """Distorted focal-normalised points (..., 2) -> undistorted, in the input's dtype: fixed-point
    iteration for the polynomial models, Newton's method on the angle for ``equidistant``."""
    distorted = np.asarray(xy, np.float64)
    if model == "equidistant":
        k = _padded(coefficients, 4)
        theta_d = np.linalg.norm(distorted, axis=-1, keepdims=True)
        theta = theta_d.copy()
        for _ in range(iterations):
            value, slope = _fisheye_angle(theta, k)
            theta = np.clip(theta - (value - theta_d) / slope, 0.0, MAX_FISHEYE_ANGLE)
        out = distorted * np.where(theta_d > 1e-12, np.tan(theta) / np.maximum(theta_d, 1e-12), 1.0)
    else:
        d = _padded(coefficients, 12)
        out = distorted.copy()
        for _ in range(iterations):
            radial, shift = _polynomial_terms(out, d)
            out = (distorted - shift) / radial
    return out.astype(np.asarray(xy).dtype)
