"""Replay backend: keypoints recorded in a file, one frame per image (tests, benchmarks,
recorded data).

The file is an .npz with
- ``layout``: the skeleton layout name (h36m17, coco17, blazepose33);
- ``keypoints``: (frames, people, joints, 2) float pixels, NaN in empty person slots;
- ``confidence``: (frames, people, joints) in [0, 1];
- ``track_ids`` (optional): (frames, people) int, -1 in empty slots; without it the
  tracker assigns ids.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..skeleton import get_layout
from ..tracking import PersonTracker
from .base import Detection, KeypointDetector, assign_track_ids


def save_replay(path: str | Path, frames: list[list[Detection]]) -> None:
    """Write detections (their source layout and track ids) as a replay file."""
    layouts = {d.source_layout.name for dets in frames for d in dets}
    if len(layouts) > 1:
        raise ValueError(f"one layout per replay file, got {sorted(layouts)}")
    layout = get_layout(layouts.pop() if layouts else "h36m17")
    people = max((len(dets) for dets in frames), default=0)
    kps = np.full((len(frames), people, layout.num_joints, 2), np.nan, np.float32)
    conf = np.zeros((len(frames), people, layout.num_joints), np.float32)
    ids = np.full((len(frames), people), -1, np.int64)
    for f, dets in enumerate(frames):
        for p, det in enumerate(dets):
            kps[f, p], conf[f, p], ids[f, p] = det.source_keypoints, det.source_confidence, det.track_id
    np.savez_compressed(path, layout=layout.name, keypoints=kps, confidence=conf, track_ids=ids)


class ReplayDetector(KeypointDetector):
    """Each call returns the next recorded frame, whatever the image; after the last frame
    nothing, or the first frame again with ``loop``."""

    def __init__(self, file: str | Path, loop: bool = False, track_min_iou: float = 0.2,
                 track_max_missed: int = 10) -> None:
        with np.load(file) as data:
            self.layout = get_layout(str(data["layout"]))
            self.keypoints = data["keypoints"].astype(np.float32)
            self.confidence = data["confidence"].astype(np.float32)
            self.track_ids = data["track_ids"] if "track_ids" in data else None
        shape = self.keypoints.shape
        if shape[:-1] != self.confidence.shape or shape[2:] != (self.layout.num_joints, 2):
            raise ValueError(f"{file}: keypoints {self.keypoints.shape} and confidence {self.confidence.shape} "
                             f"do not fit {self.layout.name} ({self.layout.num_joints} joints)")
        self.loop = loop
        self.tracker = PersonTracker(track_min_iou, track_max_missed)
        self._frame = 0

    def __len__(self) -> int:
        return len(self.keypoints)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        if self._frame >= len(self) and self.loop:
            self._frame = 0
        if self._frame >= len(self):
            return []
        f = self._frame
        self._frame += 1
        present = [p for p in range(self.keypoints.shape[1]) if np.isfinite(self.keypoints[f, p]).all()]
        detections = [Detection.from_source(-1 if self.track_ids is None else int(self.track_ids[f, p]),
                                            self.keypoints[f, p], self.confidence[f, p], self.layout)
                      for p in present]
        return detections if self.track_ids is not None else assign_track_ids(detections, self.tracker)
