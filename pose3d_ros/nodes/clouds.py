"""The one codec of the package's PointCloud2 messages (no sensor_msgs_py): keypoints and
skeletons, encoded and decoded here by every node and bench.

Both clouds are unorganised (height 1): one point per joint, people one after another,
joints in H36M-17 order within a person.

``keypoints`` (2D, from the detector):
    x, y: float32 pixels in the source image; confidence: float32 in [0, 1];
    track_id: uint32; joint: uint16 (H36M-17 index); from backends that estimate 3D
    (mediapipe) also wx, wy, wz: float32, the detector's own 3D in metres, pelvis at the
    origin, camera optical axes (NaN for a person without it). One message carries both, so
    the lifter never has to pair two topics by stamp.
``skeletons_3d`` (from the lifter):
    x, y, z: float32 metres in header.frame_id: the camera optical frame, or
    ``<camera frame>/root_relative`` (pelvis at the origin, camera axes, no TF) when the
    pose could not be placed; confidence: float32; track_id: uint32; joint: uint16;
    valid: uint8 (1 when the joint passed the anatomical checks); vx, vy, vz: float32, the
    joint's velocity in m/s in the same frame (NaN on a track's first frame).

Decoding validates what it hands on: a cloud that cannot be read raises :class:`CloudError`;
a person whose joints are not H36M-17 once each is left out, and non-finite or out-of-range
values are neutralised, each counted under a named cause (:data:`KEYPOINT_CAUSES`).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from ..lifting.inputs import PersonKeypoints

JOINTS = 17
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
SKELETON_DTYPE = np.dtype({"names": ["x", "y", "z", "confidence", "track_id", "joint", "valid", "vx", "vy", "vz"],
                           "formats": ["<f4", "<f4", "<f4", "<f4", "<u4", "<u2", "u1", "<f4", "<f4", "<f4"],
                           "offsets": [0, 4, 8, 12, 16, 20, 22, 24, 28, 32], "itemsize": 36})
# Decoding causes, counted per person: left out (bad_joints, too_many_people) or repaired.
KEYPOINT_CAUSES = {
    "bad_joints": "a person whose joints are not H36M-17 0..16 once each is left out",
    "too_many_people": "people beyond the limit are left out",
    "bad_confidence": "non-finite confidence taken as 0, outside [0, 1] clipped",
    "bad_keypoints": "a non-finite keypoint, or one farther than an image size outside the image, "
                     "is unseen (confidence 0)",
}
ROOT_RELATIVE_SUFFIX = "/root_relative"


class CloudError(ValueError):
    """A cloud that cannot be decoded (fields, types or size)."""


class HasKeypoints(Protocol):
    track_id: int
    keypoints: np.ndarray  # (17, 2)
    confidence: np.ndarray  # (17,)
    world: np.ndarray | None  # (17, 3) the detector's own 3D, if any


class HasSkeleton(Protocol):
    track_id: int
    joints: np.ndarray  # (17, 3)
    confidence: np.ndarray  # (17,)
    valid: np.ndarray  # (17,) bool
    velocity: np.ndarray  # (17, 3) m/s, NaN where unknown


@dataclass
class CloudSkeleton:
    track_id: int
    joints: np.ndarray  # (17, 3)
    confidence: np.ndarray  # (17,)
    valid: np.ndarray  # (17,) bool
    velocity: np.ndarray  # (17, 3) m/s; NaN where unknown or the cloud has none


@dataclass
class DecodedKeypoints:
    """The people of a keypoints cloud and, per cause, how many people it affected."""

    people: list[PersonKeypoints]
    causes: Counter = field(default_factory=Counter)
    details: dict[str, str] = field(default_factory=dict)  # one example per cause

    def note(self, cause: str, detail: str) -> None:
        self.causes[cause] += 1
        self.details.setdefault(cause, detail)


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
            raise CloudError(f"unsupported PointField {f.name!r} (datatype {f.datatype}, count {f.count})")
        names.append(f.name)
        formats.append(byteorder + _FROM_DATATYPE[f.datatype])
        offsets.append(f.offset)
    try:
        dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": msg.point_step})
    except (ValueError, TypeError) as exc:
        raise CloudError(f"fields do not fit point_step {msg.point_step}: {exc}") from None
    count = msg.width * msg.height
    if count and not msg.point_step:
        raise CloudError(f"{count} points with point_step 0")
    if len(msg.data) < count * msg.point_step:
        raise CloudError(f"cloud data has {len(msg.data)} bytes, expected {count * msg.point_step}")
    return np.frombuffer(bytes(msg.data[: count * msg.point_step]), dtype=dtype)


def _require(points: np.ndarray, floats: tuple[str, ...], ints: tuple[str, ...]) -> None:
    for names, kinds, what in ((floats, "f", "a float"), (ints, "ui", "an integer")):
        for name in names:
            if name not in (points.dtype.names or ()):
                raise CloudError(f"no field {name!r} (fields: {', '.join(points.dtype.names or ())})")
            if points.dtype[name].kind not in kinds:
                raise CloudError(f"field {name!r} is {points.dtype[name]}, expected {what} type")


def _people(points: np.ndarray, limit: int | None = None) -> tuple[list[tuple[int, np.ndarray, bool]], int]:
    """Rows per track id in order of first appearance (the first ``limit`` ids), sorted by
    joint, with whether the joints are 0..16 once each; and the number of ids in the cloud."""
    tids, first, inverse = np.unique(points["track_id"], return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=len(tids)))])
    out = []
    for g in np.argsort(first, kind="stable")[:limit]:
        rows = points[order[bounds[g]:bounds[g + 1]]]
        rows = rows[np.argsort(rows["joint"], kind="stable")]
        out.append((int(tids[g]), rows, len(rows) == JOINTS and np.array_equal(rows["joint"], np.arange(JOINTS))))
    return out, len(tids)


def keypoints_to_cloud(header: Header, people: Iterable[HasKeypoints]) -> PointCloud2:
    """Detected (or any tracked) people -> the ``keypoints`` cloud, with the 3D fields when any
    person has the detector's own 3D (NaN for the others)."""
    people = list(people)
    with_3d = any(getattr(p, "world", None) is not None for p in people)
    points = np.zeros(JOINTS * len(people), dtype=KEYPOINT_3D_DTYPE if with_3d else KEYPOINT_DTYPE)
    for i, p in enumerate(people):
        block = points[JOINTS * i:JOINTS * (i + 1)]
        block["x"], block["y"] = p.keypoints[:, 0], p.keypoints[:, 1]
        block["confidence"], block["track_id"], block["joint"] = p.confidence, p.track_id, np.arange(JOINTS)
        if with_3d:
            world = getattr(p, "world", None)
            world = np.full((JOINTS, 3), np.nan) if world is None else world
            block["wx"], block["wy"], block["wz"] = world[:, 0], world[:, 1], world[:, 2]
    return to_cloud(header, points)


