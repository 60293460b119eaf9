"""LifterNode through real rclpy in one process: outputs and robustness to bad input.

A feeder node publishes ``keypoints`` clouds (and CameraInfo); a probe records what the
lifter publishes. Every step waits for the lifter to have handled the message, never for
a fixed time. The lifter is a tiny causal model that always outputs the same plausible
pose, so metric placement is exact.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
import torch
from builtin_interfaces.msg import Time as TimeMsg
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, PointCloud2
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from pose3d_ros.geometry import CameraIntrinsics, camera_up, levelling_rotation, project
from pose3d_ros.lifting.inputs import PersonKeypoints
from pose3d_ros.networks.cards import ModelLoadError
from pose3d_ros.nodes.camera_msgs import camera_info_msg
from pose3d_ros.nodes.clouds import CloudSkeleton, keypoints_to_cloud, skeletons_from_cloud
from pose3d_ros.nodes.lifter import LifterNode

ROOT = Path(__file__).resolve().parents[2]
CAM = CameraIntrinsics.default_for(640, 480)
FRAME = "camera_optical_frame"
T = np.array([0.1, -0.2, 3.0])
DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def oracle_card(tmp_path_factory, save_oracle_lifter):
    """A causal tiny lifter whose output is always the standing pose."""
    return save_oracle_lifter(tmp_path_factory.mktemp("model") / "oracle")


class Rig:
    """Feeder + probe + lifter on one executor."""

    def __init__(self, lifter: LifterNode) -> None:
        self.lifter = lifter
        self.io = Node("lifter_test_io")
        qos = QoSProfile(depth=100)
        self.kp_pub = self.io.create_publisher(PointCloud2, "keypoints", 10)
        self.info_pub = self.io.create_publisher(CameraInfo, "camera_info", 10)
        self.skeletons, self.markers, self.tf, self.diagnostics = [], [], [], []
        self.io.create_subscription(PointCloud2, "skeletons_3d", self.skeletons.append, qos)
        self.io.create_subscription(MarkerArray, "skeleton_markers", self.markers.append, qos)
        self.io.create_subscription(TFMessage, "/tf", self.tf.append, qos)
        self.io.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, qos)
        self.executor = SingleThreadedExecutor()
        for node in (lifter, self.io):
            self.executor.add_node(node)
        self.spin_until(lambda: self.kp_pub.get_subscription_count() > 0
                        and lifter.skeleton_pub.get_subscription_count() > 0
                        and lifter.marker_pub.get_subscription_count() > 0)

    def spin_until(self, condition) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            assert time.monotonic() < deadline, "timed out waiting for the lifter"
            self.executor.spin_once(timeout_sec=0.05)

    def camera_info(self) -> None:
        self.spin_until(lambda: self.info_pub.get_subscription_count() > 0)
        self.info_pub.publish(camera_info_msg(CAM, Header(frame_id=FRAME)))
        self.spin_until(lambda: self.lifter.intrinsics is not None)

    def send(self, stamp: float, people: dict[int, tuple[np.ndarray, np.ndarray]],
             world: dict[int, np.ndarray] | None = None) -> None:
        """Publish one keypoints cloud (track id -> (pixels, confidence), and the detector's 3D
        of some); wait until handled."""
        ns = round(stamp * 1e9)
        header = Header(stamp=TimeMsg(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=FRAME)
        handled = self.lifter.diag.counts["frames"] + 1
        world = world or {}
        self.kp_pub.publish(keypoints_to_cloud(header, [PersonKeypoints(tid, uv, conf, world.get(tid))
                                                        for tid, (uv, conf) in people.items()]))
        self.spin_until(lambda: self.lifter.diag.counts["frames"] >= handled)
        if self.lifter.diag.counts["published"] > len(self.skeletons):  # an output is on its way
            self.spin_until(lambda: len(self.skeletons) == self.lifter.diag.counts["published"]
                            and len(self.markers) == len(self.skeletons))

    def last_people(self) -> dict[int, CloudSkeleton]:
        return {s.track_id: s for s in skeletons_from_cloud(self.skeletons[-1])}

    def close(self) -> None:
        self.executor.shutdown()
        self.lifter.destroy_node()
        self.io.destroy_node()


@pytest.fixture
def ros():
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    rclpy.init(domain_id=1 + os.getpid() % 100)  # away from other ROS processes on this machine (domain 0)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # LifterNode sets one thread for the process
    rclpy.try_shutdown()


@pytest.fixture
def rig(ros, oracle_card):
    # The oracle lifter alone (no fitting stage), so placements are exact.
    rig = Rig(LifterNode(parameter_overrides=[Parameter("model", value=str(oracle_card)),
                                              Parameter("device", value="cpu"), Parameter("fitting", value=False),
                                              Parameter("pose_source", value="model")]))
    yield rig
    rig.close()


def test_default_chain_places_the_detectors_3d_fitted_to_the_2d(ros, oracle_card, standing_pose, make_person):
    """Defaults: the detector's 3D fused with the lifter's, fitted: placed near the truth, lengths held."""
    rig = Rig(LifterNode(parameter_overrides=[Parameter("model", value=str(oracle_card)),
                                              Parameter("device", value="cpu")]))
    try:
        rig.camera_info()
        uv, conf = make_person()
        world = standing_pose + np.random.default_rng(0).normal(0, 0.01, (17, 3))
        for k in range(10):
            rig.send(1.0 + k / 30, {3: (uv, conf)}, world={3: world - world[0]})
        joints = rig.last_people()[3].joints
        assert rig.lifter.diag.counts["no_detector_3d"] == 0 and rig.lifter.diag.counts["unfitted"] == 0
        assert np.linalg.norm(joints - (standing_pose + T), axis=-1).mean() < 0.05
    finally:
        rig.close()


def test_a_levelled_lifter_is_told_the_cameras_tilt_and_it_may_change(ros, tmp_path, save_oracle_lifter,
                                                                      standing_pose, make_person):
    """A gravity-levelled oracle answers the standing pose in the level frame: the node publishes
    it turned into the camera by the camera_pitch_deg it is given, and follows a change at run time."""
    card = save_oracle_lifter(tmp_path / "level", input_normalization="level")
    params = {"model": str(card), "device": "cpu", "fitting": False, "pose_source": "model", "camera_pitch_deg": 30.0}
    rig = Rig(LifterNode(parameter_overrides=[Parameter(k, value=v) for k, v in params.items()]))
    try:
        rig.camera_info()
        uv, conf = make_person()
        standing = standing_pose - standing_pose[0]
        rig.send(1.0, {1: (uv, conf)})
        joints = rig.last_people()[1].joints
        np.testing.assert_allclose(joints - joints[0], standing @ levelling_rotation(camera_up(30.0)), atol=1e-4)
        assert rig.lifter.set_parameters([Parameter("camera_pitch_deg", value=0.0)])[0].successful
        rig.send(1.1, {1: (uv, conf)})
        joints = rig.last_people()[1].joints
        np.testing.assert_allclose(joints - joints[0], standing, atol=1e-4)
        assert not rig.lifter.set_parameters([Parameter("camera_pitch_deg", value=95.0)])[0].successful
    finally:
        rig.close()


@pytest.fixture
def make_person(standing_pose):
    """``make_person(conf=1.0, t=T)``: keypoints and confidences of the standing pose placed at t."""
    def make(conf: float = 1.0, t=T) -> tuple[np.ndarray, np.ndarray]:
        return project(standing_pose + t, CAM), np.full(17, conf)
    return make


def test_metric_skeleton_markers_and_tf(rig, standing_pose, make_person):
    rig.camera_info()
    rig.send(1.0, {7: make_person()})
    msg = rig.skeletons[-1]
    assert msg.header.frame_id == FRAME and (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1, 0)
    assert [f.name for f in msg.fields] == ["x", "y", "z", "confidence", "track_id", "joint", "valid", "vx", "vy", "vz"]
    person = rig.last_people()[7]
    np.testing.assert_allclose(person.joints, standing_pose + T, atol=1e-4)
    assert person.valid.all() and np.all(person.confidence == 1.0)
    markers = rig.markers[-1].markers
    assert {(m.ns, m.id, m.action) for m in markers} == {("track_7", 0, Marker.ADD), ("track_7", 1, Marker.ADD),
                                                         ("track_7", 2, Marker.DELETE)}  # no motion known yet
    rig.spin_until(lambda: rig.tf)
    body = [t for t in rig.tf[-1].transforms if t.child_frame_id == "body_7"]
    assert body and body[0].header.frame_id == FRAME
    assert body[0].transform.translation.z == pytest.approx(T[2], abs=1e-4)


def test_skeletons_carry_joint_velocities(rig, make_person):
    rig.camera_info()
    walk = np.array([0.0, 0.0, 1.2])  # walking away from the camera
    for k in range(6):
        rig.send(2.0 + k / 10, {3: make_person(t=T + walk * k / 10)})
        velocity = rig.last_people()[3].velocity
        if k == 0:
            assert np.isnan(velocity).all()  # unknown on a track's first frame
    np.testing.assert_allclose(velocity, np.broadcast_to(walk, (17, 3)), atol=1e-3)
    (arrow,) = [m for m in rig.markers[-1].markers if m.id == 2]
    assert arrow.action == Marker.ADD and arrow.type == Marker.ARROW
    start, end = ([p.x, p.y, p.z] for p in arrow.points)
    np.testing.assert_allclose(np.subtract(end, start), 0.5 * walk, atol=1e-3)  # half a second ahead


def test_the_parameters_file_applies_in_a_namespace(ros, tmp_path):
    """One pipeline per camera runs under a namespace: config/pipeline.yaml's keys must still match."""
    text = (ROOT / "config" / "pipeline.yaml").read_text()
    assert "marker_lifetime_s: 0.5\n" in text
    path = tmp_path / "front.yaml"
    path.write_text(text.replace("marker_lifetime_s: 0.5\n", "marker_lifetime_s: 0.9\n"))
    node = LifterNode(cli_args=["--ros-args", "-r", "__ns:=/front", "--params-file", str(path)])
    try:
        assert node.get_fully_qualified_name() == "/front/lifter" and node.p["marker_lifetime_s"] == 0.9
    finally:
        node.destroy_node()


