"""Keypoint detector node: images in, H36M-17 keypoints with confidence and track ids out."""
from __future__ import annotations

import time

import cv2
import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, PointCloud2

from ..detection import BACKENDS, DEFAULT_BACKEND, Detection, backend_options, create_detector
from ..detection.registry import parameters as detector_parameters
from ..image_encoding import ImageError
from ..preview import draw_keypoints
from .camera_msgs import bgr_to_msg, rgb_from_msg
from .clouds import keypoints_to_cloud
from .diagnostics import NodeDiagnostics
from .params import Param, declare

PARAMS = (
    Param("backend", DEFAULT_BACKEND, "Detector backend: " + "; ".join(f"{b.name} ({b.summary})"
                                                                        for b in BACKENDS.values()),
          choices=tuple(BACKENDS)),
    *(Param(o.name, o.default, o.description, range=o.range) for o in detector_parameters()),
    Param("publish_overlay", False, "Also publish keypoints_overlay (sensor_msgs/Image, bgr8): "
                                    "the image with the skeletons drawn, for debugging", dynamic=True),
    Param("compressed", False, "Subscribe to image_raw/compressed (CompressedImage) instead of image_raw"),
    Param("image_reliability", "auto", "QoS reliability of the image subscription (keep last 1): reliable, "
          "best_effort, or auto: reliable while every publisher of the topic is reliable (no image lost "
          "between processes: a 640x360 image travels as UDP fragments, which best effort drops), "
          "else best effort", choices=("auto", "reliable", "best_effort")),
    Param("input_timeout_s", 2.0, "Diagnostics: STALE when the last image is older than this",
          range=(0.1, 3600.0), dynamic=True),
)

CAUSES = {"bad_images": "image skipped", "detector_errors": "image skipped"}
MATCH_PERIOD_S = 0.5  # image_reliability auto: how often the publishers' QoS is looked at


def image_qos(reliable: bool) -> QoSProfile:
    """Keep only the newest image: a slow detector skips frames, never queues them."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, durability=DurabilityPolicy.VOLATILE,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)


def overlay(rgb: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """A BGR copy of the image with every detection's skeleton drawn."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for det in detections:
        draw_keypoints(bgr, det.keypoints, det.confidence)
    return bgr


class KeypointDetectorNode(Node):
    """Subscribes ``image_raw`` (newest frame only), publishes ``keypoints``."""

    def __init__(self, **kwargs) -> None:
        super().__init__("keypoint_detector", **kwargs)
        self.p = declare(self, PARAMS, self._apply)
        self.detector = create_detector(self.p["backend"], **backend_options(self.p["backend"], self.p))
        self.pub = self.create_publisher(PointCloud2, "keypoints", 10)
        self.overlay_pub = None
        self.people_last_image = 0
        self._apply(set())
        self.sub, self.reliable = None, self.p["image_reliability"] != "best_effort"
        self._subscribe(self.reliable)
        if self.p["image_reliability"] == "auto":  # reliable until a best-effort publisher shows up
            self._match_publishers()
            self.create_timer(MATCH_PERIOD_S, self._match_publishers)
        self.diag = NodeDiagnostics(self, inputs={"images": True}, counters=("people",), causes=CAUSES,
                                    stale_after_s=self.p["input_timeout_s"],
                                    gauges=lambda: {"people_last_image": self.people_last_image,
                                                    "image_reliability": "reliable" if self.reliable
                                                    else "best_effort"})
        self.get_logger().info(f"detector backend {self.p['backend']} ready")

    def _apply(self, changed: set[str]) -> None:
        if self.p["publish_overlay"] and self.overlay_pub is None:
            self.overlay_pub = self.create_publisher(Image, "keypoints_overlay", 1)
        if "input_timeout_s" in changed:
            self.diag.stale_after_s = self.p["input_timeout_s"]

    def _subscribe(self, reliable: bool) -> None:
        if self.sub is not None:
            self.destroy_subscription(self.sub)
        kind, topic = (CompressedImage, "image_raw/compressed") if self.p["compressed"] else (Image, "image_raw")
        self.sub = self.create_subscription(kind, topic, self._on_image, image_qos(reliable))
        self.reliable = reliable

    def _match_publishers(self) -> None:
        """image_reliability auto: reliable while every publisher of the images is."""
        publishers = self.get_publishers_info_by_topic(self.sub.topic_name)
        reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
        if publishers and reliable != self.reliable:
            self._subscribe(reliable)
            self.get_logger().info(f"images: {'reliable' if reliable else 'best-effort'} subscription "
                                   f"to match {len(publishers)} publisher(s)")

    def _on_image(self, msg: Image | CompressedImage) -> None:
        start = time.perf_counter()
        self.diag.received("images")
        try:
            rgb = rgb_from_msg(msg)
        except ImageError as exc:
            self.diag.reject("bad_images", str(exc))
            return
        try:
            detections = self.detector.detect(rgb)
        except (RuntimeError, ValueError, cv2.error) as exc:
            self.diag.reject("detector_errors", f"{type(exc).__name__}: {exc}")
            return
        self.pub.publish(keypoints_to_cloud(msg.header, detections))
        if self.overlay_pub is not None and self.p["publish_overlay"]:
            self.overlay_pub.publish(bgr_to_msg(overlay(rgb, detections), msg.header))
        self.people_last_image = len(detections)
        self.diag.count("people", len(detections))
        self.diag.latency(1000.0 * (time.perf_counter() - start))

    def destroy_node(self) -> None:
        self.detector.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from .run import spin_node
    spin_node(KeypointDetectorNode, args)


if __name__ == "__main__":
    main()
