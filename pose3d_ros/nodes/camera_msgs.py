"""sensor_msgs Image / CompressedImage / CameraInfo <-> numpy and intrinsics."""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from ..geometry import CameraIntrinsics
from ..image_encoding import SUPPORTED_ENCODINGS, ImageError, compressed_to_rgb, image_to_rgb

try:  # cv_bridge where ROS provides it (not on PyPI): it also knows encodings we do not
    from cv_bridge import CvBridge, CvBridgeError
    _BRIDGE = CvBridge()
except ImportError:
    _BRIDGE = None


def rgb_from_msg(msg: Image | CompressedImage) -> np.ndarray:
    """Decode an image message to (H, W, 3) uint8 RGB; raises ImageError naming the cause."""
    if isinstance(msg, CompressedImage):
        return compressed_to_rgb(msg.data)
    if _BRIDGE is not None and msg.encoding not in SUPPORTED_ENCODINGS:
        try:
            return _BRIDGE.imgmsg_to_cv2(msg, desired_encoding="rgb8")
        except CvBridgeError as exc:
            raise ImageError(f"cv_bridge cannot convert {msg.encoding!r}: {exc}") from exc
    return image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)


def bgr_to_msg(bgr: np.ndarray, header: Header) -> Image:
    """An OpenCV BGR frame -> sensor_msgs/Image (bgr8)."""
    bgr = np.ascontiguousarray(bgr, dtype=np.uint8)
    height, width = bgr.shape[:2]
    msg = Image(header=header, height=height, width=width, encoding="bgr8", is_bigendian=0, step=width * 3)
    msg.data = bgr.tobytes()
    return msg


def camera_info_msg(cam: CameraIntrinsics, header: Header) -> CameraInfo:
    d = list(cam.distortion) or [0.0] * 5
    return CameraInfo(header=header, width=cam.width, height=cam.height, distortion_model="plumb_bob",
                      d=[float(x) for x in d], k=cam.matrix.flatten().tolist(),
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[cam.fx, 0.0, cam.cx, 0.0, 0.0, cam.fy, cam.cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def intrinsics_from_msg(msg: CameraInfo) -> CameraIntrinsics:
    """Intrinsics from CameraInfo.k; raises ValueError for an uncalibrated (all-zero) K."""
    k = msg.k
    if k[0] <= 0 or k[4] <= 0:
        raise ValueError(f"CameraInfo on frame {msg.header.frame_id!r} has no focal length (K = {list(k)})")
    return CameraIntrinsics(float(k[0]), float(k[4]), float(k[2]), float(k[5]), int(msg.width),
                            int(msg.height), tuple(float(x) for x in msg.d))
