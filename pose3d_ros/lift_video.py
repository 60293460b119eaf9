"""``pose3d-lift``: 3D poses of the people in a recorded video, offline.

    pose3d-lift video.mp4 --output poses.npz [--camera-info calib.yaml] [--model lifter_sym243.json]

The whole recording is detected first (any detector backend), then each unbroken stretch of
each track is lifted at once, so a symmetric model sees the frames before and after each
pose (the online node sees only the past). The default model is the causal TCN
``lifter_causal81`` (also the node's): on detected keypoints it is more accurate than the
symmetric one and smoother than the per-frame ``lifter_articulated`` (README, Models); this
command lifts the 2D alone, without the node's fusion with the detector's 3D or its fitting.
The .npz holds, per track ``<id>``:
``track_<id>_frames`` (frame indices), ``track_<id>_joints`` (N, 17, 3) H36M-17 joints in
the camera's optical frame, metres (root-relative where the root could not be placed),
``track_<id>_translation`` (N, 3) root positions (NaN where not placed) and
``track_<id>_confidence`` (N, 17); plus ``fps``, ``width``, ``height``, ``model``.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import cv2
import numpy as np

from .detection import BACKENDS, create_detector
from .detection.registry import parse_options
from .geometry import CameraIntrinsics
from .lifting.sequence import lift_recording
from .metrics import head_to_ankle
from .networks.cards import ModelLoadError, load_model
from .resources import resolve
from .video import FrameSource


def detect_all(frames: FrameSource, detector) -> tuple[dict[int, list], tuple[int, int]]:
    """Per track id: [(frame index, keypoints (17, 2), confidence (17,))]; and (width, height)."""
    tracks: dict[int, list] = defaultdict(list)
    size, index = (0, 0), 0
    while (bgr := frames.read()) is not None:
        size = (bgr.shape[1], bgr.shape[0])
        for det in detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)):
            tracks[det.track_id].append((index, det.keypoints, det.confidence))
        index += 1
    return tracks, size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pose3d-lift", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", help="video file or folder of images")
    parser.add_argument("--output", required=True, help="the .npz to write")
    parser.add_argument("--model", default="lifter_causal81.json",
                        help="lifter model card (absolute, or a file in models/)")
    parser.add_argument("--camera-info", default="",
                        help="ROS calibration YAML; without one a 60-degree horizontal field of view is assumed")
    parser.add_argument("--resize-width", type=int, default=640, help="detect on frames this wide (0: as recorded)")
    parser.add_argument("--backend", default="mediapipe", choices=list(BACKENDS),
                        help="detector backend (default: mediapipe, the one person of the README's figures)")
    parser.add_argument("--backend-option", action="append", default=[], metavar="NAME=VALUE",
                        help="detector constructor option, e.g. file=recorded.npz for the replay backend, "
                             "num_poses=2 for mediapipe_tasks")
    args = parser.parse_args(argv)
    try:
        loaded = load_model(resolve(args.model, "models"))
        options = parse_options(args.backend, dict(o.split("=", 1) for o in args.backend_option))
        detector = create_detector(args.backend, **options)
        frames = FrameSource(args.video, args.resize_width)
    except (ModelLoadError, OSError, ValueError) as exc:
        sys.exit(f"pose3d-lift: {exc}")
    try:
        tracks, (width, height) = detect_all(frames, detector)
    finally:
        detector.close()
        frames.close()
    intrinsics = (CameraIntrinsics.from_yaml(args.camera_info).scaled_to(width, height) if args.camera_info
                  else CameraIntrinsics.default_for(width, height))
    out: dict[str, np.ndarray] = {"fps": np.float64(frames.fps), "width": np.int64(width),
                                  "height": np.int64(height), "model": np.str_(loaded.path.name)}
    for track_id, rows in sorted(tracks.items()):
        index = np.array([r[0] for r in rows])
        keypoints, confidence = np.stack([r[1] for r in rows]), np.stack([r[2] for r in rows])
        runs = np.split(np.arange(len(index)), np.flatnonzero(np.diff(index) > 1) + 1)  # unbroken stretches
        lifted = [lift_recording(loaded, keypoints[r], confidence[r], intrinsics) for r in runs]
        joints, translation = np.concatenate([j for j, _ in lifted]), np.concatenate([t for _, t in lifted])
        out.update({f"track_{track_id}_frames": index, f"track_{track_id}_joints": joints.astype(np.float32),
                    f"track_{track_id}_translation": translation.astype(np.float32),
                    f"track_{track_id}_confidence": confidence.astype(np.float32)})
        placed = np.isfinite(translation[:, 0])
        size = (f"; medians: head to ankle {np.median(head_to_ankle(joints)):.2f} m, "
                f"depth {np.median(translation[placed, 2]):.1f} m" if placed.any() else "")
        print(f"track {track_id}: {len(index)} frames, {int(placed.sum())} placed in the camera frame{size}")
    np.savez_compressed(args.output, **out)
    print(f"{len(tracks)} tracks from {args.video} lifted with {loaded.path.name} -> {args.output}")


if __name__ == "__main__":
    main()
