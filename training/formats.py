"""Loaders for the formats users already have, all returning :class:`training.data.Sequence`.

A config's ``data`` section names one with ``format`` (:func:`load_files`; ``root`` is the folder
holding the files, ``inputs`` the kind of 2D):

- ``videopose3d``: VideoPose3D npz, data_3d_h36m.npz + data_2d_h36m_<inputs>.npz or
  data_3d_humaneva15.npz + data_2d_humaneva15_<inputs>.npz; VideoPose3D keeps its cameras in
  code, so ``cameras`` names a json in the format of ../shared/data (default:
  <root>/h36m_cameras.json or <root>/humaneva_cameras.json)
- ``martinez``: the Martinez et al. h5 tree (S*/MyPoses/3D_positions/*.h5,
  S*/StackedHourglass/*.h5 for ``inputs: sh``; ``cameras`` default <root>/cameras.h5)
- ``p-stmo``: MPI-INF-3DHP npz as P-STMO and MixSTE ship it (data_train_3dhp.npz,
  data_test_3dhp.npz), read into H36M-17 order

Several of these files store Python dicts as pickled numpy object arrays. They are read with
:func:`read_npz_object`, whose unpickler accepts numpy arrays and plain containers only: a
file that tries to build anything else is rejected, so loading never runs a download's code.
"""
from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from pose3d_ros.skeleton import H36M17, MPI_INF_3DHP17

from .config import DataConfig
from .data import H36M_TEST_SUBJECTS, Sequence, _sh_to_17, h36m_view, humaneva_view

# Human3.6M's 32 recorded joints -> the 17 that move (H36M-17 order), as VideoPose3D and Martinez keep them.
H36M32_TO_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
# Martinez's Stacked Hourglass files (MPII order) -> H36M-17 without neck_nose (joint 9).
SH_TO_H36M16 = [6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10]
H36M_CAMERA_ORDER = ("54138969", "55011271", "58860488", "60457274")
H36M_HEIGHTS = {"54138969": 1002, "55011271": 1000, "58860488": 1000, "60457274": 1002}  # all 1000 wide

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays and containers")
        return super().find_class(module, name)


def read_npz_object(path: str | Path, key: str):
    """The Python object stored under ``key`` of an npz (a 0-d object array, e.g. a dict),
    unpickled with numpy arrays and plain containers allowed and nothing else."""
    with zipfile.ZipFile(path) as archive:
        try:
            raw = archive.read(f"{key}.npy")
        except KeyError:
            raise KeyError(f"{path} has no array {key!r} (has {archive.namelist()})") from None
    stream = io.BytesIO(raw)
    major, _ = npy_format.read_magic(stream)
    read_header = npy_format.read_array_header_1_0 if major == 1 else npy_format.read_array_header_2_0
    _, _, dtype = read_header(stream)
    if not dtype.hasobject:
        return np.load(io.BytesIO(raw))
    obj = _ArrayUnpickler(stream, encoding="latin1").load()
    return obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj


def _videopose3d_files(path_3d: str | Path, path_2d: str | Path, cameras_json: str | Path) -> tuple[dict, ...]:
    """(3D positions, 2D keypoints, cameras) of a VideoPose3D npz pair and a cameras json."""
    return (read_npz_object(path_3d, "positions_3d"), read_npz_object(path_2d, "positions_2d"),
            json.loads(Path(cameras_json).read_text()))


def load_videopose3d_h36m(path_3d: str | Path, path_2d: str | Path, cameras_json: str | Path,
                          subjects: tuple[str, ...]) -> list[Sequence]:
    """VideoPose3D's data_3d_h36m.npz (32 joints, world, metres) with a data_2d_h36m_*.npz
    (per camera, 17 joints, pixels). Cameras: a json in the format of ../shared/data."""
    positions, keypoints, cameras = _videopose3d_files(path_3d, path_2d, cameras_json)
    return [h36m_view(subject, action, cam_id, cameras[subject][cam_id],
                      np.asarray(world, dtype=np.float64)[:, H36M32_TO_17], kps[..., :2])
            for subject in subjects for action, world in sorted(positions[subject].items())
            for cam_id, kps in zip(H36M_CAMERA_ORDER, keypoints[subject][action])]


def load_videopose3d_humaneva(path_3d: str | Path, path_2d: str | Path, cameras_json: str | Path,
                              split: str) -> list[Sequence]:
    """VideoPose3D's data_3d_humaneva15.npz / data_2d_humaneva15_gt.npz (subjects 'Train/S1', ...),
    with cameras from a humaneva_cameras.json as in ../shared/data."""
    positions, keypoints, cameras = _videopose3d_files(path_3d, path_2d, cameras_json)
    return [humaneva_view(split_subject.split("/")[1], action, cam, world, kps)
            for split_subject in sorted(positions) if split_subject.split("/")[0] == split
            for action, world in sorted(positions[split_subject].items())
            for cam, kps in zip(cameras[split_subject.split("/")[1]], keypoints[split_subject][action])]


