"""Online lifting: per-track causal buffers of 2D keypoints, one batched step for all tracks.

The lifter holds no tracks: each track's state (:class:`LiftTrack`, from
:meth:`OnlineLifter.new_track`) belongs to the caller, which keeps one per person
(:class:`~.online_pose.OnlinePoseEstimator` in its own per-track registry) and drops it with
the person. A track keeps the last ``receptive_field`` frames of focal-normalised keypoints. A new
track is padded by repeating its first frame, as in training (edge padding), so it gets a
pose from its first frame on. The network runs frame by frame (streaming_tcn: one new
column per layer instead of the whole receptive field), with the same outputs as the model
on the buffer. The root-relative output is placed in the camera frame by solving the root
translation against the 2D keypoints.

A gravity-levelled lifter (card ``input_normalization: level``) takes the rays of the level
camera beside the real one (geometry.levelling_rotation, from ``camera_up``) and returns poses
in that level frame; they are turned back to the camera's optical frame here.

Device: ``cuda`` runs in fp16; any CUDA failure (out of memory, a lost device, no CUDA at
all) moves the lifter to the CPU in fp32 for good, with one warning; each track's state is
rebuilt from its buffer when the track is next lifted.
"""
from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import CameraIntrinsics, level_rays, levelling_rotation, normalize_with_intrinsics
from ..networks.cards import LoadedModel
from .inputs import MIN_CONFIDENCE, PersonKeypoints, choose_device, lifter_input, root_translation
from .streaming_tcn import FramewiseStream, StreamingTemporalConv, StreamState


@dataclass
class Person3D:
    """Lifted pose of one person: camera optical frame, metres."""

    track_id: int
    joints: np.ndarray  # (17, 3); root-relative when translation is None
    confidence: np.ndarray  # (17,)
    translation: np.ndarray | None  # (3,) root position in the camera frame, if solvable
    new_segment: bool = False  # the track started or restarted with this frame

    @property
    def metric(self) -> bool:
        return self.translation is not None


@dataclass
class LiftTrack:
    """One track's lifting state: its input buffer, last stamp and network state (built for the
    lifter's ``epoch``: a device change makes it stale)."""

    buffer: deque
    last_stamp: float | None = None
    state: StreamState | None = None
    epoch: int = 0


