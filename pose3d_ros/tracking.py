"""Person ids that stay with people across frames, for detectors that see several people.

Each track keeps its last box and the velocity of the box centre. A new frame's boxes are
matched to the tracks' predicted boxes (last box moved by velocity x frames since seen) by
greedy IoU: the best overlapping pair first, then the next among the rest. Predicting the
motion keeps ids on the right people when two cross. Unmatched boxes start new tracks;
tracks unseen for more than ``max_missed`` frames end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VELOCITY_SMOOTHING = 0.5  # weight of the newest centre displacement in the velocity estimate


def keypoint_box(keypoints: np.ndarray, confidence: np.ndarray, min_confidence: float = 0.1) -> np.ndarray:
    """(x0, y0, x1, y1) around the joints with confidence >= min_confidence (all when none is)."""
    sure = confidence >= min_confidence
    pts = keypoints[sure] if sure.any() else keypoints
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)]).astype(np.float64)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N, 4) with every box in b (M, 4), as (N, M)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    velocity: np.ndarray  # box centre displacement per frame (pixels)
    missed: int = 0

    def predicted(self) -> np.ndarray:
        shift = self.velocity * (self.missed + 1)
        return self.box + np.concatenate([shift, shift])


class PersonTracker:
    """Assigns track ids to each frame's person boxes (frames in time order)."""

    def __init__(self, min_iou: float = 0.2, max_missed: int = 10) -> None:
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.tracks: list[_Track] = []
        self._next_id = 0

    def update(self, boxes: np.ndarray) -> list[int]:
        """Track ids for boxes (N, 4) as (x0, y0, x1, y1), in the same order."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        ids = [-1] * len(boxes)
        matched: set[int] = set()
        if self.tracks and len(boxes):
            iou = box_iou(np.stack([t.predicted() for t in self.tracks]), boxes)
            for flat in np.argsort(-iou, axis=None):
                ti, di = np.unravel_index(flat, iou.shape)
                if iou[ti, di] < self.min_iou:
                    break
                if ti in matched or ids[di] >= 0:
                    continue
                matched.add(ti)
                ids[di] = self._follow(self.tracks[ti], boxes[di])
        for ti, track in enumerate(self.tracks):
            if ti not in matched:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        for di, box in enumerate(boxes):
            if ids[di] < 0:
                ids[di] = self._next_id
                self.tracks.append(_Track(self._next_id, box.copy(), np.zeros(2)))
                self._next_id += 1
        return ids

    @staticmethod
    def _follow(track: _Track, box: np.ndarray) -> int:
        step = (_centre(box) - _centre(track.box)) / (track.missed + 1)
        track.velocity = VELOCITY_SMOOTHING * step + (1 - VELOCITY_SMOOTHING) * track.velocity
        track.box, track.missed = box.copy(), 0
        return track.track_id


def _centre(box: np.ndarray) -> np.ndarray:
    return 0.5 * (box[:2] + box[2:])
