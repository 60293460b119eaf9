"""A multi-person detector backend on videos of a known number of people: how often all of
them are found, and whether their track ids hold.

Made for Pose2Sim's Demo_MultiPerson (two people on a treadmill, four cameras, 100 frames of
1088x1920 at 60 fps; BSD-3-Clause, never committed here):

    .venv/bin/python -m pip download pose2sim==0.10.49 --no-deps -d .cache/pose2sim
    unzip -q .cache/pose2sim/pose2sim-0.10.49-py3-none-any.whl 'Pose2Sim/Demo_MultiPerson/*' -d .cache/pose2sim
    .venv/bin/python bench/multi_person.py .cache/pose2sim/Pose2Sim/Demo_MultiPerson/videos/*.mp4

Per video (frames resized to --width, as video_source does): the frames with at least
--people people found, the track ids and their frame counts, and the jumps: frames where a
track's box centre moved more than half the box height since the track's previous frame (an
id handed to another person from one frame to the next shows as one); with --log each
frame's ids and boxes.
"""
from __future__ import annotations

import argparse
import os
from collections import Counter

import cv2
import numpy as np

from pose3d_ros.detection import DEFAULT_BACKEND, create_detector
from pose3d_ros.detection.registry import BACKENDS, parse_options
from pose3d_ros.tracking import keypoint_box
from pose3d_ros.video import FrameSource


def measure(video: str, detector, width: int, people: int, log: bool = False) -> dict:
    frames = FrameSource(video, width)
    found, ids, jumps = 0, Counter(), 0
    last: dict[int, np.ndarray] = {}
    count = 0
    while (bgr := frames.read()) is not None:
        detections = detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        found += len(detections) >= people
        if log:  # id@(box x0, y0, x1, y1) per person
            print(f"  frame {count}: " + ", ".join(
                f"{d.track_id}@{tuple(int(v) for v in keypoint_box(d.keypoints, d.confidence))}"
                for d in sorted(detections, key=lambda d: d.track_id)))
        for det in detections:
            box = keypoint_box(det.keypoints, det.confidence)
            centre = 0.5 * (box[:2] + box[2:])
            if det.track_id in last and np.linalg.norm(centre - last[det.track_id]) > 0.5 * (box[3] - box[1]):
                jumps += 1
            last[det.track_id] = centre
            ids[det.track_id] += 1
        count += 1
    frames.close()
    return {"frames": count, "found": found, "ids": dict(sorted(ids.items())), "jumps": jumps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="+")
    parser.add_argument("--people", type=int, default=2, help="people in view throughout")
    parser.add_argument("--width", type=int, default=640, help="resize frames to this width (0: keep)")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, choices=list(BACKENDS))
    parser.add_argument("--backend-option", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--log", action="store_true", help="print each frame's track ids and boxes")
    args = parser.parse_args()
    options = parse_options(args.backend, dict(o.split("=", 1) for o in args.backend_option))
    print(f"{args.backend} {options or ''}, frames {args.width} wide, load average {os.getloadavg()[0]:.1f}")
    total = Counter()
    for video in args.videos:
        detector = create_detector(args.backend, **options)
        try:
            r = measure(video, detector, args.width, args.people, args.log)
        finally:
            detector.close()
        total.update(frames=r["frames"], found=r["found"], jumps=r["jumps"])
        print(f"{os.path.basename(video)}: {args.people}+ people in {r['found']} of {r['frames']} frames "
              f"({100 * r['found'] / r['frames']:.0f} %); ids (frames): {r['ids']}; jumps: {r['jumps']}", flush=True)
    print(f"all: {args.people}+ people in {total['found']} of {total['frames']} frames "
          f"({100 * total['found'] / total['frames']:.0f} %), {total['jumps']} jumps")


if __name__ == "__main__":
    main()
