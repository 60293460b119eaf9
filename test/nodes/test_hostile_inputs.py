"""What a robot (or a hostile user) can send the nodes, over DDS: each case leaves the node
alive, is counted under its cause in /diagnostics, and good input afterwards is processed.
Parameters: invalid values are refused at start and at run time (SetParameters) with a
reason, valid run-time changes take effect.

One rclpy context for the module; each test builds its own nodes. Every wait is on a
condition (a message or a counter), never a fixed time.
"""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import rclpy
import torch
from builtin_interfaces.msg import Time as TimeMsg
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header, UInt32MultiArray
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from pose3d_ros.detection import Detection
from pose3d_ros.detection.replay_backend import save_replay
from pose3d_ros.geometry import CameraIntrinsics, project
from pose3d_ros.lifting.inputs import PersonKeypoints
from pose3d_ros.networks.cards import ModelLoadError
from pose3d_ros.nodes.camera_msgs import bgr_to_msg, camera_info_msg
from pose3d_ros.nodes.clouds import (
    CloudSkeleton,
    from_cloud,
    keypoints_to_cloud,
    skeletons_from_cloud,
    skeletons_to_cloud,
    to_cloud,
)
from pose3d_ros.nodes.keypoint_detector import KeypointDetectorNode
from pose3d_ros.nodes.lifter import CAUSES, LifterNode
from pose3d_ros.nodes.params import ParameterError
from pose3d_ros.nodes.preview_recorder import PreviewRecorderNode
from pose3d_ros.skeleton import COCO17

ROOT = Path(__file__).resolve().parents[2]
CAM = CameraIntrinsics.default_for(640, 480)
FRAME = "camera_optical_frame"
T = np.array([0.1, -0.2, 3.0])
DEADLINE_S = 60.0
POSE: np.ndarray  # the standing pose (the ``pose`` fixture binds it)


@pytest.fixture(scope="module", autouse=True)
def context():
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    rclpy.init()
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # LifterNode sets one thread for the process
    rclpy.try_shutdown()


@pytest.fixture(scope="module", autouse=True)
def pose(standing_pose) -> np.ndarray:
    """The standing pose, also bound to POSE for the module's message builders."""
    global POSE
    POSE = standing_pose
    return standing_pose


@pytest.fixture(scope="module")
def oracle_card(tmp_path_factory, save_oracle_lifter) -> Path:
    """A causal tiny lifter whose output is always the standing pose."""
    return save_oracle_lifter(tmp_path_factory.mktemp("model") / "oracle")


