"""Human3.6M and HumanEva-I in the compact form of ../shared/data: 3D joints, cameras, 2D inputs;
and :func:`load_split`, a config's split in any format training.formats reads.

Never commit these files or anything derived from them; see ../shared/data/README.md.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pose3d_ros.geometry import (
    CameraIntrinsics,
    level_rays,
    levelling_rotation,
    normalize_screen,
    normalize_with_intrinsics,
    world_to_camera,
)
from pose3d_ros.skeleton import H36M17, HUMANEVA15, SkeletonLayout

if TYPE_CHECKING:
    from .config import DataConfig

H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS = ("S9", "S11")
H36M_MISSING_NOTE = ("shared copy lacks 5 of the usual sequences, among them the test sequence "
                     "S9 'Discussion 1' (about 4 % of test frames)")
HUMANEVA_ACTIONS = ("Walking", "Jog", "Box")
# MPI-INF-3DHP is read into H36M-17 order (training.formats.load_3dhp).
DATASET_LAYOUTS: dict[str, SkeletonLayout] = {"h36m": H36M17, "humaneva": HUMANEVA15, "3dhp": H36M17}
# The file formats each dataset is read from, the usual one first: compact (../shared/data),
# videopose3d, martinez and p-stmo as training.formats describes them.
DATASET_FORMATS: dict[str, tuple[str, ...]] = {"h36m": ("compact", "videopose3d", "martinez"),
                                               "humaneva": ("compact", "videopose3d"), "3dhp": ("p-stmo",)}


@dataclass
class Sequence:
    """One (subject, action, camera) clip: camera-frame 3D joints (m) and 2D pixels.

    ``intrinsics`` is None where the dataset has none (HumanEva-I): such inputs are
    screen-normalised by ``image_size`` instead of focal-normalised. ``level``: the rotation
    (3, 3) that turned the camera's views to its level frame (3D and 2D alike, the pixels those
    of a level camera with the same intrinsics), None for the camera's own views."""

    subject: str
    action: str
    camera: str
    positions_3d: np.ndarray  # (N, J, 3) metres, camera frame
    keypoints_2d: np.ndarray  # (N, J, 2) pixels
    intrinsics: CameraIntrinsics | None
    image_size: tuple[int, int]
    dataset: str = "h36m"
    level: np.ndarray | None = None

    @property
    def action_name(self) -> str:
        """Action without its take number: 'Walking 1' -> 'Walking'."""
        return self.action.split(" ")[0]

    @property
    def eval_group(self) -> str:
        """The row a sequence counts towards in the papers' tables: the action (Human3.6M),
        action and subject (HumanEva-I) or the test sequence (MPI-INF-3DHP)."""
        if self.dataset == "3dhp":
            return self.subject
        return self.action_name if self.dataset == "h36m" else f"{self.action_name} {self.subject}"


def model_inputs(seq: Sequence) -> np.ndarray:
    """The lifter's input for a sequence: focal-normalised 2D keypoints, or screen-normalised
    ones where the dataset has no intrinsics (see input_normalization)."""
    if seq.intrinsics is None:
        return normalize_screen(seq.keypoints_2d, *seq.image_size)
    return normalize_with_intrinsics(seq.keypoints_2d, seq.intrinsics)


def input_normalization(seq: Sequence) -> str:
    """The model-card name of the normalisation model_inputs applies to ``seq``: ``level`` for
    focal-normalised rays of a camera turned level (gravity-levelled views)."""
    if seq.intrinsics is None:
        return "screen"
    return "intrinsics" if seq.level is None else "level"


def root_relative(positions: np.ndarray) -> np.ndarray:
    """(N, J, 3) joints relative to the root (joint 0) of each frame."""
    return positions - positions[:, :1]


def project_h36m(points_cam: np.ndarray, cam: dict) -> np.ndarray:
    """Human3.6M projection with its own distortion model (the VideoPose3D formula)."""
    xy = points_cam[..., :2] / points_cam[..., 2:3]
    k, p = np.asarray(cam["k"]), np.asarray(cam["p"])
    r2 = np.sum(xy ** 2, axis=-1, keepdims=True)
    radial = 1 + k[0] * r2 + k[1] * r2 ** 2 + k[2] * r2 ** 3
    tan = np.sum(xy * p, axis=-1, keepdims=True)
    xy = xy * (radial + tan) + p * r2
    return xy * np.asarray(cam["f"]) + np.asarray(cam["c"])


def h36m_intrinsics(cam: dict) -> CameraIntrinsics:
    return CameraIntrinsics(cam["f"][0], cam["f"][1], cam["c"][0], cam["c"][1],
                            int(cam["res_w"]), int(cam["res_h"]))


def h36m_view(subject: str, action: str, cam_id: str, cam: dict, world: np.ndarray,
              keypoints: np.ndarray | None = None, level: bool = False) -> Sequence:
    """World joints (N, 17, 3, metres) seen by a Human3.6M camera (R, T, f, c, k, p, res_w, res_h
    as in ../shared/data), with ``keypoints`` (N', 17, 2) pixels as the 2D (both cut to the
    shorter) or, without, their projection with the camera's distortion. ``level``: seen from
    the level camera beside it instead (Human3.6M's world z is up; its cameras look 10-16
    degrees down)."""
    rotation = np.asarray(cam["R"])
    pos = world_to_camera(world, rotation, np.asarray(cam["T"]))
    kps = project_h36m(pos, cam) if keypoints is None else np.asarray(keypoints, dtype=np.float64)
    n = min(len(pos), len(kps))  # some 2D files are a frame shorter
    intrinsics, turn = h36m_intrinsics(cam), None
    if level:
        turn = levelling_rotation(rotation[:, 2])
        pos = pos @ turn.T
        f, c = np.array([intrinsics.fx, intrinsics.fy]), np.array([intrinsics.cx, intrinsics.cy])
        kps = level_rays(normalize_with_intrinsics(kps, intrinsics, np.float64), turn) * f + c
    return Sequence(subject, action, cam_id, pos[:n].astype(np.float32), np.asarray(kps[:n], dtype=np.float32),
                    intrinsics, (int(cam["res_w"]), int(cam["res_h"])), level=turn)