class OnlineLifter:
    """Lift tracked people frame by frame with a causal model (a temporal convolution network,
    streamed, or a single-frame lifter).

    device: auto, cpu or cuda (see the module docstring for the CPU fallback).
    track_gap_s: a track whose previous frame is older than this is restarted (buffer cleared).
    warn: receives the one fallback warning (default: :func:`warnings.warn`).
    min_confidence: joints below it are unseen for a lifter with a confidence channel.
    camera_up: the world's up direction in the camera's optical frame (geometry.camera_up from a
    pitch and roll), for a gravity-levelled lifter; None: a level camera. Other lifters ignore it.
    May be replaced between frames (a camera on a pan-tilt head).
    """

    def __init__(self, loaded: LoadedModel, device: str = "cpu", track_gap_s: float = 0.5,
                 warn: Callable[[str], None] | None = None, min_confidence: float = MIN_CONFIDENCE,
                 camera_up: np.ndarray | None = None) -> None:
        if not loaded.causal:
            raise ValueError(f"{loaded.path}: online lifting needs a causal model")
        if loaded.card.input_normalization not in ("intrinsics", "level"):
            raise ValueError(f"{loaded.path}: online lifting needs input_normalization 'intrinsics' or 'level'")
        self.levelled = loaded.card.input_normalization == "level"
        self.camera_up = camera_up
        self.warn = warn or (lambda text: warnings.warn(text, RuntimeWarning, stacklevel=3))
        self.model = loaded.model
        self.in_features, self.min_confidence = loaded.model.in_features, min_confidence
        self.receptive_field = loaded.receptive_field
        self.track_gap_s = track_gap_s
        self.epoch = 0  # bumped when the device changes: every track's state is then stale
        self.device = choose_device(device)
        try:
            self.stream = self._stream_on(self.device)
        except (RuntimeError, AssertionError) as exc:  # AssertionError: torch built without CUDA
            self._fall_back_to_cpu(exc)

    @property
    def camera_up(self) -> np.ndarray:
        """The world's up direction in the camera's optical frame."""
        return self._up

    @camera_up.setter
    def camera_up(self, up: np.ndarray | None) -> None:
        self._up = np.array([0.0, -1.0, 0.0]) if up is None else np.asarray(up, dtype=np.float64)
        self._level = levelling_rotation(self._up) if self.levelled else None  # raises naming a bad vector

    def _stream_on(self, device: str) -> StreamingTemporalConv | FramewiseStream:
        dtype = torch.float16 if device == "cuda" else torch.float32
        stream = FramewiseStream if self.receptive_field == 1 else StreamingTemporalConv
        return stream(self.model, device, dtype)

    def _fall_back_to_cpu(self, exc: BaseException) -> None:
        """Continue on the CPU; tracks rebuild their state from their buffers (_run)."""
        self.warn(f"CUDA failed ({type(exc).__name__}: {exc}); lifting on the CPU from now on")
        self.device = "cpu"
        self.stream = self._stream_on("cpu")
        self.epoch += 1

    def new_track(self) -> LiftTrack:
        """A fresh track state, for :meth:`update`."""
        return LiftTrack(deque(maxlen=self.receptive_field), epoch=self.epoch)

    def _step(self, tracks: list[LiftTrack], frames: np.ndarray) -> np.ndarray:
        """Push each track's newest frame (B, 17, F); returns root-relative poses (B, 17, 3)."""
        try:
            out = self._run(tracks, frames)
        except RuntimeError as exc:  # includes torch.cuda.OutOfMemoryError
            if self.device == "cpu":
                raise
            self._fall_back_to_cpu(exc)
            out = self._run(tracks, frames)
        return out - out[:, :1]

    def _run(self, tracks: list[LiftTrack], frames: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(frames.reshape(len(frames), -1).astype(np.float32))
        for track, frame in zip(tracks, x):
            if track.state is None:  # a new track: its buffer repeats this frame
                track.state = self.stream.init_state(frame)
            elif track.epoch != self.epoch:  # built on another device: replay the buffer but the newest
                past = torch.from_numpy(np.stack(track.buffer).reshape(len(track.buffer), -1).astype(np.float32))
                track.state = self.stream.init_state(past[0])
                for old in past[1:-1]:
                    self.stream.step([track.state], old[None])
            track.epoch = self.epoch
        with torch.no_grad():
            return self.stream.step([t.state for t in tracks], x).float().cpu().numpy().astype(np.float64)

    def _continue(self, track: LiftTrack, stamp: float) -> bool:
        """Restart the track after a gap or a stamp going backwards (a looping bag); True when it
        starts with this frame."""
        if track.buffer and not (0.0 <= stamp - track.last_stamp <= self.track_gap_s):
            track.buffer.clear()
            track.state = None
        track.last_stamp = stamp
        return not track.buffer

    def update(self, stamp: float, people: Sequence[PersonKeypoints], intrinsics: CameraIntrinsics,
               tracks: Sequence[LiftTrack]) -> list[Person3D]:
        """Add one frame of keypoints (stamp in seconds) to each person's track state
        (``tracks[i]`` is ``people[i]``'s) and return the lifted people.

        Non-finite keypoints get confidence 0 and are replaced by the track's previous value
        (or the mean of the finite joints); a person with no finite joint is skipped (its
        track is left as it was).
        """
        stepped, frames, points, kept, new_segments = [], [], [], [], []
        for person, track in zip(people, tracks, strict=True):
            finite = np.all(np.isfinite(person.keypoints), axis=-1)
            if not finite.any():
                continue
            uv = normalize_with_intrinsics(np.where(finite[:, None], person.keypoints, 0.0), intrinsics)
            rays = uv if self._level is None else level_rays(uv, self._level).astype(uv.dtype)
            new = self._continue(track, stamp)
            buf = track.buffer
            if not finite.all():
                fill = buf[-1][:, :2] if buf else rays[finite].mean(axis=0)
                rays = np.where(finite[:, None], rays, fill)
                person = PersonKeypoints(person.track_id, person.keypoints,
                                         np.where(finite, person.confidence, 0.0))
            frame = lifter_input(rays, person.confidence, self.in_features, self.min_confidence)
            if not buf:
                buf.extend([frame] * self.receptive_field)
            else:
                buf.append(frame)
            stepped.append(track)
            frames.append(frame)
            points.append(uv)
            kept.append(person)
            new_segments.append(new)
        if not kept:
            return []
        rel = self._step(stepped, np.stack(frames))
        if self._level is not None:  # level frame -> camera frame
            rel = rel @ self._level
        out = []
        for person, joints, uv, new in zip(kept, rel, points, new_segments):
            out.append(Person3D(person.track_id, joints, person.confidence,
                                root_translation(joints, uv, person.confidence), new))
        return out