def load_martinez_h36m(root: str | Path, cameras_h5: str | Path, subjects: tuple[str, ...],
                       inputs: str = "gt") -> list[Sequence]:
    """The Martinez et al. h5 tree: S<n>/MyPoses/3D_positions/<action>.h5 ('3D_positions',
    96 x N, millimetres, world) and, for inputs='sh', S<n>/StackedHourglass/<action>.<camera>.h5
    ('poses', N x 16 x 2, MPII order, spaces in the action written as '_'). cameras.h5 holds
    subject<n>/camera<c>/{R, T (mm), f, c, k, p}; R is stored transposed."""
    import h5py  # only for this format

    root = Path(root)
    out = []
    with h5py.File(cameras_h5, "r") as hf:
        cams = {}
        for subject in subjects:
            for c, cam_id in enumerate(H36M_CAMERA_ORDER, start=1):
                g = hf[f"subject{int(subject[1:])}/camera{c}"]
                cams[subject, cam_id] = {
                    "R": g["R"][:].T, "T": g["T"][:].reshape(3) / 1000.0, "f": g["f"][:].reshape(2).tolist(),
                    "c": g["c"][:].reshape(2).tolist(), "k": g["k"][:].reshape(3).tolist(),
                    "p": g["p"][:].reshape(2).tolist(), "res_w": 1000, "res_h": H36M_HEIGHTS[cam_id]}
    for subject in subjects:
        for path in sorted((root / subject / "MyPoses" / "3D_positions").glob("*.h5")):
            with h5py.File(path, "r") as h5f:
                world = h5f["3D_positions"][:].T.reshape(-1, 32, 3)[:, H36M32_TO_17] / 1000.0
            action = path.stem
            for cam_id in H36M_CAMERA_ORDER:
                kps = None  # the ground-truth projection
                if inputs != "gt":
                    sh_path = root / subject / "StackedHourglass" / f"{action.replace(' ', '_')}.{cam_id}.h5"
                    with h5py.File(sh_path, "r") as h5f:
                        kps = _sh_to_17(h5f["poses"][:][:, SH_TO_H36M16].astype(np.float64))
                out.append(h36m_view(subject, action, cam_id, cams[subject, cam_id], world, kps))
    return out


# MPI-INF-3DHP test sequences filmed at 1920x1080; the others are 2048x2048.
_3DHP_HD = ("TS5", "TS6")
# H36M-17 from MPI-INF-3DHP's 17 joints: the same joints, three of them named otherwise there.
_3DHP_NAMES = {"thorax": "neck", "neck_nose": "head", "head": "head_top"}
MPI_INF_3DHP_TO_H36M = [MPI_INF_3DHP17.index(_3DHP_NAMES.get(name, name)) for name in H36M17.joint_names]


def load_3dhp(path: str | Path, train: bool) -> list[Sequence]:
    """MPI-INF-3DHP as P-STMO/MixSTE ship it: 'data' holds, for training,
    {"S1 Seq1": [{camera: {"data_3d", "data_2d"}}]} and, for testing,
    {"TS1": {"data_3d", "data_2d", "valid"}}; 17 joints in MPI_INF_3DHP17 order (root 14),
    millimetres. Returned in H36M-17 order (pelvis first), metres; test frames whose 'valid'
    flag is 0 are dropped. Inputs are screen-normalised (no intrinsics)."""
    data = read_npz_object(path, "data")

    def sequence(subject: str, action: str, camera: str, anim: dict, size: tuple[int, int], keep=slice(None)):
        joints = np.asarray(anim["data_3d"], np.float32)[keep][:, MPI_INF_3DHP_TO_H36M] / 1000.0
        uv = np.asarray(anim["data_2d"], np.float32)[keep][:, MPI_INF_3DHP_TO_H36M, :2]
        return Sequence(subject, action, camera, joints, uv, None, size, "3dhp")

    if train:
        return [sequence(*seq_name.split(" "), str(cam), anim, (2048, 2048))
                for seq_name, cams in sorted(data.items()) for cam, anim in sorted(cams[0].items())]
    return [sequence(seq_name, seq_name, "0", anim, (1920, 1080) if seq_name in _3DHP_HD else (2048, 2048),
                     np.asarray(anim["valid"]).astype(bool).reshape(-1)) for seq_name, anim in sorted(data.items())]


def load_files(data: DataConfig, kind: str, train: bool) -> list[Sequence]:
    """The training (``train``) or test sequences of ``data`` in its format (other than compact)
    with ``kind`` 2D inputs; Human3.6M: of ``data.train_subjects`` or S9 and S11."""
    root = Path(data.root)
    subjects = data.train_subjects if train else H36M_TEST_SUBJECTS
    if data.file_format == "martinez":
        return load_martinez_h36m(root, data.cameras or root / "cameras.h5", subjects, kind)
    if data.file_format == "p-stmo":
        return load_3dhp(root / f"data_{'train' if train else 'test'}_3dhp.npz", train)
    if data.dataset == "h36m":
        return load_videopose3d_h36m(root / "data_3d_h36m.npz", root / f"data_2d_h36m_{kind}.npz",
                                     data.cameras or root / "h36m_cameras.json", subjects)
    return load_videopose3d_humaneva(root / "data_3d_humaneva15.npz", root / f"data_2d_humaneva15_{kind}.npz",
                                     data.cameras or root / "humaneva_cameras.json", "Train" if train else "Validate")
