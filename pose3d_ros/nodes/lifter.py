"""Lifter node: 2D keypoints in, 3D skeletons out as a cloud, a list of tracked ids, RViz markers and TF."""
from __future__ import annotations

import time

import torch
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, PointCloud2
from std_msgs.msg import Header, MultiArrayDimension, UInt32MultiArray
from visualization_msgs.msg import MarkerArray

from ..constraints import ConstraintLimits
from ..geometry import CameraIntrinsics, camera_up
from ..lifting.fitting import FitSettings
from ..lifting.inputs import MIN_CONFIDENCE
from ..lifting.online import OnlineLifter
from ..lifting.online_pose import MODES, SOURCES, OnlinePoseEstimator, PoseSettings, Skeleton3D
from ..lifting.refinement import load_refiner, refiner_mismatch
from ..networks.cards import load_model
from ..resources import resolve
from .camera_msgs import intrinsics_from_msg, stamp_seconds
from .clouds import KEYPOINT_CAUSES, ROOT_RELATIVE_SUFFIX, CloudError, keypoints_from_cloud, skeletons_to_cloud
from .diagnostics import NodeDiagnostics
from .params import Param, declare, frame_name, greater_than, less_than, not_empty
from .visuals import delete_markers, skeleton_markers, skeleton_transforms