def spin_until(executor, condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        executor.spin_once(timeout_sec=0.05)


def header(stamp: float = 1.0, frame_id: str = FRAME) -> Header:
    ns = round(stamp * 1e9)
    return Header(stamp=TimeMsg(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame_id)


def person(track_id: int = 1, t=T, conf: float = 1.0) -> PersonKeypoints:
    return PersonKeypoints(track_id, project(POSE + t, CAM), np.full(17, conf))


class Rig:
    """A node under test plus a feeder/probe node on one executor."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.io = Node("hostile_io")
        qos = QoSProfile(depth=100)
        self.kp_pub = self.io.create_publisher(PointCloud2, "keypoints", 10)
        self.info_pub = self.io.create_publisher(CameraInfo, "camera_info", 10)
        self.skeleton_pub = self.io.create_publisher(PointCloud2, "skeletons_3d", 10)
        self.image_pub = self.io.create_publisher(Image, "image_raw", 10)
        self.skeletons, self.tracked, self.markers, self.tf, self.statuses = [], [], [], [], []
        self.io.create_subscription(PointCloud2, "skeletons_3d", self.skeletons.append, qos)
        self.io.create_subscription(UInt32MultiArray, "tracked", self.tracked.append, qos)
        self.io.create_subscription(MarkerArray, "skeleton_markers", self.markers.append, qos)
        self.io.create_subscription(TFMessage, "/tf", self.tf.append, qos)
        self.io.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, qos)
        self.executor = SingleThreadedExecutor()
        for n in (node, self.io):
            self.executor.add_node(n)
        self.params = AsyncParameterClient(self.io, node.get_name())

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        self.statuses += [s for s in msg.status if s.hardware_id == self.node.get_fully_qualified_name()]

    def spin_until(self, condition, what: str = "the node") -> None:
        spin_until(self.executor, condition, what)

    def status(self) -> tuple[int, str, dict[str, str]]:
        """A fresh diagnostics status of the node, as received over DDS."""
        self.spin_until(lambda: self.io.count_subscribers("/diagnostics") and self.io.count_publishers("/diagnostics"))
        seen = len(self.statuses)
        self.node.diag.publish()
        self.spin_until(lambda: len(self.statuses) > seen, "diagnostics")
        s = self.statuses[-1]
        return int.from_bytes(s.level, "little"), s.message, {kv.key: kv.value for kv in s.values}

    def set(self, **values) -> list:
        """Set parameters through the node's SetParameters service; returns the results."""
        self.spin_until(self.params.services_are_ready, "the parameter services")
        future = self.params.set_parameters([Parameter(k, value=v) for k, v in values.items()])
        self.spin_until(future.done, "SetParameters")
        return future.result().results

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.io.destroy_node()


class LifterRig(Rig):
    def __init__(self, lifter: LifterNode) -> None:
        super().__init__(lifter)
        self.lifter = lifter
        self.spin_until(lambda: self.kp_pub.get_subscription_count() and self.info_pub.get_subscription_count()
                        and lifter.skeleton_pub.get_subscription_count()
                        and lifter.marker_pub.get_subscription_count(), "discovery")

    def camera_info(self, msg: CameraInfo | None = None) -> None:
        handled = self.lifter.diag.counts["camera_info"] + 1
        self.info_pub.publish(msg or camera_info_msg(CAM, Header(frame_id=FRAME)))
        self.spin_until(lambda: self.lifter.diag.counts["camera_info"] >= handled, "CameraInfo handled")

    def send(self, msg: PointCloud2) -> None:
        """Publish a keypoints cloud and wait until the lifter handled it (and its outputs arrived)."""
        handled = self.lifter.diag.counts["frames"] + 1
        self.kp_pub.publish(msg)
        self.spin_until(lambda: self.lifter.diag.counts["frames"] >= handled, "the cloud handled")
        published = self.lifter.diag.counts["published"]
        self.spin_until(lambda: len(self.skeletons) == len(self.tracked) == len(self.markers) == published,
                        "the outputs")

    def send_people(self, stamp: float, *people: PersonKeypoints, frame_id: str = FRAME) -> None:
        self.send(keypoints_to_cloud(header(stamp, frame_id), people))

    def assert_good_input_processed(self, stamp: float = 50.0) -> None:
        before = len(self.skeletons)
        self.send_people(stamp, person(7))
        assert len(self.skeletons) == before + 1
        (out,) = skeletons_from_cloud(self.skeletons[-1])
        assert out.track_id == 7 and np.all(np.isfinite(out.joints))


@pytest.fixture
def make_lifter(oracle_card):
    rigs = []

    def make(**params) -> LifterRig:
        # The oracle lifter alone (no fitting stage), so placements are exact.
        overrides = dict(model=str(oracle_card), refiner_model="", device="cpu", pose_source="model", fitting=False,
                         **params)
        rigs.append(LifterRig(LifterNode(parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


def _nan_confidence(h):
    p = person(1)
    p.confidence[4] = np.nan
    return keypoints_to_cloud(h, [p])


def _huge_keypoint(h):
    p = person(1)
    p.keypoints[4, 0] = 3e38
    return keypoints_to_cloud(h, [p])


def _one_bad_person(h):
    points = from_cloud(keypoints_to_cloud(h, [person(1), person(2, T + [0.8, 0, 0])]))
    return to_cloud(h, points[:-1])  # person 2 lost joint 16; person 1 is intact


def _missing_field(h):
    msg = keypoints_to_cloud(h, [person(1)])
    msg.fields = [f for f in msg.fields if f.name != "confidence"]
    return msg


def _truncated(h):
    msg = keypoints_to_cloud(h, [person(1)])
    msg.data = bytes(msg.data)[:100]
    return msg


def _float_track_ids(h):
    msg = keypoints_to_cloud(h, [person(1)])
    next(f for f in msg.fields if f.name == "track_id").datatype = 7  # FLOAT32
    return msg


def _zero_point_step(h):
    msg = keypoints_to_cloud(h, [person(1)])
    msg.point_step = 0
    return msg


def _negative_stamp(h):
    return keypoints_to_cloud(Header(stamp=TimeMsg(sec=-5, nanosec=0), frame_id=FRAME), [person(1)])


def _too_many_people(h):
    return keypoints_to_cloud(h, [person(100 + i, T + [0.05 * i, 0, 0]) for i in range(40)])


# cause -> a cloud (given a valid header) and how many people (or frames) the cause counts
HOSTILE_CLOUDS = {
    "nan confidence": ("bad_confidence", _nan_confidence, 1),
    "coordinate 3e38": ("bad_keypoints", _huge_keypoint, 1),
    "one bad person among good ones": ("bad_joints", _one_bad_person, 1),
    "missing field": ("bad_cloud", _missing_field, 1),
    "truncated data": ("bad_cloud", _truncated, 1),
    "float track ids": ("bad_cloud", _float_track_ids, 1),
    "point_step 0": ("bad_cloud", _zero_point_step, 1),
    "negative stamp": ("bad_stamp", _negative_stamp, 1),
    "40 people": ("too_many_people", _too_many_people, 8),
}


@pytest.mark.parametrize("case", HOSTILE_CLOUDS)
def test_hostile_keypoints_are_counted_and_good_input_follows(make_lifter, case):
    cause, build, n = HOSTILE_CLOUDS[case]
    rig = make_lifter()
    rig.camera_info()
    rig.send(build(header(1.0)))
    level, message, values = rig.status()
    assert values[cause] == str(n) and level == 1 and cause in message
    if case == "nan confidence":  # the person is lifted, the joint unseen
        (out,) = skeletons_from_cloud(rig.skeletons[-1])
        assert out.confidence[4] == 0.0 and not out.valid[4] and np.all(np.isfinite(out.joints))
    if case == "one bad person among good ones":  # the valid person is kept
        assert [s.track_id for s in skeletons_from_cloud(rig.skeletons[-1])] == [1]
    if case == "coordinate 3e38":  # the joint is unseen; the pose stays in the image's range
        (out,) = skeletons_from_cloud(rig.skeletons[-1])
        assert not out.valid[4] and np.abs(out.joints).max() < 10.0
    rig.assert_good_input_processed()


def _k(index: int | None, value: float) -> dict:
    """CameraInfo.k of CAM with one entry (None: all) replaced."""
    k = [value] * 9 if index is None else [value if i == index else x for i, x in enumerate(CAM.matrix.ravel())]
    return {"k": k}


BAD_CAMERA_INFO = {
    "nan fx": _k(0, math.nan), "nan cx": _k(2, math.nan), "inf fy": _k(4, math.inf), "fx 1e-30": _k(0, 1e-30),
    "cx far outside the image": _k(2, 1e9), "zero K": _k(None, 0.0),
    "unknown distortion model": {"distortion_model": "kannala_brandt", "d": [0.1, 0.0, 0.0, 0.0]},
    "nan distortion": {"d": [0.1, math.nan, 0.0, 0.0, 0.0]},
    "tilted sensor": {"distortion_model": "rational_polynomial", "d": [0.0] * 12 + [0.01, 0.0]},
}


@pytest.mark.parametrize("case", BAD_CAMERA_INFO)
def test_bad_camera_info_is_ignored_and_counted(make_lifter, case):
    rig = make_lifter()
    msg = camera_info_msg(CAM, Header(frame_id=FRAME))
    for name, value in BAD_CAMERA_INFO[case].items():
        setattr(msg, name, value)
    rig.camera_info(msg)
    rig.send_people(1.0, person(1))
    assert rig.skeletons[-1].header.frame_id == f"{FRAME}/root_relative" and not rig.tf
    level, message, values = rig.status()
    assert values["bad_camera_info"] == "1" and values["metric"] == "False"
    assert "no valid CameraInfo" in message and level == 1
    rig.camera_info()  # a good one: metric from now on
    rig.send_people(1.1, person(1))
    assert rig.skeletons[-1].header.frame_id == FRAME
    np.testing.assert_allclose(skeletons_from_cloud(rig.skeletons[-1])[0].joints[0], T, atol=1e-4)


def test_empty_frame_id_gets_no_tf(make_lifter):
    rig = make_lifter()
    rig.camera_info()
    rig.send_people(1.0, person(1), frame_id="")
    assert rig.status()[2]["no_frame_id"] == "1" and not rig.tf
    rig.assert_good_input_processed()
    rig.spin_until(lambda: rig.tf, "TF of the good frame")


def test_tracked_ids_and_tf_only_for_plausible_poses(make_lifter):
    rig = make_lifter()
    rig.camera_info()
    rig.send_people(1.0, person(3), person(5, T + [0.8, 0, 0]))
    msg = rig.tracked[-1]
    assert list(msg.data) == [3, 5] and msg.layout.dim[0].label == "track_id"
    rig.spin_until(lambda: rig.tf, "TF")
    assert {t.child_frame_id for t in rig.tf[-1].transforms} >= {"body_3", "body_5/r_wrist"}
    rig.send_people(1.05, person(3, T + [2.0, 0, 0]), person(5, T + [0.8, 0, 0]))  # 3 jumps 2 m: 40 m/s
    rig.send_people(1.1, person(9))  # a marker on the TF stream: TF messages keep their order
    rig.spin_until(lambda: len(rig.tf) >= 3, "TF of the third frame")
    second = [t.child_frame_id for m in rig.tf for t in m.transforms if t.header.stamp.nanosec == 50_000_000]
    assert "body_5" in second and "body_3" not in second
    assert rig.status()[2]["tf_withheld"] == "1"
    assert rig.set(tf_plausible_only=False)[0].successful
    rig.send_people(1.15, person(9, T + [2.0, 0, 0]))  # implausible again, TF now allowed
    rig.spin_until(lambda: any(t.child_frame_id == "body_9" and t.header.stamp.nanosec == 150_000_000
                               for t in rig.tf[-1].transforms), "TF of the implausible pose")


def test_diagnostics_warn_without_input_and_go_stale(make_lifter):
    rig = make_lifter()
    level, message, values = rig.status()
    assert level == DiagnosticStatus.WARN[0] and "no frames received" in message
    assert values["frames_age_s"] == "never" and values["active_tracks"] == "0"
    assert all(values[c] == "0" for c in CAUSES)  # every counter from the start
    rig.camera_info()
    rig.send_people(1.0, person(1))
    level, message, values = rig.status()
    assert level == 0 and message == "ok" and values["active_tracks"] == "1" and values["frames"] == "1"
    assert rig.set(input_timeout_s=0.1)[0].successful  # applied at run time
    rig.spin_until(lambda: rig.status()[0] == DiagnosticStatus.STALE[0], "a STALE status")
    assert "frames stale" in rig.statuses[-1].message


@pytest.mark.parametrize("overrides, reason", [
    ({"marker_lifetime_s": math.nan}, "marker_lifetime_s"),
    ({"marker_lifetime_s": 1e12}, "marker_lifetime_s"),
    ({"fallback_image_width": 0}, "fallback_image_width"),
    ({"track_timeout_s": -1.0}, "track_timeout_s"),
    ({"min_joint_confidence": math.nan}, "min_joint_confidence"),
    ({"min_root_depth": 40.0}, "min_root_depth must be below max_root_depth"),
    ({"device": "banana"}, "device must be one of auto, cpu, cuda"),
    ({"model": ""}, "model must not be empty"),
    ({"constraint_mode": "maybe"}, "constraint_mode must be one of"),
    ({"marker_lifetime_s": 5}, "marker_lifetime_s"),  # an integer for a double
])
def test_invalid_parameters_refused_at_start(overrides, reason):
    with pytest.raises(ParameterError, match=reason):
        LifterNode(parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])


@pytest.mark.parametrize("damage", ["garbage with a matching sha256", "card not a JSON object"])
def test_bad_model_files_raise_model_load_error(oracle_card, tmp_path, damage):
    import hashlib
    import json
    card = json.loads(oracle_card.read_text())
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    card.update(weights=weights.name, sha256=hashlib.sha256(weights.read_bytes()).hexdigest())
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(card) if damage.startswith("garbage") else "[1, 2]")
    with pytest.raises(ModelLoadError, match="bad.json"):
        LifterNode(parameter_overrides=[Parameter("model", value=str(path))])


def test_run_time_parameters_refused_with_reason_or_applied(make_lifter):
    rig = make_lifter()
    refused = {"marker_lifetime_s": 1e12, "track_timeout_s": -1.0, "track_gap_s": -0.5,
               "min_joint_confidence": math.nan, "min_root_depth": 50.0, "fallback_image_width": 0,
               "device": "banana", "model": "other.json", "constraint_mode": "maybe", "max_people": 0}
    before = {name: rig.node.get_parameter(name).value for name in refused}
    for name, value in refused.items():
        (result,) = rig.set(**{name: value})
        assert not result.successful and result.reason, name
        assert rig.node.get_parameter(name).value == before[name] == rig.lifter.p[name], name
    assert "read-only" in rig.set(device="banana")[0].reason
    assert "below max_root_depth" in rig.set(min_root_depth=50.0)[0].reason
    assert all(r.successful for r in rig.set(publish_tf=False, marker_lifetime_s=5.0, max_root_depth=2.0))
    rig.camera_info()
    rig.send_people(1.0, person(1))
    marker = rig.markers[-1].markers[0]
    assert (marker.lifetime.sec, marker.lifetime.nanosec) == (5, 0)
    (out,) = skeletons_from_cloud(rig.skeletons[-1])
    assert not out.valid.any()  # the pelvis at 3 m is now beyond max_root_depth
    assert all(r.successful for r in rig.set(publish_tf=True, max_root_depth=30.0))
    rig.send_people(1.05, person(1))
    rig.spin_until(lambda: rig.tf, "TF after publish_tf:=true")
    assert {(m.transforms[0].header.stamp.sec, m.transforms[0].header.stamp.nanosec) for m in rig.tf} == \
        {(1, 50_000_000)}  # nothing from the frame sent while publish_tf was false


def test_detector_matches_the_publishers_reliability(tmp_path):
    save_replay(tmp_path / "kps.npz", [[Detection.from_source(1, np.full((17, 2), 5.0, np.float32),
                                                              np.ones(17, np.float32), COCO17)]])
    detector = KeypointDetectorNode(parameter_overrides=[Parameter("backend", value="replay"),
                                                         Parameter("replay_file", value=str(tmp_path / "kps.npz")),
                                                         Parameter("replay_loop", value=True)])
    camera = Node("reliable_camera")
    pub = camera.create_publisher(Image, "image_raw", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
    keypoints = []
    camera.create_subscription(PointCloud2, "keypoints", keypoints.append, 10)
    executor = SingleThreadedExecutor()
    for n in (detector, camera):
        executor.add_node(n)
    try:
        spin_until(executor, lambda: pub.get_subscription_count() and detector.pub.get_subscription_count(),
                   "discovery")
        assert detector.reliable and detector.sub.qos_profile.reliability == ReliabilityPolicy.RELIABLE
        pub.publish(bgr_to_msg(np.zeros((24, 32, 3), np.uint8), header(2.0)))
        spin_until(executor, lambda: keypoints, "keypoints")
        assert detector.diag.counts["images"] == 1
    finally:
        executor.shutdown()
        detector.destroy_node()
        camera.destroy_node()


def test_preview_recorder_survives_bad_clouds(tmp_path):
    recorder = PreviewRecorderNode(parameter_overrides=[Parameter("video_file", value=""),
                                                        Parameter("png_file", value=str(tmp_path / "p.png"))])
    rig = Rig(recorder)
    try:
        rig.spin_until(lambda: rig.kp_pub.get_subscription_count() and rig.skeleton_pub.get_subscription_count()
                       and rig.image_pub.get_subscription_count(), "discovery")
        h = header(3.0)
        rig.image_pub.publish(bgr_to_msg(np.zeros((48, 64, 3), np.uint8), h))
        rig.spin_until(lambda: recorder.diag.counts["images"] == 1, "the image")
        rig.kp_pub.publish(_huge_keypoint(h))
        rig.kp_pub.publish(_truncated(h))
        bad = CloudSkeleton(1, np.full((17, 3), np.nan), np.ones(17), np.ones(17, bool), np.full((17, 3), np.nan))
        rig.skeleton_pub.publish(skeletons_to_cloud(h, [bad]))
        rig.spin_until(lambda: recorder.diag.counts["bad_skeletons"] and recorder.diag.counts["bad_cloud"]
                       and recorder.diag.counts["bad_keypoints"], "the bad clouds counted")
        rendered = recorder.rendered
        h2 = header(3.1)
        rig.image_pub.publish(bgr_to_msg(np.zeros((48, 64, 3), np.uint8), h2))
        rig.spin_until(lambda: recorder.diag.counts["images"] == 2, "the second image")
        rig.skeleton_pub.publish(skeletons_to_cloud(h2, [CloudSkeleton(2, POSE + T, np.ones(17), np.ones(17, bool),
                                                                          np.zeros((17, 3)))]))
        rig.spin_until(lambda: recorder.rendered == rendered + 1, "the good frame rendered")
        assert rig.status()[2]["bad_skeletons"] == "1"
    finally:
        rig.close()


def _pipeline_cmd(tmp_path: Path, *extra: str) -> list[str]:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    save_replay(tmp_path / "kps.npz", [[Detection.from_source(1, project(POSE + T, CAM)[:17].astype(np.float32),
                                                              np.ones(17, np.float32), COCO17)]])
    return [sys.executable, "-m", "pose3d_ros.nodes.pipeline", "--ros-args", "-p", f"source:={frames}",
            "-p", "loop:=true", "-p", "rate_hz:=30.0", "-p", "backend:=replay",
            "-p", f"replay_file:={tmp_path / 'kps.npz'}", "-p", "replay_loop:=true", "-p", "device:=cpu", *extra]


def test_pipeline_exits_0_on_ctrl_c(tmp_path):
    """SIGINT while frames flow: every node destroyed in a valid context, exit status 0. Started
    as a shell starts a background job, with SIGINT ignored, which the pipeline must undo."""
    probe = Node("ctrl_c_probe")
    skeletons = []
    probe.create_subscription(PointCloud2, "skeletons_3d", skeletons.append, 10)
    proc = subprocess.Popen(_pipeline_cmd(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    try:
        spin_until(executor, lambda: len(skeletons) >= 5 or proc.poll() is not None, "the pipeline's skeletons")
        assert proc.poll() is None, proc.communicate()[0]
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=DEADLINE_S)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        executor.shutdown()
        probe.destroy_node()
    assert proc.returncode == 0 and "Traceback" not in output, output


def test_invalid_start_parameter_exits_1_with_the_reason(tmp_path):
    proc = subprocess.run(_pipeline_cmd(tmp_path, "-p", "marker_lifetime_s:=.nan"), capture_output=True,
                          text=True, timeout=DEADLINE_S, cwd=ROOT)
    assert proc.returncode == 1 and "marker_lifetime_s" in proc.stderr and "Traceback" not in proc.stderr
