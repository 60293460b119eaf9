"""Keypoints and skeletons as sensor_msgs/PointCloud2 with named fields (no sensor_msgs_py).

Both clouds are unorganised (height 1): one point per joint, people one after another,
joints in H36M-17 order within a person.

``keypoints`` (2D, from the detector):
    x, y: float32 pixels in the source image; confidence: float32 in [0, 1];
    track_id: uint32; joint: uint16 (H36M-17 index); from backends that estimate 3D
    (mediapipe) also wx, wy, wz: float32, the detector's own 3D in metres, pelvis at the
    origin, camera optical axes (NaN for a person without it). One message carries both, so
    the lifter never has to pair two topics by stamp.
``skeletons_3d`` (from the lifter):
    x, y, z: float32 metres in the camera optical frame (header.frame_id), or root-relative
    when no CameraInfo is known; confidence: float32; track_id: uint32; joint: uint16;
    valid: uint8 (1 when the joint passed the anatomical checks).
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

# numpy type code (kind + size, no byte order) <-> PointField datatype
_TO_DATATYPE = {"f4": PointField.FLOAT32, "f8": PointField.FLOAT64, "u4": PointField.UINT32,
                "i4": PointField.INT32, "u2": PointField.UINT16, "i2": PointField.INT16,
                "u1": PointField.UINT8, "i1": PointField.INT8}
_FROM_DATATYPE = {v: k for k, v in _TO_DATATYPE.items()}

KEYPOINT_DTYPE = np.dtype({"names": ["x", "y", "confidence", "track_id", "joint"],
                           "formats": ["<f4", "<f4", "<f4", "<u4", "<u2"],
                           "offsets": [0, 4, 8, 12, 16], "itemsize": 20})
KEYPOINT_3D_DTYPE = np.dtype({"names": ["x", "y", "confidence", "track_id", "joint", "wx", "wy", "wz"],
                              "formats": ["<f4", "<f4", "<f4", "<u4", "<u2", "<f4", "<f4", "<f4"],
                              "offsets": [0, 4, 8, 12, 16, 20, 24, 28], "itemsize": 32})
SKELETON_DTYPE = np.dtype({"names": ["x", "y", "z", "confidence", "track_id", "joint", "valid"],
                           "formats": ["<f4", "<f4", "<f4", "<f4", "<u4", "<u2", "u1"],
                           "offsets": [0, 4, 8, 12, 16, 20, 22], "itemsize": 24})


def to_cloud(header: Header, points: np.ndarray) -> PointCloud2:
    """A structured numpy array (one row per point) -> PointCloud2 with matching fields."""
    fields = []
    for name in points.dtype.names:
        dtype, offset = points.dtype.fields[name][:2]
        fields.append(PointField(name=name, offset=offset, datatype=_TO_DATATYPE[dtype.str[1:]],
                                 count=1))
    msg = PointCloud2(header=header, height=1, width=len(points), fields=fields,
                      is_bigendian=False, point_step=points.dtype.itemsize,
                      row_step=points.dtype.itemsize * len(points), is_dense=True)
    msg.data = points.tobytes()
    return msg


def from_cloud(msg: PointCloud2) -> np.ndarray:
    """PointCloud2 -> structured numpy array with one named column per field."""
    byteorder = ">" if msg.is_bigendian else "<"
    names, formats, offsets = [], [], []
    for f in msg.fields:
        if f.datatype not in _FROM_DATATYPE or f.count != 1:
            raise ValueError(f"unsupported PointField {f.name!r} (datatype {f.datatype}, count {f.count})")
        names.append(f.name)
        formats.append(byteorder + _FROM_DATATYPE[f.datatype])
        offsets.append(f.offset)
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": msg.point_step})
    count = msg.width * msg.height
    if len(msg.data) < count * msg.point_step:
        raise ValueError(f"cloud data has {len(msg.data)} bytes, expected {count * msg.point_step}")
    return np.frombuffer(bytes(msg.data[: count * msg.point_step]), dtype=dtype)


def people_rows(points: np.ndarray) -> dict[int, np.ndarray]:
    """Split cloud rows by track_id (order of first appearance), each sorted by joint."""
    out: dict[int, np.ndarray] = {}
    for tid in dict.fromkeys(points["track_id"].tolist()):
        rows = points[points["track_id"] == tid]
        out[int(tid)] = rows[np.argsort(rows["joint"], kind="stable")]
    return out

