"""The keypoint detector node on real rclpy: bad images are skipped and counted, good ones
published; plus its pure helpers. Uses the replay backend (no model) for speed."""
from __future__ import annotations

import inspect
import time

import cv2
import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

from pose3d_ros.detection import BACKENDS, Detection, backend_options
from pose3d_ros.detection.replay_backend import save_replay
from pose3d_ros.nodes.clouds import from_cloud, keypoints_from_cloud, keypoints_to_cloud
from pose3d_ros.nodes.keypoint_detector import PARAMS, KeypointDetectorNode, overlay
from pose3d_ros.skeleton import COCO17

DEADLINE_S = 30.0  # generous: the machine is shared; tests wait for conditions, not for time
FRAME_ID = "cam"


def _person(track_id: int, shift: float) -> Detection:
    kps = np.random.default_rng(track_id).uniform(5, 25, (17, 2)).astype(np.float32) + shift
    return Detection.from_source(track_id, kps, np.linspace(0.2, 1.0, 17, dtype=np.float32), COCO17)


def _image(encoding="bgr8", width=32, height=24, step=None, data=None, stamp=1) -> Image:
    channels = {"bgr8": 3, "rgb8": 3, "mono8": 1}.get(encoding, 3)
    step = width * channels if step is None else step
    msg = Image(encoding=encoding, width=width, height=height, step=step)
    msg.header.frame_id, msg.header.stamp.sec = FRAME_ID, stamp
    msg.data = bytes(step * height) if data is None else data
    return msg


def _compressed(data: bytes, stamp=1) -> CompressedImage:
    msg = CompressedImage(format="jpeg", data=data)
    msg.header.frame_id, msg.header.stamp.sec = FRAME_ID, stamp
    return msg


BAD_IMAGES = {
    "unsupported encoding": _image(encoding="yuv9000"),
    "step too small": _image(step=10),
    "empty": _image(width=0, height=0, data=b""),
    "truncated data": _image(data=bytes(100)),
}
BAD_COMPRESSED = {
    "empty": _compressed(b""),
    "corrupt": _compressed(bytes(range(256)) * 4),
}


class Camera(Node):
    """Publishes images like a camera driver and records what the detector publishes."""

    def __init__(self) -> None:
        super().__init__("camera")
        self.images = self.create_publisher(Image, "image_raw", qos_profile_sensor_data)
        self.compressed = self.create_publisher(CompressedImage, "image_raw/compressed", qos_profile_sensor_data)
        self.keypoints: list[PointCloud2] = []
        self.create_subscription(PointCloud2, "keypoints", self.keypoints.append, QoSProfile(depth=50))


def _spin_until(executor: SingleThreadedExecutor, condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        executor.spin_once(timeout_sec=0.05)


@pytest.mark.parametrize("compressed", [False, True], ids=["image", "compressed"])
def test_bad_images_are_skipped_counted_and_the_node_keeps_going(ros, tmp_path, compressed):
    recorded = [[_person(4, 0.0)], [_person(4, 1.0), _person(9, 40.0)]]
    save_replay(tmp_path / "kps.npz", recorded)
    node = KeypointDetectorNode(parameter_overrides=[
        Parameter("backend", value="replay"), Parameter("replay_file", value=str(tmp_path / "kps.npz")),
        Parameter("compressed", value=compressed)])
    camera = Camera()
    executor = SingleThreadedExecutor()
    for n in (node, camera):
        executor.add_node(n)
    try:
        pub = camera.compressed if compressed else camera.images
        _spin_until(executor, lambda: pub.get_subscription_count() and node.pub.get_subscription_count(),
                    "discovery")
        bad = BAD_COMPRESSED if compressed else BAD_IMAGES
        for i, (cause, msg) in enumerate(bad.items(), start=1):
            pub.publish(msg)
            _spin_until(executor, lambda: node.diag.counts["bad_images"] == i, f"the {cause} image to be counted")
        good_bgr = np.full((24, 32, 3), 90, np.uint8)
        good = (_compressed(cv2.imencode(".jpg", good_bgr)[1].tobytes(), stamp=77) if compressed
                else _image(data=good_bgr.tobytes(), stamp=77))
        pub.publish(good)
        _spin_until(executor, lambda: camera.keypoints, "keypoints of the good image")
    finally:
        executor.shutdown()
        node.destroy_node()
        camera.destroy_node()
    (msg,) = camera.keypoints  # nothing for the bad images
    assert msg.header.stamp.sec == 77 and msg.header.frame_id == FRAME_ID
    points = from_cloud(msg)
    np.testing.assert_allclose(points["x"], recorded[0][0].keypoints[:, 0])  # the replay's first frame
    assert node.diag.counts["images"] == len(bad) + 1 and node.diag.counts["bad_images"] == len(bad)


def test_every_backend_option_is_a_declared_parameter_and_a_constructor_argument():
    declared = {p.name: p.default for p in PARAMS}
    assert declared["backend"] in BACKENDS
    for backend in BACKENDS.values():
        accepted = inspect.signature(backend.load().__init__).parameters
        for argument, option in backend.arguments:
            assert option in declared, f"{backend.name}: {option} is not declared by the node"
            assert argument in accepted, f"{backend.name}: {argument} is not an argument of {backend.factory}"
            # The constructor's own default is the parameter's: a node and a direct call agree.
            assert accepted[argument].default in (declared[option], inspect.Parameter.empty), (backend.name, argument)
    assert backend_options("replay", dict(declared, replay_file="k.npz")) == {
        "file": "k.npz", "loop": False, "track_min_iou": 0.2, "track_max_missed": 10}
    assert backend_options("mediapipe_tasks", declared)["num_poses"] == 4
    with pytest.raises(ValueError, match="unknown detector backend 'nope'"):
        backend_options("nope", declared)


def test_keypoint_codec_round_trip_and_overlay():
    people = [_person(4, 0.0), _person(9, 40.0)]
    msg = keypoints_to_cloud(Header(frame_id=FRAME_ID), people)
    points = from_cloud(msg)
    assert len(points) == 34 and [f.name for f in msg.fields] == ["x", "y", "confidence", "track_id", "joint"]
    assert points["track_id"].tolist() == [4] * 17 + [9] * 17
    assert points["joint"].tolist() == list(range(17)) * 2
    decoded = keypoints_from_cloud(msg)
    assert not decoded.causes and [p.track_id for p in decoded.people] == [4, 9]
    for det, person in zip(people, decoded.people):
        np.testing.assert_allclose(person.keypoints, det.keypoints, atol=1e-5)
        np.testing.assert_allclose(person.confidence, det.confidence, atol=1e-6)
    assert keypoints_from_cloud(keypoints_to_cloud(Header(), [])).people == []
    rgb = np.zeros((80, 100, 3), np.uint8)
    drawn = overlay(rgb, people)
    assert drawn.shape == rgb.shape and drawn.any() and not rgb.any()
