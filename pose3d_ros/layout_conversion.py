"""Convert detector layouts (BlazePose-33, COCO-17) to H36M-17, the lifter's layout.

Joints that exist in both layouts are copied. H36M joints that detectors do not output
are derived, each with the minimum confidence of the joints it is made from:

- pelvis: midpoint of the hips
- thorax: midpoint of the shoulders
- spine: midpoint of pelvis and thorax
- neck_nose: the nose
- head (top of the head in H36M): from the eyes, pushed away from the mouth (BlazePose)
  or the nose (COCO) by a fixed ratio of the face size, which lands near the crown
"""
from __future__ import annotations

import numpy as np

from .skeleton import BLAZEPOSE33, COCO17, H36M17, SkeletonLayout

# Distance eyes -> crown, in units of the eyes -> mouth (BlazePose) / eyes -> nose (COCO) distance.
HEAD_FROM_MOUTH = 1.5
HEAD_FROM_NOSE = 2.5

_COPIED = ("r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle",
           "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")


def _mid(kps: np.ndarray, conf: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    return 0.5 * (kps[..., a, :] + kps[..., b, :]), np.minimum(conf[..., a], conf[..., b])


def to_h36m(keypoints: np.ndarray, confidence: np.ndarray,
            layout: SkeletonLayout) -> tuple[np.ndarray, np.ndarray]:
    """(..., J_src, 2) keypoints and (..., J_src) confidences -> (..., 17, 2) and (..., 17)."""
    if layout is H36M17:
        return keypoints, confidence
    if layout not in (BLAZEPOSE33, COCO17):
        raise ValueError(f"no conversion from {layout.name} to {H36M17.name}")
    src = layout.index
    out = np.zeros(keypoints.shape[:-2] + (17, keypoints.shape[-1]), dtype=np.float32)
    c = np.zeros(confidence.shape[:-1] + (17,), dtype=np.float32)
    dst = H36M17.index
    for name in _COPIED:
        out[..., dst(name), :] = keypoints[..., src(name), :]
        c[..., dst(name)] = confidence[..., src(name)]
    pel, pel_c = _mid(keypoints, confidence, src("l_hip"), src("r_hip"))
    tho, tho_c = _mid(keypoints, confidence, src("l_shoulder"), src("r_shoulder"))
    out[..., 0, :], c[..., 0] = pel, pel_c
    out[..., dst("thorax"), :], c[..., dst("thorax")] = tho, tho_c
    out[..., dst("spine"), :], c[..., dst("spine")] = 0.5 * (pel + tho), np.minimum(pel_c, tho_c)
    out[..., dst("neck_nose"), :] = keypoints[..., src("nose"), :]
    c[..., dst("neck_nose")] = confidence[..., src("nose")]
    eyes, eyes_c = _mid(keypoints, confidence, src("l_eye"), src("r_eye"))
    if layout is BLAZEPOSE33:
        below, below_c = _mid(keypoints, confidence, src("mouth_left"), src("mouth_right"))
        ratio = HEAD_FROM_MOUTH
    else:
        below, below_c = keypoints[..., src("nose"), :], confidence[..., src("nose")]
        ratio = HEAD_FROM_NOSE
    out[..., dst("head"), :] = eyes + ratio * (eyes - below)
    c[..., dst("head")] = np.minimum(eyes_c, below_c)
    return out, c
