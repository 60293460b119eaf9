"""Loaders of users' formats, on small files written here in each format."""
from __future__ import annotations

import json
import os
import pickle

import h5py
import numpy as np
import pytest

from pose3d_ros.geometry import world_to_camera
from pose3d_ros.skeleton import H36M17, MPI_INF_3DHP17
from training.formats import (
    H36M32_TO_17,
    H36M_CAMERA_ORDER,
    MPI_INF_3DHP_TO_H36M,
    SH_TO_H36M16,
    load_3dhp,
    load_martinez_h36m,
    load_videopose3d_h36m,
    load_videopose3d_humaneva,
    read_npz_object,
)

RNG = np.random.default_rng(3)


def _camera(t_z: float) -> dict:
    return {"R": np.eye(3).tolist(), "T": [0.0, 0.0, t_z], "f": [1000.0, 1000.0], "c": [500.0, 500.0],
            "k": [0.0, 0.0, 0.0], "p": [0.0, 0.0], "res_w": 1000, "res_h": 1000}


class _Evil:
    def __reduce__(self):
        return os.system, ("echo should-never-run",)


def test_read_npz_object_returns_dicts_of_arrays(tmp_path):
    data = {"S1": {"Walking": RNG.normal(size=(4, 3)).astype(np.float32)}}
    np.savez(tmp_path / "d.npz", positions_3d=data, plain=np.arange(3))
    loaded = read_npz_object(tmp_path / "d.npz", "positions_3d")
    assert np.array_equal(loaded["S1"]["Walking"], data["S1"]["Walking"])
    assert np.array_equal(read_npz_object(tmp_path / "d.npz", "plain"), np.arange(3))
    with pytest.raises(KeyError, match="no array 'missing'"):
        read_npz_object(tmp_path / "d.npz", "missing")


def test_read_npz_object_refuses_code(tmp_path):
    np.savez(tmp_path / "evil.npz", data=np.array(_Evil(), dtype=object))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        read_npz_object(tmp_path / "evil.npz", "data")


def test_videopose3d_h36m(tmp_path):
    world = RNG.normal(size=(6, 32, 3)).astype(np.float32)
    kps = [RNG.uniform(0, 1000, size=(6, 17, 2)).astype(np.float32) for _ in range(4)]
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"S9": {"Walking 1": world}})
    np.savez(tmp_path / "data_2d_h36m_gt.npz", positions_2d={"S9": {"Walking 1": kps}},
             metadata={"layout_name": "h36m", "num_joints": 17})
    cams = {"S9": {cam_id: _camera(-5.0 - i) for i, cam_id in enumerate(H36M_CAMERA_ORDER)}}
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    seqs = load_videopose3d_h36m(tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_gt.npz",
                                 tmp_path / "cams.json", ("S9",))
    assert [s.camera for s in seqs] == list(H36M_CAMERA_ORDER)
    assert np.allclose(seqs[2].positions_3d, world[:, H36M32_TO_17] + [0.0, 0.0, 7.0], atol=1e-5)
    assert np.array_equal(seqs[3].keypoints_2d, kps[3])
    assert seqs[0].intrinsics.fx == 1000.0


def test_videopose3d_humaneva(tmp_path):
    world = RNG.normal(size=(5, 15, 3)).astype(np.float32)
    kps = [RNG.uniform(0, 640, size=(5, 15, 2)).astype(np.float32) for _ in range(3)]
    np.savez(tmp_path / "d3.npz", positions_3d={"Validate/S1": {"Jog 1 chunk0": world}, "Train/S1": {}})
    np.savez(tmp_path / "d2.npz", positions_2d={"Validate/S1": {"Jog 1 chunk0": kps}})
    cams = {"S1": [{"id": f"C{i}", "res_w": 640, "res_h": 480, "orientation_wxyz": [1, 0, 0, 0],
                    "translation_m": [0, 0, -3.0]} for i in (1, 2, 3)]}
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    seqs = load_videopose3d_humaneva(tmp_path / "d3.npz", tmp_path / "d2.npz", tmp_path / "cams.json", "Validate")
    assert [(s.subject, s.camera, s.eval_group) for s in seqs] == [("S1", f"C{i}", "Jog S1") for i in (1, 2, 3)]
    assert np.allclose(seqs[0].positions_3d, world + [0, 0, 3.0], atol=1e-5)
    assert np.array_equal(seqs[1].keypoints_2d, kps[1]) and seqs[1].intrinsics is None