def test_without_camera_info_root_relative_and_counted(rig, make_person):
    rig.send(1.0, {1: make_person()})
    assert rig.skeletons[-1].header.frame_id == f"{FRAME}/root_relative"
    assert rig.markers[-1].markers[0].header.frame_id == f"{FRAME}/root_relative"
    np.testing.assert_allclose(rig.last_people()[1].joints[0], 0.0, atol=1e-6)
    assert rig.lifter.diag.counts["no_camera_info"] == 1 and not rig.tf


def test_nan_and_low_confidence_joints_are_invalid(rig, make_person):
    rig.camera_info()
    uv, conf = make_person()
    uv[3] = np.nan
    uv[13, 0] = np.inf
    conf[10] = 0.05
    rig.send(1.0, {2: (uv, conf)})
    person = rig.last_people()[2]
    assert np.all(np.isfinite(person.joints))
    assert np.flatnonzero(~person.valid).tolist() == [3, 10, 13]
    assert person.confidence[3] == person.confidence[13] == 0.0
    assert rig.lifter.diag.counts["bad_keypoints"] == 1


def test_time_gap_restarts_the_track(rig, make_person):
    rig.camera_info()
    rig.send(1.0, {4: make_person()})
    first = rig.lifter.estimator.tracks[4].segment
    rig.send(1.033, {4: make_person()})
    assert rig.lifter.estimator.tracks[4].segment is first
    rig.send(1.033 + 1.5, {4: make_person()})  # longer than track_gap_s (0.5 s)
    assert rig.lifter.estimator.tracks[4].segment is not first
    assert len(rig.last_people()[4].joints) == 17


