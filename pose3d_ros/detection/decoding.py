"""Model outputs -> keypoints in model-input pixels, for the output formats of pose models.

- heatmap (SimpleBaseline, HRNet, ViTPose): (N, K, h, w) scores; the peak, moved a quarter
  pixel towards its higher neighbour, scaled from heatmap to input pixels; confidence is
  the peak value.
- simcc (RTMPose): (N, K, W * r) and (N, K, H * r) scores per input column / row at
  ``r`` bins per pixel; the best bin of each divided by r; confidence is the smaller of the
  two maxima.
- yolo (YOLOv8/11 exports, pose or detection): (1, C, A), A anchors of C rows: cx, cy, w, h, person
  score, then x, y, confidence per keypoint (pose) or the other classes' scores
  (detection, keypoints ignored); kept above a score threshold, then non-maximum
  suppression.
Confidences are clipped to [0, 1].
"""
from __future__ import annotations

import cv2
import numpy as np


def decode_heatmaps(heatmaps: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, h, w) heatmaps -> keypoints (N, K, 2) in input pixels and confidences (N, K)."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, h * w)
    idx = flat.argmax(axis=2)
    ys, xs = np.divmod(idx, w)
    conf = np.take_along_axis(flat, idx[..., None], axis=2)[..., 0]
    maps = heatmaps.reshape(n * k, h, w)
    rows, cols, j = ys.ravel(), xs.ravel(), np.arange(n * k)
    dx = np.where((cols > 0) & (cols < w - 1),
                  maps[j, rows, np.minimum(cols + 1, w - 1)] - maps[j, rows, np.maximum(cols - 1, 0)], 0.0)
    dy = np.where((rows > 0) & (rows < h - 1),
                  maps[j, np.minimum(rows + 1, h - 1), cols] - maps[j, np.maximum(rows - 1, 0), cols], 0.0)
    x = cols + 0.25 * np.sign(dx)
    y = rows + 0.25 * np.sign(dy)
    kps = np.stack([x * input_size[0] / w, y * input_size[1] / h], axis=-1).reshape(n, k, 2)
    return kps.astype(np.float32), np.clip(conf, 0.0, 1.0).astype(np.float32)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, Wr), (N, K, Hr) -> keypoints (N, K, 2) in input pixels and confidences (N, K)."""
    kps = np.stack([simcc_x.argmax(axis=2), simcc_y.argmax(axis=2)], axis=-1) / split_ratio
    conf = np.minimum(simcc_x.max(axis=2), simcc_y.max(axis=2))
    return kps.astype(np.float32), np.clip(conf, 0.0, 1.0).astype(np.float32)


def decode_yolo(output: np.ndarray, num_keypoints: int, min_score: float,
                nms_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(1, C, A) -> boxes (M, 4) as (x0, y0, x1, y1), scores (M,), keypoints (M, K, 2) and
    confidences (M, K), in input pixels."""
    rows = output[0]
    scores = rows[4]
    keep = np.flatnonzero(scores >= min_score)
    cx, cy, w, h = rows[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    chosen = cv2.dnn.NMSBoxes(xywh.tolist(), scores[keep].tolist(), min_score, nms_iou) if len(keep) else []
    chosen = np.asarray(chosen, dtype=int).ravel()
    sel, boxes = keep[chosen], boxes[chosen]
    kp = rows[5:5 + 3 * num_keypoints, :][:, sel].T.reshape(len(sel), num_keypoints, 3)
    return (boxes.astype(np.float32), scores[sel].astype(np.float32), kp[..., :2].astype(np.float32),
            np.clip(kp[..., 2], 0.0, 1.0).astype(np.float32))
