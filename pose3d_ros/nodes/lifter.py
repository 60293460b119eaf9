"""Lifter node: 2D keypoints in, 3D skeletons out as a cloud, RViz markers and TF."""
from __future__ import annotations

import time

import numpy as np
import torch
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, PointCloud2
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ..constraints import ConstraintLimits
from ..geometry import CameraIntrinsics
from ..lifting.inputs import MIN_CONFIDENCE, PersonKeypoints
from ..lifting.online import OnlineLifter
from ..lifting.online_pose import OnlinePoseEstimator, PoseSettings, Skeleton3D
from ..lifting.refinement import load_refiner, refiner_mismatch
from ..networks.cards import ModelLoadError, load_model
from ..resources import resolve
from .camera_msgs import intrinsics_from_msg
from .clouds import SKELETON_DTYPE, from_cloud, people_rows, to_cloud
from .diagnostics import NodeDiagnostics
from .params import Param, declare
from .visuals import delete_markers, skeleton_markers, skeleton_transforms

PARAMS = (
    Param("model", "lifter_articulated.json", "Model card of a causal lifter (absolute, or a file in models/)"),
    Param("device", "auto",
          "auto (CUDA when available), cpu or cuda; CUDA runs fp16 and falls back to the CPU on any CUDA error"),
    Param("frame_prefix", "", "Prefix of the published TF frames (body_<id>, body_<id>/<joint>)"),
    Param("publish_tf", True, "Publish a TF frame per person and per joint"),
    Param("min_joint_confidence", MIN_CONFIDENCE, "Joints whose 2D confidence is below this are flagged invalid "
          "(and unseen for a lifter trained with a confidence channel)"),
    Param("track_gap_s", 0.5, "Restart a track whose previous frame is older than this"),
    Param("track_timeout_s", 2.0, "Forget tracks unseen for this long (their markers are deleted)"),
    Param("marker_lifetime_s", 0.5, "Lifetime of the RViz markers"),
    Param("fallback_image_width", 640, "Image width assumed until CameraInfo arrives"),
    Param("fallback_image_height", 480, "Image height assumed until CameraInfo arrives"),
    Param("bone_length_refinement", True,
          "Rescale bones to the track's bone lengths estimated online from its whole history"),
    Param("refiner_model", "refiner_tpnet.json",
          "Model card of a causal TP-Net-style refiner trained on this lifter's outputs, applied after it "
          "(absolute, or a file in models/; empty: none; the default was trained for the default model)"),
    Param("constraint_mode", "flag", "Anatomical checks: flag (mark invalid), correct (rescale bones, "
          "mirror illegal bends) or drop (omit the person)"),
    Param("bone_length_limit", 0.25, "Largest relative difference of a bone to the track's estimate"),
    Param("symmetry_limit", 0.25, "Largest relative difference of left and right limb bones"),
    Param("bone_length_floor", 0.05, "Bone-length and symmetry differences below this (m) always pass"),
    Param("illegal_elbow_limit", 0.5, "Elbow bent the wrong way: largest cosine to the wrong side (Dabral et al.)"),
    Param("illegal_knee_limit", 0.1, "Knee bent the wrong way: largest cosine to the wrong side (Dabral et al.)"),
    Param("max_joint_speed", 10.0, "Largest joint speed, m/s"),
    Param("max_joint_acceleration", 300.0, "Largest joint acceleration, m/s^2"),
    Param("min_root_depth", 0.3, "Nearest plausible pelvis depth along the optical axis, m"),
    Param("max_root_depth", 30.0, "Farthest plausible pelvis depth along the optical axis, m"),
)


def people_from_cloud(msg: PointCloud2) -> list[PersonKeypoints]:
    """Decode the detector's ``keypoints`` cloud into H36M-17 people."""
    people = []
    for tid, rows in people_rows(from_cloud(msg)).items():
        if len(rows) != 17 or not np.array_equal(rows["joint"], np.arange(17)):
            raise ValueError(f"track {tid} has joints {rows['joint'].tolist()}, expected H36M-17 (0..16)")
        kps = np.stack([rows["x"], rows["y"]], axis=-1).astype(np.float64)
        people.append(PersonKeypoints(tid, kps, rows["confidence"].astype(np.float64)))
    return people


def skeleton_points(skeletons: list[Skeleton3D]) -> np.ndarray:
    """Skeletons -> structured rows of the ``skeletons_3d`` cloud (see clouds.py)."""
    points = np.zeros(17 * len(skeletons), dtype=SKELETON_DTYPE)
    for i, s in enumerate(skeletons):
        block = points[17 * i:17 * (i + 1)]
        block["x"], block["y"], block["z"] = s.joints[:, 0], s.joints[:, 1], s.joints[:, 2]
        block["confidence"] = s.confidence
        block["track_id"] = s.track_id
        block["joint"] = np.arange(17)
        block["valid"] = s.valid
    return points


def settings_from_params(p: dict) -> PoseSettings:
    """The core settings from the node's parameter values."""
    limits = ConstraintLimits(
        bone_length=p["bone_length_limit"], symmetry=p["symmetry_limit"], bone_floor=p["bone_length_floor"],
        illegal_elbow=p["illegal_elbow_limit"], illegal_knee=p["illegal_knee_limit"],
        velocity=p["max_joint_speed"], acceleration=p["max_joint_acceleration"],
        min_root_depth=p["min_root_depth"], max_root_depth=p["max_root_depth"])
    return PoseSettings(
        mode=p["constraint_mode"], limits=limits, min_joint_confidence=p["min_joint_confidence"],
        bone_length_refinement=p["bone_length_refinement"], track_timeout_s=p["track_timeout_s"],
        fallback_intrinsics=CameraIntrinsics.default_for(p["fallback_image_width"], p["fallback_image_height"]))