PARAMS = (
    Param("model", "lifter_causal81.json", "Model card of a causal lifter (absolute, or a file in models/); the "
          "default, a causal temporal network over the last 81 frames, was the most accurate fused with "
          "MediaPipe's 3D on real video (README); lifter_articulated.json works per frame",
          check=not_empty),
    Param("camera_pitch_deg", 0.0, "Gravity-levelled lifters (model card input_normalization 'level'): how far "
          "the camera looks below level, degrees (negative: above); other lifters ignore it",
          range=(-80.0, 80.0), dynamic=True),
    Param("camera_roll_deg", 0.0, "Gravity-levelled lifters: the camera's roll about its optical axis, degrees "
          "(positive: the image's right side dips)", range=(-180.0, 180.0), dynamic=True),
    Param("device", "auto",
          "auto (CUDA when available), cpu or cuda; CUDA runs fp16 and falls back to the CPU on any CUDA error",
          choices=("auto", "cpu", "cuda")),
    Param("frame_prefix", "", "Prefix of the published TF frames (body_<id>, body_<id>/<joint>)",
          check=frame_name, dynamic=True),
    Param("publish_tf", True, "Publish a TF frame per person and per joint", dynamic=True),
    Param("tf_plausible_only", True, "Publish TF only for poses that pass every anatomical check "
          "(false: every pose placed in the camera frame)", dynamic=True),
    Param("min_joint_confidence", MIN_CONFIDENCE, "Joints whose 2D confidence is below this are flagged invalid "
          "(and unseen for a lifter trained with a confidence channel)", range=(0.0, 1.0), dynamic=True),
    Param("track_gap_s", 0.5, "Restart a track whose previous frame is older than this", range=(0.001, 3600.0),
          dynamic=True),
    Param("track_timeout_s", 2.0, "Forget tracks unseen for this long (their markers are deleted)",
          range=(0.001, 3600.0), dynamic=True),
    Param("marker_lifetime_s", 0.5, "Lifetime of the RViz markers (0: until deleted)", range=(0.0, 3600.0),
          dynamic=True),
    Param("fallback_image_width", 640, "Image width assumed until CameraInfo arrives", range=(1, 100_000),
          dynamic=True),
    Param("fallback_image_height", 480, "Image height assumed until CameraInfo arrives", range=(1, 100_000),
          dynamic=True),
    Param("bone_length_refinement", True,
          "fitting:=false only: rescale bones to the track's bone lengths estimated online from its whole "
          "history (the fitting stage keeps lengths of its own)", dynamic=True),
    Param("refiner_model", "",
          "Model card of a causal TP-Net-style refiner trained on this lifter's outputs, applied after it "
          "(absolute, or a file in models/; empty: none, the default: on real video it made the 3D worse; "
          "refiner_tpnet.json was trained for lifter_articulated)"),
    Param("pose_source", "fused", "Where each person's 3D comes from: model (the learned lifter), detector (the "
          "detector's own 3D, e.g. MediaPipe world landmarks; the model for people without it) or fused "
          "(their weighted mean, fusion_weight)", choices=SOURCES),
    Param("fusion_weight", 0.7, "pose_source fused: share of the detector's 3D (0..1)", range=(0.0, 1.0)),
    Param("fitting", True, "Kinematic fitting stage: track bone lengths, turn bones towards the confident 2D "
          "keypoints, respect elbow/knee limits, smooth causally (docs/lifter.md)"),
    Param("keypoint_sd_px", 10.0, "fitting: 2D keypoint noise (pixels) of a joint at confidence 1",
          range=(0.1, 1000.0)),
    Param("direction_sd", 0.3, "fitting: error (radians) of the source's bone directions that the 2D may correct",
          range=(0.01, 3.2)),
    Param("prior_frames", 0, "fitting: a prior stature (a 1.7 m adult) weighs as much as this many frames of a "
          "track (0: the source's stature alone)",
          range=(0, 100_000)),
    Param("keypoint_cutoff_hz", 3.0, "fitting: One-Euro cut-off at rest on the 2D keypoints (0: off)",
          range=(0.0, 1000.0)),
    Param("keypoint_beta", 20.0, "fitting: One-Euro speed coefficient on the 2D keypoints", range=(0.0, 1e6)),
    Param("pose_cutoff_hz", 4.0, "fitting: One-Euro cut-off at rest on the source's 3D pose (0: off)",
          range=(0.0, 1000.0)),
    Param("pose_beta", 2.0, "fitting: One-Euro speed coefficient on the source's 3D pose", range=(0.0, 1e6)),
    Param("velocity_cutoff_hz", 2.0, "Low-pass cut-off of the published joint velocities (vx, vy, vz), Hz: lower "
          "is smoother and lags more (about 1 / (2 pi cut-off) s)", range=(0.01, 100.0), dynamic=True),
    Param("constraint_mode", "flag", "Anatomical checks: flag (mark invalid), correct (rescale bones, "
          "mirror illegal bends) or drop (omit the person)", choices=MODES, dynamic=True),
    Param("bone_length_limit", 0.25, "Largest relative difference of a bone to the track's estimate",
          range=(0.01, 10.0), dynamic=True),
    Param("symmetry_limit", 0.25, "Largest relative difference of left and right limb bones", range=(0.01, 10.0),
          dynamic=True),
    Param("bone_length_floor", 0.05, "Bone-length and symmetry differences below this (m) always pass",
          range=(0.001, 1.0), dynamic=True),
    Param("illegal_elbow_limit", 0.5, "Elbow bent the wrong way: largest cosine to the wrong side (Dabral et al.)",
          range=(0.01, 1.0), dynamic=True),
    Param("illegal_knee_limit", 0.1, "Knee bent the wrong way: largest cosine to the wrong side (Dabral et al.)",
          range=(0.01, 1.0), dynamic=True),
    Param("max_joint_speed", 10.0, "Largest joint speed, m/s", range=(0.01, 1000.0), dynamic=True),
    Param("max_joint_acceleration", 300.0, "Largest joint acceleration, m/s^2", range=(0.01, 100_000.0),
          dynamic=True),
    Param("min_root_depth", 0.3, "Nearest plausible pelvis depth along the optical axis, m", range=(0.01, 1000.0),
          check=less_than("max_root_depth"), dynamic=True),
    Param("max_root_depth", 30.0, "Farthest plausible pelvis depth along the optical axis, m",
          range=(0.01, 1000.0), check=greater_than("min_root_depth"), dynamic=True),
    Param("max_people", 32, "Most people lifted per frame; the rest of a larger cloud is left out and counted",
          range=(1, 1000), dynamic=True),
    Param("input_timeout_s", 2.0, "Diagnostics: STALE when the last keypoints are older than this",
          range=(0.1, 3600.0), dynamic=True),
)
CAUSES = {
    "bad_stamp": "frame skipped", "bad_cloud": "frame skipped", **KEYPOINT_CAUSES,
    "bad_camera_info": "CameraInfo ignored", "no_camera_info": "skeletons root-relative",
    "no_frame_id": "no TF", "duplicate_stamps": "frame skipped",
    "unplaced": "a person whose root cannot be placed is left out",
    "nonfinite_poses": "a person whose lifted pose is not finite is left out",
}
# Event counters; the core's (OnlinePoseEstimator.counts) are added as they are.
COUNTERS = ("published", "tf_withheld", "skipped")


