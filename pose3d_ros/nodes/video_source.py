"""Video source node: a file, an image folder or a camera device as Image + CameraInfo."""
from __future__ import annotations

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from ..geometry import CameraIntrinsics
from ..resources import resolve, sample_clip
from ..video import FrameSource
from .camera_msgs import bgr_to_msg, camera_info_msg
from .diagnostics import NodeDiagnostics
from .params import Param, all_of, declare, frame_name, not_empty

PARAMS = (
    Param("source", "", "Video file, image folder, or camera device (index or /dev/videoN); "
                        "empty: the sample clip fetched by scripts/setup.sh"),
    Param("frame_id", "camera_optical_frame", "frame_id of the published images (optical frame: "
                                              "x right, y down, z forward)", check=all_of(not_empty, frame_name),
          dynamic=True),
    Param("camera_info_file", "", "ROS calibration YAML (absolute, or a file in config/); empty: the "
                                  "sample clip's calibration for the sample clip, else a 60-degree "
                                  "horizontal field of view"),
    Param("resize_width", 640, "Resize frames to this width keeping the aspect ratio (0: keep)",
          range=(0, 100_000)),
    Param("rate_hz", 0.0, "Publishing rate; 0: the video's own frame rate", range=(0.0, 1000.0), dynamic=True),
    Param("realtime", True, "Pace frames at rate_hz; false: publish as fast as possible", dynamic=True),
    Param("loop", False, "Start again at the end of a file or folder", dynamic=True),
    Param("max_frames", 0, "Stop after this many frames (0: no limit)", range=(0, 2**31 - 1), dynamic=True),
    Param("wait_for_subscribers", False, "Hold the first frame until image_raw has a subscriber", dynamic=True),
)
SAMPLE_CAMERA_FILE = "sample_camera.yaml"


class VideoSourceNode(Node):
    """Publishes ``image_raw`` (bgr8) and ``camera_info`` with the same header."""

    def __init__(self, **kwargs) -> None:
        super().__init__("video_source", **kwargs)
        self.p = declare(self, PARAMS, self._apply)
        source = self.p["source"] or str(sample_clip())
        self.frames = FrameSource(source, self.p["resize_width"])
        self.intrinsics: CameraIntrinsics | None = None
        self.calibration = self._calibration(source)
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.create_publisher(Image, "image_raw", qos)
        self.info_pub = self.create_publisher(CameraInfo, "camera_info", qos)
        self.published = 0
        self.finished = False
        self.timer = None
        self.diag = NodeDiagnostics(self, counters=("published",), gauges=lambda: {"finished": self.finished})
        self._apply({"rate_hz"})
        self.get_logger().info(f"publishing {source} at {self.rate_hz:.1f} Hz (realtime={self.p['realtime']}) "
                               f"as {self.p['frame_id']}")

    @property
    def rate_hz(self) -> float:
        return self.p["rate_hz"] or self.frames.fps

    def _apply(self, changed: set[str]) -> None:
        """rate_hz and realtime take effect with a new timer; the others are read per frame."""
        if changed & {"rate_hz", "realtime"} and not self.finished:
            if self.timer is not None:
                self.destroy_timer(self.timer)
            self.timer = self.create_timer(1.0 / self.rate_hz if self.p["realtime"] else 1e-4, self._tick)

    def _calibration(self, source: str) -> CameraIntrinsics | None:
        name = self.p["camera_info_file"] or (SAMPLE_CAMERA_FILE if source == str(sample_clip()) else "")
        if not name:
            return None
        return CameraIntrinsics.from_yaml(resolve(name, "config"))

    def _intrinsics_for(self, width: int, height: int) -> CameraIntrinsics:
        if self.intrinsics is None or (self.intrinsics.width, self.intrinsics.height) != (width, height):
            if self.calibration is not None:
                self.intrinsics = self.calibration.scaled_to(width, height)
            else:
                self.intrinsics = CameraIntrinsics.default_for(width, height)
                self.get_logger().warn(f"no camera_info_file: using a 60-degree horizontal field of view "
                                       f"(fx = {self.intrinsics.fx:.0f} px for {width}x{height})")
        return self.intrinsics

    def _tick(self) -> None:
        if self.finished:
            return
        if self.p["wait_for_subscribers"] and not self.published and not self.image_pub.get_subscription_count():
            self.get_logger().info("waiting for a subscriber on image_raw", once=True)
            return
        frame = self.frames.read()
        if frame is None and self.p["loop"] and self.frames.rewind():
            frame = self.frames.read()
        if frame is None or (self.p["max_frames"] and self.published >= self.p["max_frames"]):
            self.finished = True
            self.timer.cancel()
            self.get_logger().info(f"source finished after {self.published} frames")
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.p["frame_id"])
        height, width = frame.shape[:2]
        self.info_pub.publish(camera_info_msg(self._intrinsics_for(width, height), header))
        self.image_pub.publish(bgr_to_msg(frame, header))
        self.published += 1
        self.diag.count("published")

    def destroy_node(self) -> None:
        self.frames.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from .run import spin_node
    spin_node(VideoSourceNode, args)


if __name__ == "__main__":
    main()