class LifterNode(Node):
    """Subscribes ``keypoints`` and ``camera_info``; publishes ``skeletons_3d``,
    ``skeleton_markers``, TF and diagnostics."""

    def __init__(self, **kwargs) -> None:
        super().__init__("lifter", **kwargs)
        self.p = declare(self, PARAMS)
        torch.set_num_threads(1)  # a frame is a few small matrix products: more threads only add contention
        try:
            model_path = resolve(self.p["model"], "models")
            loaded = load_model(model_path)
            lifter = OnlineLifter(loaded, self.p["device"], self.p["track_gap_s"], warn=self.get_logger().warn,
                                   min_confidence=self.p["min_joint_confidence"])
            refiner = load_refiner(resolve(self.p["refiner_model"], "models")) if self.p["refiner_model"] else None
            if refiner is not None and (reason := refiner_mismatch(refiner.card, loaded)):
                self.get_logger().warn(f"refiner {refiner.path.name}: {reason}; its corrections may not fit")
            self.estimator = OnlinePoseEstimator(lifter, settings_from_params(self.p),
                                                 None if refiner is None else refiner.model)
        except (ModelLoadError, ValueError) as exc:
            self.get_logger().fatal(f"cannot start the lifter: {exc}")
            raise
        self.intrinsics: CameraIntrinsics | None = None
        self.skeleton_pub = self.create_publisher(PointCloud2, "skeletons_3d", 10)
        self.marker_pub = self.create_publisher(MarkerArray, "skeleton_markers", 10)
        self.tf = self._tf_broadcaster() if self.p["publish_tf"] else None
        # Newest keypoints only (reliable, keep last 1): a lifter that falls behind skips frames,
        # counted as ``skipped``, instead of queueing them and adding latency.
        self._last_sequence = 0
        self.create_subscription(PointCloud2, "keypoints", self._on_newest_keypoints, QoSProfile(depth=1))
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos_profile_sensor_data)
        self.diag = NodeDiagnostics(self, warn_counters=("bad_keypoints", "no_camera_info", "duplicate_stamps",
                                                         "dropped", "skipped"))
        self.get_logger().info(f"lifter {model_path.name} on {lifter.device}: receptive field "
                               f"{lifter.receptive_field} frames; refiner: {self.p['refiner_model'] or 'none'}; "
                               f"checks: {self.p['constraint_mode']}")

    def _tf_broadcaster(self):
        try:
            from tf2_ros import TransformBroadcaster
            return TransformBroadcaster(self)
        except ImportError:
            from .tf_publisher import TfPublisher
            return TfPublisher(self)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = intrinsics_from_msg(msg)
        except ValueError as exc:
            self.get_logger().warn(f"ignoring CameraInfo: {exc}", throttle_duration_sec=5.0)

    def _on_newest_keypoints(self, msg: PointCloud2, info: dict) -> None:
        """Count the messages the queue of one replaced (gaps in the publisher's sequence
        numbers; one publisher assumed, rmws without the numbers count none), then lift."""
        sequence = info.get("publication_sequence_number") or 0
        if self._last_sequence and sequence > self._last_sequence + 1:
            self.diag.count("skipped", sequence - self._last_sequence - 1)
        self._last_sequence = sequence
        self._on_keypoints(msg)

    def _on_keypoints(self, msg: PointCloud2) -> None:
        start = time.perf_counter()
        self.diag.count("frames")
        try:
            people = people_from_cloud(msg)
        except ValueError as exc:
            self.diag.count("bad_keypoints")
            self.get_logger().warn(f"skipping keypoints: {exc}", throttle_duration_sec=5.0)
            return
        stamp = Time.from_msg(msg.header.stamp).nanoseconds * 1e-9
        ended = self.estimator.evict(stamp)
        if self.intrinsics is None:
            self.diag.count("no_camera_info")
            self.get_logger().warn("no CameraInfo on camera_info yet: publishing root-relative skeletons",
                                   throttle_duration_sec=5.0)
        skeletons = self.estimator.update(stamp, people, self.intrinsics)
        for name, n in self.estimator.counts.items():
            self.diag.counts[name] = n
        if skeletons is None:
            self.get_logger().warn("skipping keypoints with a repeated stamp", throttle_duration_sec=5.0)
            return
        self.skeleton_pub.publish(to_cloud(msg.header, skeleton_points(skeletons)))
        self._publish_visuals(msg.header, skeletons, ended)
        self.diag.count("published")
        self.diag.latency(1000.0 * (time.perf_counter() - start))

    def _publish_visuals(self, header: Header, skeletons: list[Skeleton3D], ended: list[int]) -> None:
        markers = MarkerArray()
        for tid in ended:
            markers.markers += delete_markers(header, tid)
        for s in skeletons:
            markers.markers += skeleton_markers(header, s.track_id, s.joints, s.valid, self.p["marker_lifetime_s"])
        self.marker_pub.publish(markers)
        if self.tf is not None:
            transforms = []
            for s in skeletons:
                if s.metric:
                    transforms += skeleton_transforms(header, s.track_id, s.joints, self.p["frame_prefix"])
            if transforms:
                self.tf.sendTransform(transforms)


def main(args: list[str] | None = None) -> None:
    from .run import spin_node
    spin_node(LifterNode, args)


if __name__ == "__main__":
    main()