def settings_from_params(p: dict) -> PoseSettings:
    """The core settings from the node's parameter values."""
    limits = ConstraintLimits(
        bone_length=p["bone_length_limit"], symmetry=p["symmetry_limit"], bone_floor=p["bone_length_floor"],
        illegal_elbow=p["illegal_elbow_limit"], illegal_knee=p["illegal_knee_limit"],
        velocity=p["max_joint_speed"], acceleration=p["max_joint_acceleration"],
        min_root_depth=p["min_root_depth"], max_root_depth=p["max_root_depth"])
    fitting = FitSettings(
        keypoint_sd_px=p["keypoint_sd_px"], direction_sd=p["direction_sd"], min_confidence=p["min_joint_confidence"],
        prior_frames=p["prior_frames"], keypoint_cutoff_hz=p["keypoint_cutoff_hz"], keypoint_beta=p["keypoint_beta"],
        pose_cutoff_hz=p["pose_cutoff_hz"], pose_beta=p["pose_beta"], limits=limits) if p["fitting"] else None
    return PoseSettings(
        mode=p["constraint_mode"], limits=limits, min_joint_confidence=p["min_joint_confidence"],
        bone_length_refinement=p["bone_length_refinement"], track_timeout_s=p["track_timeout_s"],
        fallback_intrinsics=CameraIntrinsics.default_for(p["fallback_image_width"], p["fallback_image_height"]),
        source=p["pose_source"], fusion_weight=p["fusion_weight"], fitting=fitting,
        velocity_cutoff_hz=p["velocity_cutoff_hz"])


def tracked_msg(track_ids: list[int]) -> UInt32MultiArray:
    """The ``tracked`` list: the track ids of one skeletons_3d message, in its order."""
    msg = UInt32MultiArray(data=[int(t) for t in track_ids])
    msg.layout.dim = [MultiArrayDimension(label="track_id", size=len(track_ids), stride=len(track_ids))]
    return msg


