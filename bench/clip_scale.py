"""Is the lifted person human-sized? Median bone lengths, height and pelvis depth on a clip.

    .venv/bin/python bench/clip_scale.py [--model models/lifter_articulated.json] [--source CLIP]

Runs the detector and the lifter core (no ROS) on every frame of the sample clip with its
calibration, as the pipeline does, and prints medians over all lifted frames.
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch

from pose3d_ros.constraints import bone_lengths
from pose3d_ros.detection import create_detector
from pose3d_ros.geometry import CameraIntrinsics
from pose3d_ros.lifting.inputs import PersonKeypoints
from pose3d_ros.lifting.online import OnlineLifter
from pose3d_ros.metrics import head_to_ankle
from pose3d_ros.networks.cards import load_model
from pose3d_ros.resources import resolve, sample_clip
from pose3d_ros.skeleton import H36M17
from pose3d_ros.video import FrameSource

LIMB_BONES = ("r_knee", "r_ankle", "l_elbow", "l_wrist")  # bones named by their child joint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lifter_articulated.json")
    parser.add_argument("--source", default=str(sample_clip()))
    parser.add_argument("--calibration", default="sample_camera.yaml")
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args()
    torch.set_num_threads(1)
    frames = FrameSource(args.source, args.width)
    calibration = CameraIntrinsics.from_yaml(resolve(args.calibration, "config"))
    detector = create_detector("mediapipe")
    lifter = OnlineLifter(load_model(resolve(args.model, "models")), "cpu")
    poses, depths, index, tracks = [], [], 0, {}
    while (frame := frames.read()) is not None:
        cam = calibration.scaled_to(frame.shape[1], frame.shape[0])
        people = [PersonKeypoints(d.track_id, d.keypoints.astype(float), d.confidence.astype(float))
                  for d in detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))]
        states = [tracks.setdefault(p.track_id, lifter.new_track()) for p in people]
        for person in lifter.update(index / frames.fps, people, cam, states):
            poses.append(person.joints)
            if person.translation is not None:
                depths.append(person.translation[2])
        index += 1
    poses = np.array(poses)
    lengths = np.median(bone_lengths(poses), axis=0)
    print(f"{args.model}: {len(poses)} lifted frames of {index}")
    for name in LIMB_BONES:
        child = H36M17.index(name)
        print(f"  {H36M17.joint_names[H36M17.parents[child]]}-{name}: {lengths[H36M17.bone_of(child)]:.3f} m")
    print(f"  head to ankle: {np.median(head_to_ankle(poses)):.2f} m; pelvis depth: {np.median(depths):.1f} m")


if __name__ == "__main__":
    main()
