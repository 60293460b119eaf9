"""Keypoint detector node: images in, H36M-17 keypoints with confidence and track ids out."""
from __future__ import annotations

import time

import cv2
import numpy as np
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, PointCloud2

from ..detection import BACKENDS, DEFAULT_BACKEND, Detection, backend_options, create_detector
from ..detection.registry import parameters as detector_parameters
from ..image_encoding import ImageError
from ..preview import draw_keypoints
from .camera_msgs import bgr_to_msg, rgb_from_msg
from .clouds import KEYPOINT_DTYPE, to_cloud
from .diagnostics import NodeDiagnostics
from .params import Param, declare

PARAMS = (
    Param("backend", DEFAULT_BACKEND, "Detector backend: " + "; ".join(f"{b.name} ({b.summary})"
                                                                        for b in BACKENDS.values())),
    *(Param(o.name, o.default, o.description) for o in detector_parameters()),
    Param("publish_overlay", False, "Also publish keypoints_overlay (sensor_msgs/Image, bgr8): "
                                    "the image with the skeletons drawn, for debugging"),
    Param("compressed", False, "Subscribe to image_raw/compressed (CompressedImage) instead of image_raw"),
    Param("reliable_input", False, "Subscribe to images with reliable QoS (keep last 1) instead of "
                                   "best-effort sensor-data QoS; needs a reliable publisher, and avoids "
                                   "losing large images whose UDP fragments drop between processes"),
)
# Sensor-data QoS keeping only the newest image: a slow detector skips frames, never queues them.
NEWEST_IMAGE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                              reliability=qos_profile_sensor_data.reliability,
                              durability=qos_profile_sensor_data.durability)


def detections_to_points(detections: list[Detection]) -> np.ndarray:
    """Detections -> structured rows of the ``keypoints`` cloud (see clouds.py)."""
    points = np.zeros(sum(len(d.keypoints) for d in detections), dtype=KEYPOINT_DTYPE)
    row = 0
    for det in detections:
        n = len(det.keypoints)
        block = points[row:row + n]
        block["x"], block["y"] = det.keypoints[:, 0], det.keypoints[:, 1]
        block["confidence"] = det.confidence
        block["track_id"] = det.track_id
        block["joint"] = np.arange(n)
        row += n
    return points


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
        self.p = declare(self, PARAMS)
        try:
            self.detector = create_detector(self.p["backend"], **backend_options(self.p["backend"], self.p))
        except (OSError, ValueError) as exc:
            self.get_logger().fatal(f"cannot start the detector: {exc}")
            raise
        self.pub = self.create_publisher(PointCloud2, "keypoints", 10)
        self.overlay_pub = (self.create_publisher(Image, "keypoints_overlay", 1)
                            if self.p["publish_overlay"] else None)
        qos = QoSProfile(depth=1) if self.p["reliable_input"] else NEWEST_IMAGE_QOS
        if self.p["compressed"]:
            self.create_subscription(CompressedImage, "image_raw/compressed", self._on_image, qos)
        else:
            self.create_subscription(Image, "image_raw", self._on_image, qos)
        self.diag = NodeDiagnostics(self, warn_counters=("bad_images",))
        self.get_logger().info(f"detector backend {self.p['backend']} ready")

    def _on_image(self, msg: Image | CompressedImage) -> None:
        start = time.perf_counter()
        self.diag.count("images")
        try:
            rgb = rgb_from_msg(msg)
        except ImageError as exc:
            self.diag.count("bad_images")
            self.get_logger().warn(f"skipping image: {exc}", throttle_duration_sec=5.0)
            return
        detections = self.detector.detect(rgb)
        self.pub.publish(to_cloud(msg.header, detections_to_points(detections)))
        if self.overlay_pub is not None:
            self.overlay_pub.publish(bgr_to_msg(overlay(rgb, detections), msg.header))
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