def _write_martinez(root, world_mm, subjects=("S9",)):
    sh = RNG.uniform(0, 1000, size=(len(world_mm), 16, 2))
    for subject in subjects:
        pose_dir = root / subject / "MyPoses" / "3D_positions"
        pose_dir.mkdir(parents=True)
        with h5py.File(pose_dir / "Walking 1.h5", "w") as f:
            f["3D_positions"] = world_mm.reshape(len(world_mm), 96).T
        sh_dir = root / subject / "StackedHourglass"
        sh_dir.mkdir(parents=True)
        for cam_id in H36M_CAMERA_ORDER:
            with h5py.File(sh_dir / f"Walking_1.{cam_id}.h5", "w") as f:
                f["poses"] = sh
    rot = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # world -> camera
    with h5py.File(root / "cameras.h5", "w") as f:
        for c, subject in ((c, s) for c in range(1, 5) for s in subjects):
            g = f.create_group(f"subject{subject[1:]}/camera{c}")
            g["R"] = rot.T  # stored transposed
            g["T"] = np.array([[0.0], [0.0], [-4000.0]])
            g["f"], g["c"] = np.array([[1100.0], [1100.0]]), np.array([[500.0], [500.0]])
            g["k"], g["p"] = np.zeros((3, 1)), np.zeros((2, 1))
    return rot, sh


def test_martinez_h5_tree(tmp_path):
    world_mm = RNG.normal(0, 300, size=(7, 32, 3))
    rot, sh = _write_martinez(tmp_path, world_mm)
    gt = load_martinez_h36m(tmp_path, tmp_path / "cameras.h5", ("S9",), "gt")
    assert len(gt) == 4 and gt[0].action == "Walking 1"
    expected = world_to_camera(world_mm[:, H36M32_TO_17] / 1000.0, rot, np.array([0.0, 0.0, -4.0]))
    assert np.allclose(gt[0].positions_3d, expected, atol=1e-5)
    pinhole = 1100.0 * expected[..., :2] / expected[..., 2:] + 500.0
    assert np.allclose(gt[0].keypoints_2d, pinhole, atol=1e-3)
    det = load_martinez_h36m(tmp_path, tmp_path / "cameras.h5", ("S9",), "sh")
    keep = [j for j in range(17) if j != 9]
    assert np.allclose(det[1].keypoints_2d[:, keep], sh[:, SH_TO_H36M16], atol=1e-3)


def test_3dhp_train_and_test(tmp_path):
    d3 = RNG.normal(0, 500, size=(8, 17, 3))
    d2 = RNG.uniform(0, 2048, size=(8, 17, 2))
    np.savez(tmp_path / "data_train_3dhp.npz", data={"S1 Seq1": [{0: {"data_3d": d3, "data_2d": d2}}]})
    valid = np.array([1, 1, 0, 1, 0, 1, 1, 1])
    np.savez(tmp_path / "data_test_3dhp.npz",
             data={"TS1": {"data_3d": d3, "data_2d": d2, "valid": valid},
                   "TS5": {"data_3d": d3, "data_2d": d2, "valid": np.ones(8)}})
    train = load_3dhp(tmp_path / "data_train_3dhp.npz", train=True)
    assert [(s.subject, s.action, s.camera) for s in train] == [("S1", "Seq1", "0")]
    # Read into H36M-17 order: pelvis (3DHP joint 14) first, 3DHP's head top as H36M's head.
    pelvis, head_top = MPI_INF_3DHP17.index("pelvis"), MPI_INF_3DHP17.index("head_top")
    assert np.allclose(train[0].positions_3d[:, 0], d3[:, pelvis] / 1000.0, atol=1e-6)
    assert np.allclose(train[0].positions_3d[:, H36M17.index("head")], d3[:, head_top] / 1000.0, atol=1e-6)
    assert sorted(MPI_INF_3DHP_TO_H36M) == list(range(17))
    test = load_3dhp(tmp_path / "data_test_3dhp.npz", train=False)
    assert [s.eval_group for s in test] == ["TS1", "TS5"]
    assert len(test[0].positions_3d) == 6
    assert np.allclose(test[0].keypoints_2d, d2[valid == 1][:, MPI_INF_3DHP_TO_H36M], atol=1e-4)
    assert test[0].image_size == (2048, 2048) and test[1].image_size == (1920, 1080)


def _walking_world(frames: int, joints: int) -> np.ndarray:
    """Learnable motion: a rest pose whose joints swing, metres, 5 m in front of the cameras of _camera(-5)."""
    rest = RNG.normal(0.0, 0.25, size=(joints, 3))
    t = np.arange(frames)[:, None, None]
    return (rest + 0.1 * np.sin(2 * np.pi * t / 20 + np.arange(joints)[None, :, None])).astype(np.float32)


