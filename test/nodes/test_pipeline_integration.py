"""End to end on real rclpy and DDS: the sample clip through detector and lifter.

1. The composed pipeline (all nodes in one process, as pose3d-pipeline runs them).
2. The video source in a separate process, so images cross DDS between processes.
"""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image, PointCloud2
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from pose3d_ros.nodes.clouds import skeletons_from_cloud
from pose3d_ros.nodes.keypoint_detector import KeypointDetectorNode
from pose3d_ros.nodes.lifter import LifterNode
from pose3d_ros.nodes.pipeline import drain, run_until_done
from pose3d_ros.nodes.video_source import VideoSourceNode
from pose3d_ros.resources import sample_clip
from pose3d_ros.skeleton import H36M17

FRAMES = 96
FRAME_ID = "camera_optical_frame"
TIMEOUT_S = 180.0

pytestmark = pytest.mark.skipif(not sample_clip().is_file(), reason="sample clip missing: run scripts/setup.sh")


class Probe(Node):
    """Records everything the pipeline publishes."""

    def __init__(self) -> None:
        super().__init__("probe")
        self.images, self.keypoints, self.skeletons, self.markers, self.tf = [], [], [], [], []
        qos = QoSProfile(depth=100)
        self.create_subscription(Image, "image_raw", lambda m: self.images.append(m.header), qos)
        self.create_subscription(PointCloud2, "keypoints", self.keypoints.append, qos)
        self.create_subscription(PointCloud2, "skeletons_3d", self.skeletons.append, qos)
        self.create_subscription(MarkerArray, "skeleton_markers", self.markers.append, qos)
        self.create_subscription(TFMessage, "/tf", self.tf.append, qos)


def _stamp(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


def _check_outputs(probe: Probe, image_stamps: set, lifter: LifterNode) -> None:
    # One skeleton message per keypoints message the lifter took (it skips, and counts, the ones
    # a newer message replaced), with that image's stamp and frame_id.
    assert len(probe.keypoints) >= FRAMES // 3, f"detector processed only {len(probe.keypoints)} images"
    keypoint_stamps = [_stamp(m.header) for m in probe.keypoints]
    skeleton_stamps = [_stamp(m.header) for m in probe.skeletons]
    # (from the first message it took: one replaced before it leaves no gap to count)
    taken = keypoint_stamps[keypoint_stamps.index(skeleton_stamps[0]):]
    assert len(skeleton_stamps) + lifter.diag.counts["skipped"] == len(taken), dict(lifter.diag.counts)
    assert set(skeleton_stamps) <= set(keypoint_stamps)
    assert sorted(skeleton_stamps, key=keypoint_stamps.index) == skeleton_stamps
    assert all(_stamp(m.header) in image_stamps for m in probe.skeletons)
    assert {m.header.frame_id for m in probe.skeletons} == {FRAME_ID}

    with_people = [m for m in probe.skeletons if m.width > 0]
    assert len(with_people) >= 0.8 * len(probe.skeletons), "the person in the clip was rarely lifted"
    thighs = []
    tf_by_stamp = {}
    for msg in probe.tf:
        for t in msg.transforms:
            tf_by_stamp.setdefault(_stamp(t.header), []).append(t)
    poses = with_tf = 0
    for msg in with_people:
        transforms = tf_by_stamp.get(_stamp(msg.header), [])
        for person in skeletons_from_cloud(msg):
            tid, xyz = person.track_id, person.joints
            assert 0.5 < xyz[0, 2] < 100.0, "skeleton not in front of the camera"
            thighs.append(np.linalg.norm(xyz[H36M17.index("r_knee")] - xyz[H36M17.index("r_hip")]))
            # TF: the body frame under the camera frame, one child frame per joint, for every pose
            # that passed the checks (all joints valid), none for one that failed (tf_plausible_only).
            body = [t for t in transforms if t.child_frame_id == f"body_{tid}"]
            poses, with_tf = poses + 1, with_tf + len(body)
            assert len(body) == 1 or not person.valid.all()
            if body:
                assert body[0].header.frame_id == FRAME_ID
                children = {t.child_frame_id for t in transforms if t.header.frame_id == f"body_{tid}"}
                assert children == {f"body_{tid}/{name}" for name in H36M17.joint_names}
                q = body[0].transform.rotation
                assert abs(np.linalg.norm([q.x, q.y, q.z, q.w]) - 1.0) < 1e-6
    print(f"TF for {with_tf} of {poses} poses")
    assert with_tf >= 0.5 * poses, f"TF for only {with_tf} of {poses} poses"

    # A trained lifter gives human-sized bones (H36M subjects' thighs are about 0.45 m) once its
    # window holds real frames: a new track starts from a window padded with its first frame,
    # and the sizes settle over the first 40 or so frames, hence the second half only.
    settled = np.median(thighs[len(thighs) // 2:])
    assert 0.3 < settled < 0.7, f"implausible median thigh length {settled:.2f} m"

    assert len(probe.markers) == len(probe.skeletons)
    for array in probe.markers:
        for marker in array.markers:
            if marker.action != Marker.ADD:
                continue
            assert marker.header.frame_id == FRAME_ID and marker.ns.startswith("track_")
            assert marker.scale.x > 0 and marker.pose.orientation.w == 1.0
            if marker.type == Marker.SPHERE_LIST:
                assert len(marker.points) == len(marker.colors) == 17
            elif marker.type == Marker.ARROW:  # the pelvis's motion over the next half second
                assert len(marker.points) == 2 and np.linalg.norm(
                    [marker.points[1].x - marker.points[0].x, marker.points[1].z - marker.points[0].z]) < 5.0
            else:
                assert marker.type == Marker.LINE_LIST
                assert len(marker.points) == len(marker.colors) == 2 * len(H36M17.bones)


def test_composed_pipeline_on_sample_clip(ros):
    # As pose3d-pipeline runs it: each node on a thread of its own; the source paces itself.
    source = VideoSourceNode(parameter_overrides=[Parameter("max_frames", value=FRAMES),
                                                  Parameter("rate_hz", value=15.0)])
    nodes = [source, KeypointDetectorNode(), LifterNode(), Probe()]
    try:
        run_until_done(nodes, source, nodes[2])
        probe = nodes[3]
        assert source.published == FRAMES
        _check_outputs(probe, {_stamp(h) for h in probe.images}, nodes[2])
    finally:
        for node in nodes:
            node.destroy_node()


def test_source_in_separate_process(ros):
    detector = KeypointDetectorNode()  # image_reliability auto: reliable, as video_source publishes
    lifter, probe = LifterNode(), Probe()
    executor = SingleThreadedExecutor()
    for node in (detector, lifter, probe):
        executor.add_node(node)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pose3d_ros.nodes.video_source", "--ros-args", "-p", f"max_frames:={FRAMES}",
         "-p", "rate_hz:=15.0", "-p", "wait_for_subscribers:=true"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert proc.poll() == 0, f"video_source failed or timed out:\n{proc.communicate(timeout=5)[0]}"
        # The images came from the other process's node, over DDS.
        assert probe.images and len(probe.images) <= FRAMES
        drain(lifter, lambda: executor.spin_once(timeout_sec=0.05))
        _check_outputs(probe, {_stamp(h) for h in probe.images}, lifter)
    finally:
        if proc.poll() is None:
            proc.kill()
        for node in (detector, lifter, probe):
            node.destroy_node()
