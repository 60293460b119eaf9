"""Everything the lifter node does per frame, without ROS: lift, refine, place, check.

Per track: the causal lifter's root-relative pose, optionally the causal refiner over the
track's last lifted poses, optionally bones rescaled to the track's online bone-length
estimate, placed at the root translation solved from the lifter's pose against the 2D
keypoints (metric output in the camera frame), and the anatomical checks of
:mod:`pose3d_ros.constraints`, which flag, correct or drop (``mode``). Tracks unseen for
``track_timeout_s`` are evicted.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from ..constraints import (
    CHECKS,
    ConstraintLimits,
    MotionHistory,
    bone_lengths,
    joint_scores,
    mirror_illegal_bends,
    rescale_bones,
    severities,
    symmetrize,
    violated,
)
from ..geometry import CameraIntrinsics
from .inputs import MIN_CONFIDENCE, PersonKeypoints
from .online import Person3D
from .refinement import BoneLengthEstimator

MODES = ("flag", "correct", "drop")
SHAPE_CHECKS = ("bone_length", "symmetry", "illegal_bend")  # what "correct" repairs
# What ``OnlinePoseEstimator.counts`` holds, all from zero.
COUNTS = ("poses", *(f"violation_{name}" for name in CHECKS), "corrected", "dropped", "duplicate_stamps",
          "unplaced", "nonfinite_poses")


class Lifter(Protocol):
    def update(self, stamp: float, people: list[PersonKeypoints],
               intrinsics: CameraIntrinsics) -> list[Person3D]: ...

    def forget(self, track_ids: list[int]) -> None: ...


@dataclass(frozen=True)
class PoseSettings:
    mode: str = "flag"
    limits: ConstraintLimits = field(default_factory=ConstraintLimits)
    min_joint_confidence: float = MIN_CONFIDENCE
    bone_length_refinement: bool = False
    bone_samples: int = 64
    bone_min_frames: int = 5
    track_timeout_s: float = 2.0
    fallback_intrinsics: CameraIntrinsics = field(default_factory=lambda: CameraIntrinsics.default_for(640, 480))

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")


@dataclass
class Skeleton3D:
    """One published person: joints in the camera frame (metric) or root-relative."""

    track_id: int
    joints: np.ndarray  # (17, 3) metres
    confidence: np.ndarray  # (17,)
    valid: np.ndarray  # (17,) bool: confident and passing every check
    scores: np.ndarray  # (17,) anatomical plausibility in (0, 1]
    translation: np.ndarray | None  # root position in the camera frame when metric
    violations: tuple[str, ...]  # checks this pose failed (before any correction)
    plausible: bool = True  # the published pose passes every check (after any correction)

    @property
    def metric(self) -> bool:
        return self.translation is not None

    @property
    def score(self) -> float:
        return float(self.scores.mean())


@dataclass
class _Track:
    bones: BoneLengthEstimator
    history: deque  # the lifter's last poses, for the refiner
    motion: MotionHistory
    metric: bool
    last_stamp: float


class OnlinePoseEstimator:
    """Per-frame 3D skeletons of tracked people. ``counts`` accumulates, for diagnostics:
    poses, violation_<check> per violated check, corrected, dropped, duplicate_stamps, and
    the people left out because the lifter's pose was not finite (nonfinite_poses) or, with
    intrinsics, their root could not be placed (unplaced). ``settings`` may be replaced
    between frames."""

    def __init__(self, lifter: Lifter, settings: PoseSettings = PoseSettings(),
                 refiner: torch.nn.Module | None = None) -> None:
        self.lifter, self.settings, self.refiner = lifter, settings, refiner
        self.tracks: dict[int, _Track] = {}
        self.counts: Counter = Counter(dict.fromkeys(COUNTS, 0))
        self.last_stamp: float | None = None

    def update(self, stamp: float, people: list[PersonKeypoints],
               intrinsics: CameraIntrinsics | None) -> list[Skeleton3D] | None:
        """One frame (stamp in seconds). Without intrinsics the output is root-relative; with
        them, a person whose root cannot be placed is left out. Returns None for a repeated
        stamp (a duplicated message), which is ignored."""
        if stamp == self.last_stamp:
            self.counts["duplicate_stamps"] += 1
            return None
        self.last_stamp = stamp
        metric = intrinsics is not None
        lifted = []
        for person in self.lifter.update(stamp, people, intrinsics or self.settings.fallback_intrinsics):
            if not np.all(np.isfinite(person.joints)):
                self.counts["nonfinite_poses"] += 1
            elif metric and person.translation is None:
                self.counts["unplaced"] += 1
            else:
                lifted.append(person)
        tracks = [self._track(p, stamp, metric) for p in lifted]
        poses = self._refine(lifted, tracks)
        out = []
        for person, track, pose in zip(lifted, tracks, poses):
            skeleton = self._place_and_check(person, track, pose, stamp, metric)
            if skeleton is not None:
                out.append(skeleton)
        return out

    def evict(self, stamp: float) -> list[int]:
        """Forget tracks unseen for track_timeout_s, or last seen after ``stamp`` (a bag
        that looped); returns their ids."""
        timeout = self.settings.track_timeout_s
        gone = [tid for tid, t in self.tracks.items() if not stamp - timeout <= t.last_stamp <= stamp]
        for tid in gone:
            del self.tracks[tid]
        self.lifter.forget(gone)
        return gone

    def _track(self, person: Person3D, stamp: float, metric: bool) -> _Track:
        track = self.tracks.get(person.track_id)
        if track is None or person.new_segment:
            window = self.refiner.receptive_field if self.refiner is not None else 1
            track = _Track(BoneLengthEstimator(self.settings.bone_samples, self.settings.bone_min_frames,
                                               seed=person.track_id),
                           deque(maxlen=window), MotionHistory([], []), metric, stamp)
            self.tracks[person.track_id] = track
        if track.metric != metric:  # positions change frame: velocities would be meaningless
            track.motion, track.metric = MotionHistory([], []), metric
        track.last_stamp = stamp
        track.bones.add(bone_lengths(person.joints), person.confidence)
        if not track.history:
            track.history.extend([person.joints] * track.history.maxlen)  # edge padding, as the lifter
        else:
            track.history.append(person.joints)
        return track

    def _refine(self, lifted: list[Person3D], tracks: list[_Track]) -> list[np.ndarray]:
        poses = [p.joints for p in lifted]
        if self.refiner is not None and lifted:
            batch = torch.from_numpy(np.stack([np.stack(t.history) for t in tracks]).astype(np.float32))
            with torch.no_grad():
                poses = list(self.refiner(batch).numpy().astype(np.float64))
        if self.settings.bone_length_refinement:
            poses = [pose if (est := t.bones.estimate()) is None else rescale_bones(pose, est)
                     for pose, t in zip(poses, tracks)]
        return poses

    def _place_and_check(self, person: Person3D, track: _Track, pose: np.ndarray, stamp: float,
                         metric: bool) -> Skeleton3D | None:
        s = self.settings
        estimate = track.bones.estimate()
        translation, positions, sev = self._assess(person, track, pose, stamp, metric, estimate)
        bad = violated(sev)
        failed = tuple(name for name in CHECKS if bad[name].any())
        self.counts["poses"] += 1
        self.counts.update(f"violation_{name}" for name in failed)
        if failed and s.mode == "drop":
            self.counts["dropped"] += 1
            return None
        if s.mode == "correct" and any(name in failed for name in SHAPE_CHECKS):
            lengths = estimate if estimate is not None else symmetrize(bone_lengths(pose))
            pose = mirror_illegal_bends(rescale_bones(pose, lengths), s.limits)
            translation, positions, sev = self._assess(person, track, pose, stamp, metric, estimate)
            bad = violated(sev)
            self.counts["corrected"] += 1
        track.motion.push(positions, stamp)
        flagged = np.any(np.stack(list(bad.values())), axis=0)
        valid = (person.confidence >= s.min_joint_confidence) & ~flagged
        return Skeleton3D(person.track_id, positions, person.confidence, valid, joint_scores(sev),
                          translation, failed, not flagged.any())

    def _assess(self, person: Person3D, track: _Track, pose: np.ndarray, stamp: float, metric: bool,
                estimate: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray, dict[str, np.ndarray]]:
        # The root stays where the lifter's own pose placed it: refinement and corrections reshape the
        # pose around it (solving again from the refined pose placed the root 2 cm worse on Human3.6M).
        translation = person.translation if metric else None
        positions = pose + translation if translation is not None else pose
        sev = severities(pose, positions, stamp, self.settings.limits, estimate, track.motion,
                         None if translation is None else float(translation[2]))
        return translation, positions, sev
