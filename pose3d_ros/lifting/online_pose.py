"""Everything the lifter node does per frame, without ROS: lift, refine, fit, place, check.

Per track: a root-relative 3D pose from the chosen ``source`` (``model``: the causal learned
lifter; ``detector``: the detector's own 3D, e.g. MediaPipe's world landmarks, the model where
a person has none; ``fused``: their weighted mean), optionally the causal refiner over the
track's last poses, then either the kinematic fitting stage (:mod:`.fitting`: bone lengths,
root placement, bones turned towards the 2D keypoints, limits, smoothing) or the plain path
(bones rescaled to the track's estimate, placed at the root translation solved against the 2D
keypoints); finally the anatomical checks of :mod:`pose3d_ros.constraints`, which flag,
correct or drop (``mode``). Without intrinsics the output is root-relative.

One registry: ``tracks`` holds everything known of a person, the lifter's state of the track
included; a person seen with finite keypoints has an entry, whose pose state restarts when the
lifter starts a new segment (a gap). Tracks unseen for ``track_timeout_s`` are evicted.
"""
from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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
from ..geometry import CameraIntrinsics, normalize_with_intrinsics
from .fitting import FitSettings, KinematicFitter, solve
from .inputs import MIN_CONFIDENCE, PersonKeypoints, root_translation
from .online import Person3D
from .refinement import BoneLengthEstimator
from .smoothing import VelocityFilter

MODES = ("flag", "correct", "drop")
SOURCES = ("model", "detector", "fused")
SHAPE_CHECKS = ("bone_length", "symmetry", "illegal_bend")  # what "correct" repairs
# What ``OnlinePoseEstimator.counts`` holds, all from zero.
COUNTS = ("poses", *(f"violation_{name}" for name in CHECKS), "corrected", "dropped", "duplicate_stamps",
          "unplaced", "nonfinite_poses", "no_detector_3d", "unfitted")


class Lifter(Protocol):
    """What the estimator lifts with (:class:`~.online.OnlineLifter`): per-track states made by
    ``new_track`` and owned by the estimator."""

    def new_track(self) -> Any: ...

    def update(self, stamp: float, people: Sequence[PersonKeypoints], intrinsics: CameraIntrinsics,
               tracks: Sequence[Any]) -> list[Person3D]: ...


@dataclass(frozen=True)
class PoseSettings:
    mode: str = "flag"
    limits: ConstraintLimits = field(default_factory=ConstraintLimits)
    min_joint_confidence: float = MIN_CONFIDENCE
    bone_length_refinement: bool = False  # without fitting only: the fitting stage keeps its own lengths
    bone_samples: int = 64
    bone_min_frames: int = 5
    track_timeout_s: float = 2.0
    fallback_intrinsics: CameraIntrinsics = field(default_factory=lambda: CameraIntrinsics.default_for(640, 480))
    source: str = "model"
    fusion_weight: float = 0.7  # share of the detector's 3D in the "fused" source
    fitting: FitSettings | None = None  # None: no fitting stage
    velocity_cutoff_hz: float = 2.0  # low-pass of the published joints' velocities

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if not 0.0 <= self.fusion_weight <= 1.0:
            raise ValueError(f"fusion_weight must be in [0, 1], got {self.fusion_weight}")
        if not self.velocity_cutoff_hz > 0.0:
            raise ValueError(f"velocity_cutoff_hz must be > 0, got {self.velocity_cutoff_hz}")


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
    velocity: np.ndarray  # (17, 3) m/s of ``joints``, low-passed; NaN on the segment's first pose
    plausible: bool = True  # the published pose passes every check (after any correction)

    @property
    def metric(self) -> bool:
        return self.translation is not None

    @property
    def score(self) -> float:
        return float(self.scores.mean())


@dataclass
class _Segment:
    """A track's pose state since its lifter (re)started it."""

    bones: BoneLengthEstimator
    history: deque  # the lifter's last poses, for the refiner
    motion: MotionHistory
    metric: bool
    fitter: KinematicFitter | None
    velocity: VelocityFilter


@dataclass
class _Track:
    lift: Any  # the lifter's state of this track
    last_stamp: float
    segment: _Segment | None = None  # None until the first pose