class LifterNode(Node):
    """Subscribes ``keypoints`` and ``camera_info``; publishes ``skeletons_3d``, ``tracked``,
    ``skeleton_markers``, TF and diagnostics. Every input is validated (see clouds.py and
    camera_msgs.py): what is refused is counted under its cause, never raised."""

    def __init__(self, **kwargs) -> None:
        super().__init__("lifter", **kwargs)
        self.p = declare(self, PARAMS, self._apply)
        torch.set_num_threads(1)  # a frame is a few small matrix products: more threads only add contention
        model_path = resolve(self.p["model"], "models")
        loaded = load_model(model_path)  # raises ModelLoadError naming the file
        lifter = OnlineLifter(loaded, self.p["device"], self.p["track_gap_s"], warn=self.get_logger().warn,
                              min_confidence=self.p["min_joint_confidence"], camera_up=self._camera_up())
        if lifter.levelled:
            self.get_logger().info(f"{model_path.name} is gravity-levelled: camera pitched "
                                   f"{self.p['camera_pitch_deg']:g} deg down, rolled {self.p['camera_roll_deg']:g} deg "
                                   "(camera_pitch_deg, camera_roll_deg)")
        refiner = load_refiner(resolve(self.p["refiner_model"], "models")) if self.p["refiner_model"] else None
        if refiner is not None and (reason := refiner_mismatch(refiner.card, loaded)):
            self.get_logger().warn(f"refiner {refiner.path.name}: {reason}; its corrections may not fit")
        self.estimator = OnlinePoseEstimator(lifter, settings_from_params(self.p),
                                             None if refiner is None else refiner.model)
        self.intrinsics: CameraIntrinsics | None = None
        self.skeleton_pub = self.create_publisher(PointCloud2, "skeletons_3d", 10)
        self.tracked_pub = self.create_publisher(UInt32MultiArray, "tracked", 10)
        self.marker_pub = self.create_publisher(MarkerArray, "skeleton_markers", 10)
        self.tf = self._tf_broadcaster() if self.p["publish_tf"] else None
        # CameraInfo first: rclpy executors take a node's ready subscriptions in creation order, so
        # a frame's CameraInfo arriving with its keypoints is applied before them (the first frame
        # was otherwise published root-relative now and then).
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos_profile_sensor_data)
        # Newest keypoints only (reliable, keep last 1): a lifter that falls behind skips frames,
        # counted as ``skipped``, instead of queueing them and adding latency.
        self._last_sequence = 0
        self.create_subscription(PointCloud2, "keypoints", self._on_newest_keypoints, QoSProfile(depth=1))
        self.diag = NodeDiagnostics(self, inputs={"frames": True, "camera_info": False},
                                    counters=COUNTERS + tuple(self.estimator.counts), causes=CAUSES,
                                    stale_after_s=self.p["input_timeout_s"],
                                    gauges=lambda: {"active_tracks": len(self.estimator.tracks),
                                                    "metric": self.intrinsics is not None},
                                    checks=self._checks)
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

    def _apply(self, changed: set[str]) -> None:
        """Take accepted run-time parameter changes into use."""
        self.estimator.settings = settings_from_params(self.p)
        self.estimator.lifter.track_gap_s = self.p["track_gap_s"]
        self.estimator.lifter.min_confidence = self.p["min_joint_confidence"]
        self.estimator.lifter.camera_up = self._camera_up()
        self.diag.stale_after_s = self.p["input_timeout_s"]
        if self.p["publish_tf"] and self.tf is None:
            self.tf = self._tf_broadcaster()
        self.get_logger().info(f"parameters changed: {', '.join(sorted(changed))}")

    def _camera_up(self):
        """The world's up direction in the camera frame, from the tilt parameters."""
        return camera_up(self.p["camera_pitch_deg"], self.p["camera_roll_deg"])

    def _checks(self) -> list[tuple[int, str]]:
        if self.intrinsics is None:
            return [(DiagnosticStatus.WARN, "no valid CameraInfo: skeletons root-relative")]
        return []

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.diag.received("camera_info")
        try:
            self.intrinsics = intrinsics_from_msg(msg)
        except ValueError as exc:
            self.diag.reject("bad_camera_info", str(exc))

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
        self.diag.received("frames")
        try:
            stamp = stamp_seconds(msg.header)
        except ValueError as exc:
            self.diag.reject("bad_stamp", str(exc))
            return
        cam = self.intrinsics
        size = (cam or self.estimator.settings.fallback_intrinsics)
        try:
            decoded = keypoints_from_cloud(msg, (size.width, size.height), self.p["max_people"])
        except CloudError as exc:
            self.diag.reject("bad_cloud", str(exc))
            return
        for cause, n in decoded.causes.items():
            self.diag.reject(cause, decoded.details[cause], n)
        ended = self.estimator.evict(stamp)
        if cam is None:
            self.diag.reject("no_camera_info", "no valid CameraInfo on camera_info yet")
        skeletons = self.estimator.update(stamp, decoded.people, cam)
        self.diag.sync(self.estimator.counts)
        if skeletons is None:
            return
        frame_id = msg.header.frame_id if cam is not None else msg.header.frame_id + ROOT_RELATIVE_SUFFIX
        header = Header(stamp=msg.header.stamp, frame_id=frame_id)
        self.skeleton_pub.publish(skeletons_to_cloud(header, skeletons))
        self.tracked_pub.publish(tracked_msg([s.track_id for s in skeletons]))
        self._publish_visuals(header, skeletons, ended)
        self.diag.count("published")
        self.diag.latency(1000.0 * (time.perf_counter() - start))

    def _publish_visuals(self, header: Header, skeletons: list[Skeleton3D], ended: list[int]) -> None:
        markers = MarkerArray()
        for tid in ended:
            markers.markers += delete_markers(header, tid)
        for s in skeletons:
            markers.markers += skeleton_markers(header, s.track_id, s.joints, s.valid, self.p["marker_lifetime_s"],
                                                s.velocity)
        self.marker_pub.publish(markers)
        if not self.p["publish_tf"] or self.tf is None or not skeletons or not skeletons[0].metric:
            return
        if not header.frame_id:
            self.diag.reject("no_frame_id", "keypoints with an empty header.frame_id: no TF parent")
            return
        transforms = []
        for s in skeletons:
            if self.p["tf_plausible_only"] and not s.plausible:
                self.diag.count("tf_withheld")
            else:
                transforms += skeleton_transforms(header, s.track_id, s.joints, self.p["frame_prefix"])
        if transforms:
            self.tf.sendTransform(transforms)


def main(args: list[str] | None = None) -> None:
    from .run import spin_node
    spin_node(LifterNode, args)


if __name__ == "__main__":
    main()
