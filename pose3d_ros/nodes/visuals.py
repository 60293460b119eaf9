"""RViz markers and TF frames for lifted skeletons.

TF (REP-155 style): ``<prefix>body_<id>`` sits at the pelvis, x forward, y left, z up,
as a child of the camera frame; ``<prefix>body_<id>/<joint>`` is one frame per joint,
a child of the body frame, with the body frame's orientation.
"""
from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, TransformStamped
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

from ..geometry import body_frame_rotation, quaternion_from_matrix
from ..skeleton import H36M17

VALID_COLOUR = ColorRGBA(r=0.1, g=0.8, b=0.2, a=1.0)
INVALID_COLOUR = ColorRGBA(r=0.9, g=0.1, b=0.1, a=1.0)
JOINT_DIAMETER_M = 0.05
BONE_WIDTH_M = 0.02
MOTION_COLOUR = ColorRGBA(r=0.2, g=0.5, b=1.0, a=1.0)
MOTION_AHEAD_S = 0.5  # the motion arrow points where the pelvis will be this much later
MARKER_IDS = (0, 1, 2)  # joints, bones, motion arrow


def track_namespace(track_id: int) -> str:
    return f"track_{track_id}"


def body_frame(prefix: str, track_id: int) -> str:
    return f"{prefix}body_{track_id}"


def _duration(seconds: float) -> Duration:
    return Duration(sec=int(seconds), nanosec=int(round((seconds % 1.0) * 1e9)))


def skeleton_markers(header: Header, track_id: int, joints: np.ndarray, valid: np.ndarray,
                     lifetime_s: float, velocity: np.ndarray) -> list[Marker]:
    """A SPHERE_LIST of joints (id 0) and a LINE_LIST of bones (id 1), coloured by validity, and
    an ARROW (id 2) from the pelvis to where its velocity takes it in MOTION_AHEAD_S (deleted
    while the velocity is unknown)."""
    colours = [VALID_COLOUR if v else INVALID_COLOUR for v in valid]
    points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in joints]
    common = dict(header=header, ns=track_namespace(track_id), action=Marker.ADD,
                  lifetime=_duration(lifetime_s), frame_locked=False)
    spheres = Marker(id=0, type=Marker.SPHERE_LIST, points=points, colors=colours, **common)
    spheres.scale.x = spheres.scale.y = spheres.scale.z = JOINT_DIAMETER_M
    spheres.pose.orientation.w = 1.0
    bone_points, bone_colours = [], []
    for child, parent in H36M17.bones:
        bone_points += [points[parent], points[child]]
        colour = VALID_COLOUR if valid[child] and valid[parent] else INVALID_COLOUR
        bone_colours += [colour, colour]
    bones = Marker(id=1, type=Marker.LINE_LIST, points=bone_points, colors=bone_colours, **common)
    bones.scale.x = BONE_WIDTH_M
    bones.pose.orientation.w = 1.0
    if not np.all(np.isfinite(velocity[0])):
        return [spheres, bones, Marker(header=header, ns=track_namespace(track_id), id=2, action=Marker.DELETE)]
    ahead = joints[0] + MOTION_AHEAD_S * velocity[0]
    arrow = Marker(id=2, type=Marker.ARROW, color=MOTION_COLOUR,
                   points=[points[0], Point(x=float(ahead[0]), y=float(ahead[1]), z=float(ahead[2]))], **common)
    arrow.scale.x, arrow.scale.y, arrow.scale.z = BONE_WIDTH_M, 2 * BONE_WIDTH_M, 2 * BONE_WIDTH_M  # shaft, head
    arrow.pose.orientation.w = 1.0
    return [spheres, bones, arrow]


def delete_markers(header: Header, track_id: int) -> list[Marker]:
    """DELETE every marker of an ended track."""
    return [Marker(header=header, ns=track_namespace(track_id), id=i, action=Marker.DELETE) for i in MARKER_IDS]


def skeleton_transforms(header: Header, track_id: int, joints: np.ndarray,
                        prefix: str) -> list[TransformStamped]:
    """Body frame at the pelvis under header.frame_id, and one child frame per joint."""
    idx = H36M17.index
    rot = body_frame_rotation(joints, idx("l_hip"), idx("r_hip"), idx("thorax"), idx("pelvis"))
    body = body_frame(prefix, track_id)
    out = [_transform(header, body, joints[0], quaternion_from_matrix(rot))]
    child_header = Header(stamp=header.stamp, frame_id=body)
    local = (joints - joints[0]) @ rot  # joint positions in the body frame
    identity = np.array([0.0, 0.0, 0.0, 1.0])
    for j, name in enumerate(H36M17.joint_names):
        out.append(_transform(child_header, f"{body}/{name}", local[j], identity))
    return out


def _transform(header: Header, child: str, xyz: np.ndarray, quat: np.ndarray) -> TransformStamped:
    t = TransformStamped(header=header, child_frame_id=child)
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (float(v) for v in xyz)
    r = t.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in quat)
    return t