class OnlinePoseEstimator:
    """Per-frame 3D skeletons of tracked people. ``counts`` accumulates, for diagnostics:
    poses, violation_<check> per violated check, corrected, dropped, duplicate_stamps,
    no_detector_3d (people lifted by the model because the detector gave no 3D), unfitted
    (poses the fitting stage could not place), and the people left out because their source
    pose was not finite (nonfinite_poses) or, with intrinsics, their root could not be placed
    (unplaced). ``settings`` may be replaced between frames."""

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
        camera = intrinsics or self.settings.fallback_intrinsics
        lifted, observed = [], []
        for person, seen in zip(*self._sources(stamp, people, camera)):
            if not np.all(np.isfinite(person.joints)):
                self.counts["nonfinite_poses"] += 1
            elif metric and person.translation is None:
                self.counts["unplaced"] += 1
            else:
                lifted.append(person)
                observed.append(seen)
        segments = [self._segment(p, metric) for p in lifted]
        poses = self._refine(lifted, segments)
        placed = self._fit(stamp, lifted, segments, poses, observed, camera.fx)
        out = []
        for person, seg, (pose, translation) in zip(lifted, segments, placed):
            skeleton = self._place_and_check(person, seg, pose, translation, stamp, metric)
            if skeleton is not None:
                out.append(skeleton)
        return out

    def _sources(self, stamp: float, people: list[PersonKeypoints], camera: CameraIntrinsics
                 ) -> tuple[list[Person3D], list[tuple[np.ndarray, np.ndarray]]]:
        """Each person's root-relative source pose, and their normalised 2D with confidences
        (non-finite keypoints get confidence 0). People without a finite keypoint are skipped."""
        source, w = self.settings.source, self.settings.fusion_weight
        has_3d = {p.track_id: p.world is not None and np.all(np.isfinite(p.world)) for p in people}
        if source != "model":
            self.counts["no_detector_3d"] += sum(not v for v in has_3d.values())
        visible = [p for p in people if np.isfinite(p.keypoints).all(axis=-1).any()]
        for person in visible:
            self._registered(person.track_id, stamp)
        need_model = [p for p in visible if source != "detector" or not has_3d[p.track_id]]
        lifts = [self.tracks[p.track_id].lift for p in need_model]
        modelled = {p.track_id: p for p in self.lifter.update(stamp, need_model, camera, lifts)} if need_model else {}
        lifted, observed = [], []
        for person in visible:
            finite = np.all(np.isfinite(person.keypoints), axis=-1)
            confidence = np.where(finite & np.isfinite(person.confidence), person.confidence, 0.0)
            uv = normalize_with_intrinsics(np.where(finite[:, None], person.keypoints, 0.0), camera)
            uv = np.where(finite[:, None], uv, uv[finite].mean(axis=0)).astype(np.float64)
            model = modelled.get(person.track_id)
            if has_3d[person.track_id] and source != "model":
                world = person.world - person.world[0]
                pose = world if model is None else w * world + (1.0 - w) * model.joints
                new = model.new_segment if model is not None else self.tracks[person.track_id].segment is None
                model = Person3D(person.track_id, pose, confidence, root_translation(pose, uv, confidence), new)
            if model is None:
                continue
            lifted.append(model)
            observed.append((uv, confidence))
        return lifted, observed

    def evict(self, stamp: float) -> list[int]:
        """Forget tracks unseen for track_timeout_s, or last seen after ``stamp`` (a bag
        that looped); returns their ids."""
        timeout = self.settings.track_timeout_s
        gone = [tid for tid, t in self.tracks.items() if not stamp - timeout <= t.last_stamp <= stamp]
        for tid in gone:
            del self.tracks[tid]
        return gone

    def _registered(self, track_id: int, stamp: float) -> _Track:
        """The registry's entry of a person seen in this frame."""
        track = self.tracks.get(track_id)
        if track is None:
            track = self.tracks[track_id] = _Track(self.lifter.new_track(), stamp)
        track.last_stamp = stamp
        return track

    def _segment(self, person: Person3D, metric: bool) -> _Segment:
        """The person's pose state, restarted with a new segment, with this pose added."""
        track = self.tracks[person.track_id]
        seg = track.segment
        if seg is None or person.new_segment:
            window = self.refiner.receptive_field if self.refiner is not None else 1
            fitting = self.settings.fitting
            seg = track.segment = _Segment(
                BoneLengthEstimator(self.settings.bone_samples, self.settings.bone_min_frames, seed=person.track_id),
                deque(maxlen=window), MotionHistory([], []), metric,
                None if fitting is None else KinematicFitter(fitting, seed=person.track_id),
                VelocityFilter(self.settings.velocity_cutoff_hz))
        if seg.metric != metric:  # positions change frame: velocities would be meaningless
            seg.motion, seg.metric = MotionHistory([], []), metric
            seg.velocity = VelocityFilter(self.settings.velocity_cutoff_hz)
        seg.velocity.cutoff = self.settings.velocity_cutoff_hz  # settings may change between frames
        seg.bones.add(bone_lengths(person.joints), person.confidence)
        if not seg.history:
            seg.history.extend([person.joints] * seg.history.maxlen)  # edge padding, as the lifter
        else:
            seg.history.append(person.joints)
        return seg

    def _refine(self, lifted: list[Person3D], segments: list[_Segment]) -> list[np.ndarray]:
        poses = [p.joints for p in lifted]
        if self.refiner is not None and lifted:
            batch = torch.from_numpy(np.stack([np.stack(seg.history) for seg in segments]).astype(np.float32))
            with torch.no_grad():
                poses = list(self.refiner(batch).numpy().astype(np.float64))
        if self.settings.bone_length_refinement and self.settings.fitting is None:  # the fitting has its own
            poses = [pose if (est := seg.bones.estimate()) is None else rescale_bones(pose, est)
                     for pose, seg in zip(poses, segments)]
        return poses

    def _fit(self, stamp: float, lifted: list[Person3D], segments: list[_Segment], poses: list[np.ndarray],
             observed: list[tuple[np.ndarray, np.ndarray]], focal_px: float
             ) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Each person's (root-relative pose, root translation): fitted by the fitting stage, all
        people in one batched solve, or the source's as they are without it."""
        out = [(pose, person.translation) for person, pose in zip(lifted, poses)]
        problems = {}
        for i, (seg, pose, (uv, confidence)) in enumerate(zip(segments, poses, observed)):
            if seg.fitter is not None:
                problem = seg.fitter.prepare(stamp, pose, uv, confidence, focal_px)
                if problem is None:
                    self.counts["unfitted"] += 1
                else:
                    problems[i] = problem
        if problems:
            for i, fitted in zip(problems, solve(list(problems.values()), self.settings.fitting.limits)):
                out[i] = (fitted.relative, fitted.translation)
        return out

    def _place_and_check(self, person: Person3D, seg: _Segment, pose: np.ndarray, translation: np.ndarray | None,
                         stamp: float, metric: bool) -> Skeleton3D | None:
        s = self.settings
        # The lengths the pose was given: the fitting stage's when it ran, else the track's estimate.
        estimate = seg.fitter.bone_lengths() if seg.fitter is not None else seg.bones.estimate()
        translation, positions, sev = self._assess(translation, seg, pose, stamp, metric, estimate)
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
            translation, positions, sev = self._assess(translation, seg, pose, stamp, metric, estimate)
            bad = violated(sev)
            self.counts["corrected"] += 1
        seg.motion.push(positions, stamp)
        flagged = np.any(np.stack(list(bad.values())), axis=0)
        valid = (person.confidence >= s.min_joint_confidence) & ~flagged
        return Skeleton3D(person.track_id, positions, person.confidence, valid, joint_scores(sev),
                          translation, failed, seg.velocity(positions, stamp), not flagged.any())

    def _assess(self, translation: np.ndarray | None, seg: _Segment, pose: np.ndarray, stamp: float,
                metric: bool, estimate: np.ndarray | None
                ) -> tuple[np.ndarray | None, np.ndarray, dict[str, np.ndarray]]:
        # The root stays where the source's own pose (or the fitting stage) placed it: refinement and
        # corrections reshape the pose around it (solving again from the refined pose placed the root
        # 2 cm worse on Human3.6M).
        translation = translation if metric else None
        positions = pose + translation if translation is not None else pose
        sev = severities(pose, positions, stamp, self.settings.limits, estimate, seg.motion,
                         None if translation is None else float(translation[2]))
        return translation, positions, sev
