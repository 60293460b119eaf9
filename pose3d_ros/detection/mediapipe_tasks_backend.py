"""MediaPipe Tasks PoseLandmarker (BlazePose full): several people, offline, with world landmarks.

The models are the ones the mediapipe 0.10.21 wheel ships, bundled by mediapipe_bundle.py.
The Tasks graph in VIDEO mode follows people by their previous landmarks but re-runs the
person detector on every frame while it tracks fewer than ``num_poses`` people, and lets
the detector's boxes replace or duplicate the people it tracks: with one person in view and
``num_poses`` 4 it needs 1.6 times the CPU time per frame and loses the person in a fifth of
the frames (docs/detector.md, Performance). So by default (``detect_every`` N >= 1) people
are followed here instead:

- each tracked person has a landmarker of its own (VIDEO mode, one pose) that sees a square
  crop around their last landmarks (CROP_SCALE x their size, CROP_SIZE pixels): it runs only
  the landmark model while it keeps the person, and its detector on the crop, where the
  person is large, the frame after it loses them; a person lost for more than
  LOST_FRAMES frames is dropped;
- the person detector looks at the whole image (IMAGE mode) every N frames while fewer than
  ``num_poses`` people are followed, and on every frame while nobody is, with the followed
  people covered by noise; people it finds whose box shares at most NEW_PERSON_OVERLAP of
  a followed one's get a landmarker (landmarkers are kept for reuse: each holds about
  100 MB);
- two followed people whose landmarks coincide (or mirror each other) are one: the follower
  whose person moved less since its last frame stays (the other jumped onto them);
- the followers' landmark models run on ``follow_threads`` threads at once: MediaPipe lets go of
  the GIL while a model runs, and each runs on one core, so with two people on two cores a
  frame takes about the time of one.

``detect_every: 0`` leaves everything to the Tasks graph on the whole image (one landmarker).
Track ids come from :class:`~pose3d_ros.tracking.PersonTracker`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..skeleton import BLAZEPOSE33
from ..tracking import PersonTracker, keypoint_box
from .base import Detection, KeypointDetector, assign_track_ids
from .crops import crop_matrix, to_image, warp
from .mediapipe_bundle import pose_landmarker_bundle

CROP_SIZE = 384  # pixels of a follower's square crop; the landmark model sees 256 x 256 of it
CROP_SCALE = 2.0  # crop side / the larger side of the person's landmark box
LOST_FRAMES = 3  # a follower that misses its person for more frames is dropped
DUPLICATE_DISTANCE = 0.1  # two followers' people are one below this mean landmark distance / size
NEW_PERSON_OVERLAP = 0.5  # a person the detector finds is new unless its box shares more of a known one
MASK_PADDING = 0.15  # the box hiding a known person: their landmark box enlarged by this x its larger side
FRAME_MS = 33  # landmarker timestamps: a nominal 30 fps (the graph only needs them increasing)
_MIRROR = BLAZEPOSE33.flip_permutation()


@dataclass
class _Person:
    """One person found in a frame: BlazePose-33 pixels, visibility and world landmarks."""

    keypoints: np.ndarray  # (33, 2) image pixels
    visibility: np.ndarray  # (33,)
    world: np.ndarray  # (33, 3) metres, hip-centred

    def box(self) -> np.ndarray:
        return keypoint_box(self.keypoints, np.ones(len(self.keypoints)))

    def size(self) -> float:
        """The larger side of the box, in pixels (at least 1)."""
        return float(max(np.ptp(self.keypoints, axis=0).max(), 1.0))

    def same_as(self, other: "_Person") -> bool:
        """Landmarks that coincide, also with left and right swapped (a mirrored fit)."""
        distance = min(np.linalg.norm(self.keypoints[order] - other.keypoints, axis=1).mean()
                       for order in (slice(None), _MIRROR))
        return bool(distance < DUPLICATE_DISTANCE * max(self.size(), other.size()))

    def moved_to(self, other: "_Person") -> float:
        """The distance between the two box centres, in units of this person's size."""
        a, b = self.box(), other.box()
        return float(np.linalg.norm(a[:2] + a[2:] - b[:2] - b[2:]) / 2 / self.size())

    def overlaps(self, other: "_Person") -> bool:
        """Boxes sharing more than NEW_PERSON_OVERLAP of the smaller one."""
        a, b = self.box(), other.box()
        inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0.0, None))
        smaller = min(np.prod(a[2:] - a[:2]), np.prod(b[2:] - b[:2]))
        return bool(inter > NEW_PERSON_OVERLAP * max(smaller, 1.0))

    def crop(self) -> np.ndarray:
        """Image -> follower crop, centred on the person."""
        return crop_matrix(self.box(), (CROP_SIZE, CROP_SIZE), CROP_SCALE)


