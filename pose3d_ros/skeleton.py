"""Skeleton layouts: the one definition of every joint order used in the package.

H36M-17 (the VideoPose3D order) is the lifter's layout; detector layouts
(BlazePose-33, COCO-17) are converted to it by :mod:`pose3d_ros.layout_conversion`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np


def bones_of(parents: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """(child, parent) pairs of a kinematic tree given by each joint's parent (-1: the root)."""
    return tuple((j, p) for j, p in enumerate(parents) if p >= 0)


@dataclass(frozen=True)
class SkeletonLayout:
    """Joint names, kinematic parents (-1 for the root) and left/right joint groups."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joints_left: tuple[int, ...]
    joints_right: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.joint_names) != len(self.parents):
            raise ValueError(f"{self.name}: {len(self.joint_names)} names but {len(self.parents)} parents")
        if len(self.joints_left) != len(self.joints_right):
            raise ValueError(f"{self.name}: left and right joint groups differ in size")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs, one per non-root joint; a bone is named by its child joint."""
        return bones_of(self.parents)

    @cached_property
    def bone_children(self) -> tuple[int, ...]:
        """Each bone's child joint, in ``bones`` order."""
        return tuple(c for c, _ in self.bones)

    @cached_property
    def bone_parents(self) -> tuple[int, ...]:
        """Each bone's parent joint, in ``bones`` order."""
        return tuple(p for _, p in self.bones)

    @cached_property
    def left_right_joints(self) -> tuple[tuple[int, int], ...]:
        """(left joint, right joint) pairs: ``joints_left`` and ``joints_right`` zipped."""
        return tuple(zip(self.joints_left, self.joints_right))

    @cached_property
    def left_right_bones(self) -> tuple[tuple[int, int], ...]:
        """(left bone, right bone) indices into ``bones``: the bones named by each left/right joint pair."""
        return tuple((self.bone_of(left), self.bone_of(right)) for left, right in self.left_right_joints)

    def bone_of(self, joint: int) -> int:
        """Index into ``bones`` of the bone whose child is ``joint`` (the root has none)."""
        return self.bone_children.index(joint)

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)

    def flip_permutation(self) -> np.ndarray:
        """Joint permutation that swaps left and right (for horizontal flips)."""
        perm = np.arange(self.num_joints)
        perm[list(self.joints_left)] = self.joints_right
        perm[list(self.joints_right)] = self.joints_left
        return perm


H36M17 = SkeletonLayout(
    name="h36m17",
    joint_names=(
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
        "thorax", "neck_nose", "head", "l_shoulder", "l_elbow", "l_wrist",
        "r_shoulder", "r_elbow", "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    joints_left=(4, 5, 6, 11, 12, 13),
    joints_right=(1, 2, 3, 14, 15, 16),
)

HUMANEVA15 = SkeletonLayout(
    name="humaneva15",
    joint_names=(
        "pelvis", "thorax", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
        "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    joints_left=(2, 3, 4, 8, 9, 10),
    joints_right=(5, 6, 7, 11, 12, 13),
)

COCO17 = SkeletonLayout(
    name="coco17",
    joint_names=(
        "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
        "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle",
        "r_ankle",
    ),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    joints_left=(1, 3, 5, 7, 9, 11, 13, 15),
    joints_right=(2, 4, 6, 8, 10, 12, 14, 16),
)

BLAZEPOSE33 = SkeletonLayout(
    name="blazepose33",
    joint_names=(
        "nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer",
        "l_ear", "r_ear", "mouth_left", "mouth_right", "l_shoulder", "r_shoulder", "l_elbow",
        "r_elbow", "l_wrist", "r_wrist", "l_pinky", "r_pinky", "l_index", "r_index",
        "l_thumb", "r_thumb", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
        "l_heel", "r_heel", "l_foot_index", "r_foot_index",
    ),
    parents=(
        -1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
        11, 12, 23, 24, 25, 26, 27, 28, 27, 28,
    ),
    joints_left=(1, 2, 3, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31),
    joints_right=(4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32),
)

MPI_INF_3DHP17 = SkeletonLayout(
    name="mpi_inf_3dhp17",
    joint_names=(
        "head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
        "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "head",
    ),
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    joints_left=(5, 6, 7, 11, 12, 13),
    joints_right=(2, 3, 4, 8, 9, 10),
)

LAYOUTS: dict[str, SkeletonLayout] = {
    layout.name: layout for layout in (H36M17, HUMANEVA15, COCO17, BLAZEPOSE33, MPI_INF_3DHP17)
}


def get_layout(name: str) -> SkeletonLayout:
    """Layout by name, with an error that lists the known ones."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton layout {name!r}; known: {sorted(LAYOUTS)}") from None
