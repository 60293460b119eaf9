"""Preview recorder node: writes the 2D overlay beside the 3D skeletons to a video and a PNG."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image, PointCloud2

from ..image_encoding import ImageError
from ..preview import render_preview
from .camera_msgs import rgb_from_msg
from .clouds import KEYPOINT_CAUSES, CloudError, keypoints_from_cloud, skeletons_from_cloud
from .diagnostics import NodeDiagnostics
from .params import Param, declare

PARAMS = (
    Param("video_file", "output/preview.mp4", "Preview video to write (empty: none)"),
    Param("png_file", "output/preview.png", "Preview still to write (empty: none)"),
    Param("png_frame", 30, "Index of the rendered frame saved as the still (the last one if fewer)",
          range=(0, 2**31 - 1)),
    Param("fps", 30.0, "Frame rate of the preview video", range=(0.1, 1000.0)),
    Param("input_timeout_s", 2.0, "Diagnostics: STALE when the last input is older than this",
          range=(0.1, 3600.0), dynamic=True),
)
PENDING = 60  # images and keypoints kept while waiting for their skeletons
MAX_DRAWN_M = 1e3  # skeletons farther out (or not finite) are not drawn
CAUSES = {"bad_images": "image skipped", "bad_cloud": "cloud skipped", **KEYPOINT_CAUSES,
          "bad_skeletons": "a skeleton not finite or beyond 1 km is not drawn"}


def _stamp_key(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


def _bounded_put(store: OrderedDict, key, value) -> None:
    store[key] = value
    while len(store) > PENDING:
        store.popitem(last=False)


class PreviewRecorderNode(Node):
    """Joins ``image_raw``, ``keypoints`` and ``skeletons_3d`` by stamp and renders each frame."""

    def __init__(self, **kwargs) -> None:
        super().__init__("preview_recorder", **kwargs)
        self.p = declare(self, PARAMS, self._apply)
        self.images: OrderedDict = OrderedDict()
        self.keypoints: OrderedDict = OrderedDict()
        self.writer = None
        self.rendered = 0
        self.png_written = False
        self.last_frame: np.ndarray | None = None
        qos = QoSProfile(depth=10)
        self.create_subscription(Image, "image_raw", self._on_image, qos)
        self.create_subscription(PointCloud2, "keypoints", self._on_keypoints, qos)
        self.create_subscription(PointCloud2, "skeletons_3d", self._on_skeletons, qos)
        self.image_size = (10_000, 10_000)  # bounds drawn keypoints until an image came
        self.diag = NodeDiagnostics(self, inputs=dict.fromkeys(("images", "keypoints", "skeletons"), True),
                                    counters=("rendered",), causes=CAUSES, stale_after_s=self.p["input_timeout_s"])

    def _apply(self, changed: set[str]) -> None:
        self.diag.stale_after_s = self.p["input_timeout_s"]

    def _on_image(self, msg: Image) -> None:
        self.diag.received("images")
        try:
            bgr = cv2.cvtColor(rgb_from_msg(msg), cv2.COLOR_RGB2BGR)
        except ImageError as exc:
            self.diag.reject("bad_images", str(exc))
            return
        self.image_size = (bgr.shape[1], bgr.shape[0])
        _bounded_put(self.images, _stamp_key(msg.header), bgr)

    def _on_keypoints(self, msg: PointCloud2) -> None:
        self.diag.received("keypoints")
        try:
            decoded = keypoints_from_cloud(msg, self.image_size)
        except CloudError as exc:
            self.diag.reject("bad_cloud", str(exc))
            return
        for cause, n in decoded.causes.items():
            self.diag.reject(cause, decoded.details[cause], n)
        _bounded_put(self.keypoints, _stamp_key(msg.header),
                     [(np.nan_to_num(p.keypoints), p.confidence) for p in decoded.people])

    def _on_skeletons(self, msg: PointCloud2) -> None:
        self.diag.received("skeletons")
        key = _stamp_key(msg.header)
        try:
            skeletons = [s.joints for s in skeletons_from_cloud(msg)]
        except CloudError as exc:
            self.diag.reject("bad_cloud", str(exc))
            return
        drawable = [j for j in skeletons if np.all(np.isfinite(j)) and np.abs(j).max() <= MAX_DRAWN_M]
        if len(drawable) < len(skeletons):
            self.diag.reject("bad_skeletons", f"{len(skeletons) - len(drawable)} of {len(skeletons)} skeletons",
                             len(skeletons) - len(drawable))
        image = self.images.pop(key, None)
        if image is None:
            return
        self._write(render_preview(image, self.keypoints.pop(key, []), drawable))

    def _write(self, frame: np.ndarray) -> None:
        if self.p["video_file"]:
            if self.writer is None:
                Path(self.p["video_file"]).parent.mkdir(parents=True, exist_ok=True)
                self.writer = cv2.VideoWriter(self.p["video_file"], cv2.VideoWriter_fourcc(*"mp4v"),
                                              self.p["fps"], (frame.shape[1], frame.shape[0]))
            self.writer.write(frame)
        if self.rendered == self.p["png_frame"]:
            self._write_png(frame)
        self.last_frame = frame
        self.rendered += 1
        self.diag.count("rendered")

    def _write_png(self, frame: np.ndarray) -> None:
        if self.p["png_file"]:
            Path(self.p["png_file"]).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(self.p["png_file"], frame)
            self.png_written = True

    def destroy_node(self) -> None:
        """Close the video and, if the still was not reached, save the last frame instead."""
        if self.writer is not None:
            self.writer.release()
        if not self.png_written and self.last_frame is not None:
            self._write_png(self.last_frame)
        if self.rendered:
            self.get_logger().info(f"preview: {self.rendered} frames -> {self.p['video_file'] or '-'}, "
                                   f"{self.p['png_file'] or '-'}")
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from .run import spin_node
    spin_node(PreviewRecorderNode, args)


if __name__ == "__main__":
    main()