@dataclass
class _Follower:
    landmarker: object  # a VIDEO-mode PoseLandmarker with num_poses=1
    matrix: np.ndarray  # image -> crop
    person: _Person  # the last one seen
    missed: int = 0


class MediaPipeTasksDetector(KeypointDetector):
    """Up to ``num_poses`` people per image, BlazePose-33 converted to H36M-17, with world
    landmarks and tracked ids.

    ``min_detection_confidence``: the person detector's score threshold;
    ``min_tracking_confidence``: the landmark model's presence score below which a person
    counts as lost (as in the legacy solution); ``follow_threads``: followers whose landmark
    models run at once (1: one after the other; the same detections either way)."""

    def __init__(self, num_poses: int = 4, detect_every: int = 10, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, track_min_iou: float = 0.2,
                 track_max_missed: int = 10, follow_threads: int = 2) -> None:
        if num_poses < 1 or detect_every < 0:
            raise ValueError(f"num_poses must be >= 1 (got {num_poses}) and detect_every >= 0 (got {detect_every})")
        if follow_threads < 1:
            raise ValueError(f"follow_threads must be >= 1, got {follow_threads}")
        import mediapipe as mp  # imported here: optional for the other backends
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode

        self._mp = mp
        bundle = str(pose_landmarker_bundle())

        def landmarker(mode: RunningMode, poses: int) -> PoseLandmarker:
            return PoseLandmarker.create_from_options(PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=bundle), running_mode=mode, num_poses=poses,
                min_pose_detection_confidence=min_detection_confidence,
                min_pose_presence_confidence=min_tracking_confidence))

        self.num_poses = num_poses
        self.detect_every = detect_every
        if detect_every:
            self._finder = landmarker(RunningMode.IMAGE, num_poses)
            self._new_follower = lambda: landmarker(RunningMode.VIDEO, 1)
        else:
            self._finder = landmarker(RunningMode.VIDEO, num_poses)
        self.followers: list[_Follower] = []
        self._pool = ThreadPoolExecutor(follow_threads, "landmarker") if follow_threads > 1 and detect_every else None
        self._idle: list = []  # landmarkers of dropped followers, for reuse
        self.tracker = PersonTracker(track_min_iou, track_max_missed)
        self._frame = -1
        self._noise = np.zeros(0, np.uint8)  # fill of known people's boxes when looking for new ones

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        self._frame += 1
        stamp = self._frame * FRAME_MS
        if self.detect_every == 0:
            result = self._finder.detect_for_video(self._image(rgb), stamp)
            people = _people(result, _scale_matrix(rgb.shape[1], rgb.shape[0]))
        else:
            people = self._follow(rgb, stamp)
            if len(self.followers) < self.num_poses and (not self.followers
                                                          or self._frame % self.detect_every == 0):
                people += self._find_new(rgb, people)
        detections = [Detection.from_source(-1, p.keypoints, p.visibility, BLAZEPOSE33, p.world) for p in people]
        return assign_track_ids(detections, self.tracker)

    def _image(self, rgb: np.ndarray):
        return self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))

    def _follow(self, rgb: np.ndarray, stamp: int) -> list[_Person]:
        """Each follower's person in this frame. Followers that missed theirs for more than
        LOST_FRAMES frames are dropped, and so is, of two followers whose people coincide, the
        one whose person moved more since its last frame (it jumped onto the other one)."""
        def landmarks(follower: _Follower) -> list[_Person]:
            crop = self._image(warp(rgb, follower.matrix, (CROP_SIZE, CROP_SIZE)))
            return _people(follower.landmarker.detect_for_video(crop, stamp), follower.matrix / CROP_SIZE)

        runs = list((self._pool.map if self._pool else map)(landmarks, self.followers))
        seen = []
        for follower, found in zip(self.followers, runs):
            follower.missed = 0 if found else follower.missed + 1
            person = found[0] if found else None
            seen.append((np.inf if person is None else follower.person.moved_to(person), follower, person))
        kept, people = [], []
        for _, follower, person in sorted(seen, key=lambda s: s[0]):  # the steadiest first
            if follower.missed > LOST_FRAMES or (person is not None and any(person.same_as(p) for p in people)):
                self._idle.append(follower.landmarker)
                continue
            if person is not None:
                follower.person, follower.matrix = person, person.crop()
                people.append(person)
            kept.append(follower)
        self.followers = kept
        return people

    def _find_new(self, rgb: np.ndarray, known: list[_Person]) -> list[_Person]:
        """People in the whole image not among ``known``; each gets a follower. The known are
        covered with noise first (boxes enlarged by MASK_PADDING: the landmarks stop at the
        eyes, and the detector keys on the head), so that the landmark model does not run on
        them again (a grey box of a person's shape passes for a person to it; noise does not)."""
        masked = rgb.copy()
        if known and self._noise.shape != rgb.shape:
            self._noise = np.random.default_rng(0).integers(0, 256, rgb.shape, dtype=np.uint8)
        for person in known:
            x0, y0, x1, y1 = person.box()
            pad = MASK_PADDING * max(x1 - x0, y1 - y0)
            x0, y0, x1, y1 = np.round([x0 - pad, y0 - pad, x1 + pad, y1 + pad]).astype(int).clip(0, None)
            box = slice(y0, y1), slice(x0, x1)
            masked[box] = self._noise[box]
        new: list[_Person] = []
        for person in _people(self._finder.detect(self._image(masked)), _scale_matrix(rgb.shape[1], rgb.shape[0])):
            if len(self.followers) >= self.num_poses:
                break
            if any(person.overlaps(other) for other in known + new):
                continue
            new.append(person)
            landmarker = self._idle.pop() if self._idle else self._new_follower()
            self.followers.append(_Follower(landmarker, person.crop(), person))
        return new

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        for landmarker in [self._finder] + [f.landmarker for f in self.followers] + self._idle:
            landmarker.close()
        self.followers, self._idle = [], []


def _scale_matrix(width: int, height: int) -> np.ndarray:
    """The 2x3 map of an image onto itself scaled to the unit square (landmarks are normalised)."""
    return np.array([[1.0 / width, 0.0, 0.0], [0.0, 1.0 / height, 0.0]])


def _people(result, matrix: np.ndarray) -> list[_Person]:
    """A PoseLandmarkerResult on an image seen through ``matrix`` (image pixels -> the
    landmarker's input, in its normalised units) -> people in image pixels."""
    people = []
    for landmarks, world in zip(result.pose_landmarks, result.pose_world_landmarks):
        norm = np.array([[p.x, p.y] for p in landmarks], np.float64)
        visibility = np.array([p.visibility or 0.0 for p in landmarks], np.float32)
        people.append(_Person(to_image(norm, matrix), visibility,
                              np.array([[p.x, p.y, p.z] for p in world], np.float32)))
    return people