def keypoints_from_cloud(msg: PointCloud2, image_size: tuple[int, int] | None = None,
                         max_people: int | None = None) -> DecodedKeypoints:
    """The ``keypoints`` cloud -> people with finite keypoints (NaN where unseen) and
    confidences in [0, 1]. ``image_size`` (width, height) bounds the keypoints: farther than
    one image size outside the image is unseen. Raises CloudError for an unreadable cloud."""
    points = from_cloud(msg)
    _require(points, ("x", "y", "confidence"), ("track_id", "joint"))
    out = DecodedKeypoints([])
    groups, total = _people(points, max_people)
    if total > len(groups):
        out.causes["too_many_people"] += total - len(groups)
        out.details["too_many_people"] = f"{total} people, max_people {max_people}"
    for tid, rows, ok in groups:
        if not ok:
            out.note("bad_joints", f"track {tid} has joints {rows['joint'][:40].tolist()}, expected 0..16 once each")
            continue
        kps = np.stack([rows["x"], rows["y"]], axis=-1).astype(np.float64)
        conf = rows["confidence"].astype(np.float64)
        if not np.all((conf >= 0.0) & (conf <= 1.0)):
            out.note("bad_confidence", f"track {tid} has confidences {np.round(conf, 3).tolist()}")
            conf = np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0)
        seen = np.all(np.isfinite(kps), axis=-1)
        if image_size is not None:
            size = np.array(image_size, np.float64)
            with np.errstate(invalid="ignore"):
                seen &= np.all((kps >= -size) & (kps <= 2.0 * size), axis=-1)
        if not seen.all():
            bad = np.flatnonzero(~seen)
            out.note("bad_keypoints", f"track {tid}: joints {bad.tolist()} at {kps[bad].tolist()[:3]} "
                                      f"(image {image_size})")
            kps[~seen], conf = np.nan, np.where(seen, conf, 0.0)
        out.people.append(PersonKeypoints(tid, kps, conf, _world(rows)))
    return out


def _world(rows: np.ndarray) -> np.ndarray | None:
    """A person's 3D fields, when the cloud has them and they are finite and within 10 m."""
    if "wz" not in (rows.dtype.names or ()) or any(rows.dtype[n].kind != "f" for n in ("wx", "wy", "wz")):
        return None
    world = np.stack([rows["wx"], rows["wy"], rows["wz"]], axis=-1).astype(np.float64)
    return world if np.all(np.isfinite(world)) and np.abs(world).max() < 10.0 else None


def skeletons_to_cloud(header: Header, skeletons: Iterable[HasSkeleton]) -> PointCloud2:
    """Lifted skeletons -> the ``skeletons_3d`` cloud."""
    skeletons = list(skeletons)
    points = np.zeros(JOINTS * len(skeletons), dtype=SKELETON_DTYPE)
    for i, s in enumerate(skeletons):
        block = points[JOINTS * i:JOINTS * (i + 1)]
        block["x"], block["y"], block["z"] = s.joints[:, 0], s.joints[:, 1], s.joints[:, 2]
        block["confidence"], block["track_id"], block["joint"] = s.confidence, s.track_id, np.arange(JOINTS)
        block["valid"] = s.valid
        block["vx"], block["vy"], block["vz"] = s.velocity[:, 0], s.velocity[:, 1], s.velocity[:, 2]
    return to_cloud(header, points)


def skeletons_from_cloud(msg: PointCloud2) -> list[CloudSkeleton]:
    """The ``skeletons_3d`` cloud -> skeletons (people whose joints are not 0..16 are left out).
    Raises CloudError for an unreadable cloud."""
    points = from_cloud(msg)
    _require(points, ("x", "y", "z", "confidence"), ("track_id", "joint", "valid"))
    return [CloudSkeleton(tid, _xyz(r, ("x", "y", "z")), r["confidence"].astype(np.float64), r["valid"].astype(bool),
                          _xyz(r, ("vx", "vy", "vz")))
            for tid, r, ok in _people(points)[0] if ok]


def _xyz(rows: np.ndarray, names: tuple[str, str, str]) -> np.ndarray:
    """(N, 3) float64 of three fields; NaN where the cloud lacks them."""
    if not set(names) <= set(rows.dtype.names or ()):
        return np.full((len(rows), 3), np.nan)
    return np.stack([rows[n] for n in names], axis=-1).astype(np.float64)