def _train_one_step(data: dict, tmp_path):
    """A tiny training of one step on ``data`` (a config's data section); returns the trained model."""
    from pose3d_ros.networks.cards import load_model
    from training.config import TrainingConfig
    from training.train import train

    cfg = TrainingConfig.from_dict({
        "name": "tiny", "data": data,
        "model": {"receptive_field": 3, "causal": True, "channels": 16, "dropout": 0.0},
        "train": {"epochs": 1, "batch_size": 4096, "chunk": 4, "lr": 0.001, "seed": 0, "threads": 1},
        "output": {"dir": str(tmp_path / "ckpt"), "export": str(tmp_path / "out" / "tiny")}}, "tiny.yaml")
    return load_model(train(cfg, resume=False))


def test_videopose3d_npz_trains(tmp_path):
    """A config's data section names a VideoPose3D npz folder; training reads it through load_split."""
    from training.config import DataConfig
    from training.data import load_split

    subjects = ("S1", "S9", "S11")
    worlds = {s: {"Walking 1": _walking_world(24, 32)} for s in subjects}
    kps = {s: {"Walking 1": [RNG.uniform(400, 600, size=(24, 17, 2)).astype(np.float32) for _ in range(4)]}
           for s in subjects}
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d=worlds)
    np.savez(tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz", positions_2d=kps)
    cams = {s: {cam_id: _camera(-5.0) for cam_id in H36M_CAMERA_ORDER} for s in subjects}
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    data = {"root": str(tmp_path), "format": "videopose3d", "inputs": "cpn_ft_h36m_dbb",
            "cameras": str(tmp_path / "cams.json"), "train_subjects": ["S1"], "frame_step": 2}
    train = load_split(DataConfig(str(tmp_path), format="videopose3d", inputs="cpn_ft_h36m_dbb",
                                  cameras=str(tmp_path / "cams.json"), train_subjects=("S1",), frame_step=2), "train")
    direct = load_videopose3d_h36m(tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz",
                                   tmp_path / "cams.json", ("S1",))
    assert len(train) == 4 and np.array_equal(train[1].keypoints_2d, direct[1].keypoints_2d[::2])
    card = _train_one_step(data, tmp_path).card
    assert len(card.training["history"]) == 1 and card.training["data"]["format"] == "videopose3d"
    assert card.metrics["h36m_s9_s11"]["frames"] == 2 * 4 * 24  # S9 and S11, four cameras, every frame


def test_martinez_h5_tree_trains(tmp_path):
    world_mm = 1000 * _walking_world(20, 32)
    _write_martinez(tmp_path, world_mm, ("S1", "S9", "S11"))
    card = _train_one_step({"root": str(tmp_path), "format": "martinez", "inputs": ["gt", "sh"],
                            "train_subjects": ["S1"]}, tmp_path).card
    assert card.training["inputs"] == ["gt", "sh"] and card.metrics["h36m_s9_s11"]["frames"] == 2 * 4 * 20


def test_3dhp_trains_and_reports_pck_and_auc(tmp_path, tiny_card):
    from pose3d_ros.networks import build_model
    from pose3d_ros.networks.cards import save_model
    from training.evaluate import main as evaluate_main

    root = tmp_path / "data" / "3dhp"
    root.mkdir(parents=True)
    joints = [1000 * _walking_world(30, 17) for _ in range(2)]
    uv = [RNG.uniform(0, 2048, size=(30, 17, 2)) for _ in range(2)]
    np.savez(root / "data_train_3dhp.npz", data={"S1 Seq1": [{0: {"data_3d": joints[0], "data_2d": uv[0]}}]})
    np.savez(root / "data_test_3dhp.npz", data={"TS1": {"data_3d": joints[1], "data_2d": uv[1], "valid": np.ones(30)}})
    loaded = _train_one_step({"root": str(root), "dataset": "3dhp"}, tmp_path)
    metrics = loaded.card.metrics["3dhp_test"]
    assert set(metrics["actions"]) == {"TS1"} and 0 <= metrics["auc"] <= metrics["pck150"] <= 100
    assert loaded.card.input_normalization == "screen" and loaded.card.layout == "h36m17"
    # pose3d-eval on the test sequences reports the same, and refuses a lifter fed focal-normalised 2D.
    args = ["--dataset", "3dhp", "--data-root", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results")]
    evaluate_main(["--checkpoint", str(loaded.path), *args])
    record = json.loads((tmp_path / "results" / "tiny__3dhp_gt.json").read_text())
    assert record["metrics"]["auc"] == pytest.approx(metrics["auc"])
    card = tiny_card()
    other = save_model(build_model(card.architecture, card.hyperparameters), tmp_path / "focal", card)
    with pytest.raises(SystemExit, match="takes intrinsics-normalised 2D; 3dhp gives screen"):
        evaluate_main(["--checkpoint", str(other), *args])