def humaneva_view(subject: str, action: str, cam: dict, world: np.ndarray, keypoints: np.ndarray) -> Sequence:
    """World joints (N, 15, 3, metres) seen by a HumanEva-I camera (id, orientation_wxyz,
    translation_m, res_w, res_h as in ../shared/data), with ``keypoints`` (N, 15, 2) pixels as
    the 2D. The quaternion is the camera's orientation in the world: camera = R^T (world - t)."""
    rot = _matrix_from_wxyz(cam["orientation_wxyz"]).T
    pos = world_to_camera(np.asarray(world, np.float64), rot, np.asarray(cam["translation_m"]))
    return Sequence(subject, action, cam["id"], pos.astype(np.float32), np.asarray(keypoints, dtype=np.float32),
                    None, (int(cam["res_w"]), int(cam["res_h"])), "humaneva")


def load_h36m(root: str | Path, subjects: tuple[str, ...], inputs: str = "gt",
              frame_step: int = 1, level: bool = False) -> list[Sequence]:
    """Load every (subject, action, camera) sequence of the given subjects.

    inputs: 'gt' for the ground-truth projection, 'sh' for Stacked Hourglass detections
    (16 joints, neck_nose missing: filled with the midpoint of thorax and head).
    level: every view turned to a level camera (see h36m_view).
    """
    root = Path(root)
    positions = np.load(root / "h36m_positions_3d17.npz")
    cameras = json.loads((root / "h36m_cameras.json").read_text())
    detections = np.load(root / "h36m_sh_pt_mpii_2d16.npz") if inputs == "sh" else None
    if inputs not in ("gt", "sh"):
        raise ValueError(f"inputs must be 'gt' or 'sh', got {inputs!r}")
    out = []
    for key in sorted(positions.keys()):
        subject, action = key.split("|")
        if subject not in subjects:
            continue
        world = positions[key][::frame_step].astype(np.float64)
        for cam_id in sorted(cameras[subject]):
            kps = None if detections is None else _sh_to_17(
                detections[f"{key}|{cam_id}"][::frame_step].astype(np.float64))
            out.append(h36m_view(subject, action, cam_id, cameras[subject][cam_id], world, kps, level))
    return out


def _sh_to_17(kps16: np.ndarray) -> np.ndarray:
    kps = np.insert(kps16, 9, 0.0, axis=1)
    kps[:, 9] = 0.5 * (kps[:, 8] + kps[:, 10])
    return kps


def _matrix_from_wxyz(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def load_humaneva(root: str | Path, split: str, actions: tuple[str, ...] = HUMANEVA_ACTIONS) -> list[Sequence]:
    """HumanEva-I ``Train`` or ``Validate`` sequences of the given actions, ground-truth 2D.

    The subject is reported as e.g. 'S1'; chunks of one take stay separate sequences."""
    root = Path(root)
    positions = np.load(root / "humaneva15_positions_3d.npz")
    keypoints = np.load(root / "humaneva15_gt_2d.npz")
    cameras = json.loads((root / "humaneva_cameras.json").read_text())
    out = []
    for key in sorted(positions.keys()):
        split_subject, action = key.split("|")
        part, subject = split_subject.split("/")
        if part != split or action.split(" ")[0] not in actions:
            continue
        world = positions[key].astype(np.float64)
        out += [humaneva_view(subject, action, cam, world, keypoints[f"{key}|{cam['id']}"]) for cam in cameras[subject]]
    return out


def load_split(data: DataConfig, split: str) -> list[Sequence]:
    """The ``train`` or ``test`` split of a config's ``data`` section, in its file format.

    ``inputs`` may list several kinds of 2D (``[gt, sh]``): the training split has every sequence
    once from each, the test split is on the first kind. Human3.6M trains on ``train_subjects``
    and tests on S9 and S11, HumanEva-I on its Train and Validate parts (``actions`` only),
    MPI-INF-3DHP on its training and test sequences. The training split keeps every
    ``frame_step``-th frame; ``level`` turns Human3.6M's views to level cameras (h36m_view)."""
    from . import formats  # built on this module's Sequence and camera models

    train = split == "train"
    kinds, step = (data.kinds, data.frame_step) if train else (data.kinds[:1], 1)
    if data.file_format == "compact" and data.dataset == "h36m":
        subjects = data.train_subjects if train else H36M_TEST_SUBJECTS
        return [s for kind in kinds for s in load_h36m(data.root, subjects, kind, step, data.level)]
    if data.file_format == "compact":
        seqs = load_humaneva(data.root, "Train" if train else "Validate", data.actions)
    else:
        seqs = [s for kind in kinds for s in formats.load_files(data, kind, train)]
    if data.dataset == "humaneva":
        seqs = [s for s in seqs if s.action_name in data.actions]
    return [dataclasses.replace(s, positions_3d=s.positions_3d[::step], keypoints_2d=s.keypoints_2d[::step])
            for s in seqs] if step > 1 else seqs
