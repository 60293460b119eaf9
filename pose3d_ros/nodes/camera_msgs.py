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
    return CameraInfo(header=header, width=cam.width, height=cam.height, distortion_model=cam.distortion_model,
                      d=[float(x) for x in d], k=cam.matrix.flatten().tolist(),
                      r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                      p=[cam.fx, 0.0, cam.cx, 0.0, 0.0, cam.fy, cam.cy, 0.0, 0.0, 0.0, 1.0, 0.0])


MAX_FOCAL_PX = 1e6  # beyond this (and below 1 px) a focal length is not a camera's
MAX_IMAGE_SIZE = 100_000


def intrinsics_from_msg(msg: CameraInfo) -> CameraIntrinsics:
    """Intrinsics from CameraInfo.k; raises ValueError naming what is wrong: an uncalibrated
    (zero) or non-finite K, a focal length outside [1, 1e6] px, an image size outside
    [1, 100000], a principal point more than an image size outside the image, or a
    distortion it cannot undo (an unknown model, too many or non-finite coefficients:
    :mod:`pose3d_ros.lens`)."""
    k, name = np.asarray(msg.k, np.float64), f"CameraInfo on frame {msg.header.frame_id!r}"
    if not np.all(np.isfinite(k)):
        raise ValueError(f"{name} has a non-finite K ({k.tolist()})")
    if not (1.0 <= k[0] <= MAX_FOCAL_PX and 1.0 <= k[4] <= MAX_FOCAL_PX):
        raise ValueError(f"{name} has no usable focal length: fx {k[0]}, fy {k[4]} (expected 1 to "
                         f"{MAX_FOCAL_PX:.0e} px; all zero: uncalibrated)")
    if not (1 <= msg.width <= MAX_IMAGE_SIZE and 1 <= msg.height <= MAX_IMAGE_SIZE):
        raise ValueError(f"{name} has image size {msg.width}x{msg.height}")
    if not (-msg.width <= k[2] <= 2 * msg.width and -msg.height <= k[5] <= 2 * msg.height):
        raise ValueError(f"{name} has its principal point ({k[2]}, {k[5]}) more than an image size "
                         f"outside the {msg.width}x{msg.height} image")
    try:
        return CameraIntrinsics(float(k[0]), float(k[4]), float(k[2]), float(k[5]), int(msg.width),
                                int(msg.height), tuple(float(x) for x in msg.d), msg.distortion_model)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def stamp_seconds(header: Header) -> float:
    """The header's stamp in seconds; raises ValueError for a negative or malformed stamp."""
    sec, nanosec = header.stamp.sec, header.stamp.nanosec
    if sec < 0 or nanosec >= 1_000_000_000:
        raise ValueError(f"invalid stamp {sec} s {nanosec} ns")
    return sec + nanosec * 1e-9