def test_duplicate_and_backwards_stamps_of_a_looping_bag(rig, make_person):
    rig.camera_info()
    for k in range(5):
        rig.send(100.0 + 0.05 * k, {1: make_person()})
    rig.send(100.2, {1: make_person()})  # the same message again
    assert rig.lifter.diag.counts["duplicate_stamps"] == 1 and len(rig.skeletons) == 5
    rig.send(100.0, {2: make_person()})  # the bag starts over: track 1 is from the "future"
    deleted = {(m.ns, m.id) for m in rig.markers[-1].markers if m.action == Marker.DELETE}
    assert deleted == {("track_1", 0), ("track_1", 1), ("track_1", 2), ("track_2", 2)}  # 2 has no motion yet
    assert set(rig.lifter.estimator.tracks) == {2} and set(rig.last_people()) == {2}


def test_many_tracks_coming_and_going_stay_bounded(rig, make_person):
    rig.camera_info()
    deleted = set()
    for k in range(60):  # three people at a time, a new id every frame, 10 Hz
        rig.send(10.0 + 0.1 * k, {k + i: make_person(t=T + [0.3 * i, 0, 0]) for i in range(3)})
        deleted |= {m.ns for m in rig.markers[-1].markers if m.action == Marker.DELETE}
        assert len(rig.lifter.estimator.tracks) <= 3 + 21  # timeout 2 s at 10 Hz
    assert {f"track_{k}" for k in range(30)} <= deleted


def test_diagnostics_count_frames_and_violations(rig, make_person):
    rig.camera_info()
    rig.send(1.0, {1: make_person()})
    rig.send(1.05, {1: make_person(t=T + [2.0, 0.0, 0.0])})  # 40 m/s
    rig.lifter.diag.publish()
    rig.spin_until(lambda: any(s.name == "pose3d_ros: lifter" for m in rig.diagnostics for s in m.status))
    status = [s for m in rig.diagnostics for s in m.status if s.name == "pose3d_ros: lifter"][-1]
    values = {kv.key: kv.value for kv in status.values}
    assert values["frames"] == "2" and values["published"] == "2" and values["poses"] == "2"
    assert values["violation_velocity"] == "1"
    assert not rig.last_people()[1].valid.any()
    assert "latency_p50_ms" in values and "frames_rate_hz" in values


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_bad_model_file_fails_at_start_naming_the_file(ros, oracle_card, tmp_path, damage):
    card = tmp_path / "broken.json"
    card.write_text(oracle_card.read_text())
    weights = tmp_path / oracle_card.with_suffix(".safetensors").name
    if damage == "corrupt":
        weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match=weights.name):
        LifterNode(parameter_overrides=[Parameter("model", value=str(card))])
