"""Training package: data loading on small files written here, chunked batches, flip
augmentation, a tiny end-to-end training run, evaluation records and the results report."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from pose3d_ros.lifting.sequence import predict_sequence
from pose3d_ros.metrics import auc, pck
from pose3d_ros.networks import build_model
from pose3d_ros.networks.cards import load_model
from pose3d_ros.skeleton import H36M17
from training.augmentation import apply_to_xy, drop_joints
from training.config import DataConfig, TrainingConfig
from training.data import (
    HUMANEVA_ACTIONS,
    input_normalization,
    load_h36m,
    load_humaneva,
    load_split,
    model_inputs,
    root_relative,
)
from training.evaluate import evaluate, evaluation_data, flip_averaged
from training.generators import ChunkedDataset, flip_pose
from training.report import limb_structure, paper_tables, render_results, write_plots
from training.train import train


def test_load_h36m_projects_into_each_camera(h36m_root):
    seqs = load_h36m(h36m_root, ("S1",), "gt")
    assert len(seqs) == 4 and {s.camera for s in seqs} == {"cam_a", "cam_b"}
    seq = next(s for s in seqs if s.camera == "cam_a" and s.action == "Walking")
    # Identity rotation, camera 5 m behind the origin: z = world z + 5, pinhole projection.
    world = np.load(h36m_root / "h36m_positions_3d17.npz")["S1|Walking"]
    assert np.allclose(seq.positions_3d[..., 2], world[..., 2] + 5.0, atol=1e-5)
    expected = 1000.0 * seq.positions_3d[..., :2] / seq.positions_3d[..., 2:] + 500.0
    assert np.allclose(seq.keypoints_2d, expected, atol=1e-3)
    assert seq.action_name == "Walking"


def test_load_h36m_detections_fill_neck_nose(h36m_root):
    gt = load_h36m(h36m_root, ("S9",), "gt")
    sh = load_h36m(h36m_root, ("S9",), "sh")
    assert sh[0].keypoints_2d.shape == gt[0].keypoints_2d.shape == (120, 17, 2)
    keep = [j for j in range(17) if j != 9]
    assert np.allclose(sh[0].keypoints_2d[:, keep], gt[0].keypoints_2d[:, keep], atol=0.5)  # float16 storage
    midpoint = 0.5 * (sh[0].keypoints_2d[:, 8] + sh[0].keypoints_2d[:, 10])
    assert np.allclose(sh[0].keypoints_2d[:, 9], midpoint)
    with pytest.raises(ValueError, match="inputs"):
        load_h36m(h36m_root, ("S9",), "cpn")


def test_split_with_two_kinds_of_2d_trains_on_both_and_tests_on_the_first(h36m_root):
    data = DataConfig(str(h36m_root), inputs=("gt", "sh"), frame_step=2)
    train_seqs = load_split(data, "train")
    gt, sh = load_h36m(h36m_root, ("S1", "S5"), "gt", 2), load_h36m(h36m_root, ("S1", "S5"), "sh", 2)
    assert len(train_seqs) == len(gt) + len(sh) == 16 and len(train_seqs[0].keypoints_2d) == 60
    assert np.array_equal(train_seqs[0].keypoints_2d, gt[0].keypoints_2d)
    assert np.array_equal(train_seqs[len(gt)].keypoints_2d, sh[0].keypoints_2d)
    test_seqs = load_split(data, "test")
    assert {s.subject for s in test_seqs} == {"S9", "S11"} and len(test_seqs[0].keypoints_2d) == 120
    assert np.array_equal(test_seqs[0].keypoints_2d, load_h36m(h36m_root, ("S9", "S11"), "gt")[0].keypoints_2d)


@pytest.mark.parametrize("causal", [True, False])
def test_chunks_align_inputs_with_targets(causal):
    """Each target frame t gets exactly its receptive-field window, edge-padded at the ends."""
    rf, chunk, lengths = 5, 4, (11, 3, 9)
    left = rf - 1 if causal else rf // 2
    # Value = 1000 * sequence + frame, so every input and target says where it came from.
    seqs = [(1000 * i + np.arange(n, dtype=np.float32))[:, None, None].repeat(2, -1) for i, n in enumerate(lengths)]
    targets = [(1000 * i + np.arange(n, dtype=np.float32))[:, None, None].repeat(3, -1) for i, n in enumerate(lengths)]
    data = ChunkedDataset(seqs, targets, rf, causal, chunk)
    assert len(data) == 3 + 0 + 3  # 11 -> chunks at 0, 4, 7; 3 frames: none; 9 -> 0, 4, 5
    seen = set()
    for x, y in data.batches(2, np.random.default_rng(0)):
        for xi, yi in zip(x, y):
            for k in range(chunk):
                seq, t = divmod(int(yi[k, 0, 0]), 1000)
                expected = 1000 * seq + np.clip(np.arange(t - left, t - left + rf), 0, lengths[seq] - 1)
                assert np.array_equal(xi[k:k + rf, 0, 0].numpy(), expected)
                seen.add((seq, t))
    assert seen == {(i, t) for i, n in enumerate(lengths) if n >= chunk for t in range(n)}


def test_absolute_adds_each_output_frame_its_root():
    targets = [np.arange(n * 51, dtype=np.float32).reshape(n, 17, 3) for n in (7, 9)]
    roots = [np.full((n, 1, 3), 10.0 * (i + 1), dtype=np.float32) + np.arange(n)[:, None, None]
             for i, n in enumerate((7, 9))]
    data = ChunkedDataset([np.zeros((n, 17, 2), np.float32) for n in (7, 9)], targets, 3, True, 4, roots)
    idx = np.arange(len(data))
    expected = [t[s:s + 4] + r[s:s + 4] for t, r in zip(targets, roots) for s in ((0, 3) if len(t) == 7 else (0, 4, 5))]
    assert np.array_equal(data.absolute(idx).numpy(), np.stack(expected))
    with pytest.raises(ValueError, match="root positions"):
        ChunkedDataset([np.zeros((7, 17, 2), np.float32)], targets[:1], 3, True, 4).absolute(idx[:1])


def test_flip_is_an_involution_and_mirrors():
    x = torch.randn(2, 6, 17, 3)
    flipped = flip_pose(x, H36M17)
    assert torch.equal(flip_pose(flipped, H36M17), x)
    l_hip, r_hip = H36M17.index("l_hip"), H36M17.index("r_hip")
    assert torch.equal(flipped[..., l_hip, 0], -x[..., r_hip, 0])
    assert torch.equal(flipped[..., l_hip, 1:], x[..., r_hip, 1:])


def test_pck_and_auc_by_hand():
    target = np.zeros((1, 4, 3))
    pred = target.copy()
    pred[0, :, 0] = [0.0, 0.1, 0.2, 0.3]  # errors 0, 100, 200, 300 mm
    assert pck(pred, target) == 50.0
    assert pck(pred, target, 0.25) == 75.0
    # Thresholds 0, 75, 150 mm: 1, 1 and 2 joints of 4 within -> mean 33.3 %.
    assert auc(pred, target, 0.150, steps=3) == pytest.approx(100 * (1 + 1 + 2) / 12)


def test_tiny_training_lowers_the_loss_and_exports_a_card(h36m_root, tmp_path, tiny_config):
    torch.manual_seed(0)
    card_path = train(TrainingConfig.from_dict(tiny_config), resume=False)
    loaded = load_model(card_path)
    history = loaded.card.training["history"]
    assert len(history) == 4
    assert history[-1]["train_mpjpe_mm"] < 0.7 * history[0]["train_mpjpe_mm"]
    assert loaded.causal and loaded.receptive_field == 9 and loaded.card.reference["source"] == "test"
    # The card's metrics are those of evaluate() on the test subjects.
    test = load_h36m(h36m_root, ("S9", "S11"), "gt")
    again = evaluate(loaded.model, test, 9, True)
    assert again["p1_mm"] == pytest.approx(loaded.card.metrics["h36m_s9_s11"]["p1_mm"], rel=1e-4)


def test_training_resumes_from_its_checkpoint(h36m_root, tmp_path, tiny_config):
    cfg = tiny_config
    cfg["train"]["epochs"] = 2
    train(TrainingConfig.from_dict(cfg), resume=False)
    cfg["train"]["epochs"] = 3
    history = load_model(train(TrainingConfig.from_dict(cfg), resume=True)).card.training["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_results_report_lists_every_record(h36m_root, tmp_path, tiny_config):
    torch.manual_seed(0)
    loaded = load_model(train(TrainingConfig.from_dict(tiny_config), resume=False))
    seqs = load_h36m(h36m_root, ("S9",), "gt")
    metrics = evaluate(loaded.model, seqs, loaded.receptive_field, True)
    assert len(metrics["per_joint_p1_mm"]) == 17 and set(metrics["actions"]) == {"Walking", "Eating"}
    record = {"model": "tiny", "dataset": "h36m", "input": "gt", "receptive_field": 9, "causal": True,
              "metrics": metrics, "reference": loaded.card.reference, "training": {"epochs": 4},
              "command": "pose3d-eval --checkpoint tiny.json", "hardware": "test", "eval_seconds": 0.1}
    results = tmp_path / "results"
    results.mkdir()
    paths = write_plots(record, loaded.card, results)
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)
    text = render_results([record], results)
    assert "| tiny | h36m | gt | 9 | yes |" in text and "pose3d-eval --checkpoint tiny.json" in text
    assert f"{metrics['p1_mm']:.1f}" in text and "S9 'Discussion 1'" in text
    limbs = limb_structure(metrics["structure"])
    assert "## Structure" in text and f"| tiny | h36m | gt | {limbs['upper arm']['rmse']:.1f} |" in text
    # A paper row on other 2D inputs stays for scale, marked, unless the model has a row on the paper's input.
    paper = {"source": "Paper", "inputs": "gt", "p1_mm": 37.2}
    on_gt, on_sh = dict(record, reference=paper), dict(record, input="sh", reference=paper)
    assert "| 37.2 |" in render_results([on_gt], results)
    sh_only = render_results([on_sh], results)
    assert "| 37.2 |" in sh_only and "ours on sh: for scale only" in sh_only
    both = render_results([on_gt, on_sh], results)
    assert both.count("| 37.2 |") == 1 and "see that row" in both


def test_paper_tables_pair_each_config_with_its_result(tmp_path):
    """Each seed paper's configs, the paper's numbers beside ours where the config was evaluated on
    its own 2D input; HumanEva P2 is averaged over the subject-action rows the paper lists."""
    actions = {"Walking S1": {"p2_mm": 10.0}, "Jog S1": {"p2_mm": 20.0}, "Box S1": {"p2_mm": 90.0}}
    record = {"model": "tang_he", "dataset": "humaneva", "input": "gt", "receptive_field": 1, "causal": True,
              "metrics": {"p1_mm": 40.0, "p2_mm": 40.0, "mpjve_mm": 3.0, "pck150": 99.0, "actions": actions},
              "training": {"epochs": 5, "hours": 0.2}}
    def config(name: str, data: dict, reference: dict | None = None) -> TrainingConfig:
        return TrainingConfig.from_dict({"name": name, "data": dict(data, root="d"), "model": {"receptive_field": 1},
                                         "train": {"epochs": 1, "batch_size": 1, "lr": 0.1},
                                         "output": {"dir": "o", "export": "o/m"}, "reference": reference})

    configs = [
        config("tang_he", {"dataset": "humaneva", "inputs": "gt"},
               {"source": "Tang Table 5", "inputs": "gt",
                "actions": {"Walking S1": {"p2_mm": 12.0}, "Jog S1": {"p2_mm": 16.0}}}),
        config("tang_full", {"inputs": "sh"}, {"source": "Tang Table 2", "p1_mm": 65.51}),
        config("causal81_c256", {"inputs": "gt"}),  # not a seed paper's config
    ]
    assert "## Paper tables" in render_results([], tmp_path, configs)
    text = "\n".join(paper_tables(configs, []))  # nothing evaluated yet
    assert "### Tang et al." in text and "causal81_c256" not in text
    assert text.count("| not run |") == 2 and "| 65.5 |" in text
    text = "\n".join(paper_tables(configs, [record]))
    assert "| tang_he | Tang Table 5 | gt | – | 14.0 | – | gt | 40.0 | 15.0 | 3.00 | 5 epochs, 0.2 h |" in text
    assert text.count("| not run |") == 1
    # Evaluated on other 2D than the config trains on: not this row's result.
    assert "\n".join(paper_tables(configs, [dict(record, model="tang_full")])).count("| not run |") == 2


def test_limb_structure_averages_left_and_right():
    joints = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
    rmse = {f"{side}_{j}": 10.0 * i + (2.0 if side == "r" else 0.0) for i, j in enumerate(joints) for side in "lr"}
    structure = {"bone_rmse_mm": rmse, "bone_std_mm": {k: 1.0 for k in rmse},
                 "symmetry_mm": {j: float(i) for i, j in enumerate(joints)}, "illegal_bend_pct": 0.5}
    limbs = limb_structure(structure)
    assert limbs["upper arm"] == {"rmse": 11.0, "std": 1.0, "symmetry": 1.0}
    assert limbs["lower leg"]["rmse"] == 51.0
    assert limbs["avg"]["rmse"] == (11 + 21 + 41 + 51) / 4 and limbs["avg"]["symmetry"] == (1 + 2 + 4 + 5) / 4
    assert limbs["illegal_bend_pct"] == 0.5


def test_model_inputs_are_focal_normalised(h36m_root):
    seq = load_h36m(h36m_root, ("S1",), "gt")[0]
    x = model_inputs(seq)
    expected = seq.positions_3d[..., :2] / seq.positions_3d[..., 2:]
    assert np.allclose(x, expected, atol=1e-5)
    assert np.allclose(root_relative(seq.positions_3d)[:, 0], 0.0)


def test_humaneva_is_tested_on_the_actions_the_model_learnt(tiny_card):
    card = tiny_card(training={"data": {"dataset": "humaneva", "actions": ["Walking", "Jog"]}})
    assert evaluation_data(card, "humaneva", Path("d"), "gt").actions == ("Walking", "Jog")
    every_action = tiny_card(training={"data": {"dataset": "humaneva"}})
    assert evaluation_data(every_action, "humaneva", Path("d"), "gt").actions == HUMANEVA_ACTIONS
    assert evaluation_data(card, "h36m", Path("d"), "gt").actions == HUMANEVA_ACTIONS


def test_load_humaneva_rotates_into_the_camera(tmp_path):
    """The quaternion is the camera's orientation in the world: camera = R^T (world - t)."""
    world = np.random.default_rng(1).normal(size=(5, 15, 3)).astype(np.float32)
    np.savez(tmp_path / "humaneva15_positions_3d.npz", **{"Validate/S2|Jog 1 chunk0": world,
                                                          "Validate/S2|Gestures 1 chunk0": world,
                                                          "Train/S2|Jog 1 chunk0": world})
    np.savez(tmp_path / "humaneva15_gt_2d.npz", **{f"{k}|C1": np.zeros((5, 15, 2), np.float32)
                                                   for k in ("Validate/S2|Jog 1 chunk0", "Train/S2|Jog 1 chunk0")})
    half = np.sqrt(0.5)  # 90 degrees about z: camera x = world y, camera y = -world x
    cams = {"S2": [{"id": "C1", "res_w": 640, "res_h": 480, "orientation_wxyz": [half, 0, 0, half],
                    "translation_m": [1.0, 2.0, 3.0]}]}
    (tmp_path / "humaneva_cameras.json").write_text(json.dumps(cams))
    seqs = load_humaneva(tmp_path, "Validate")
    assert [(s.subject, s.action, s.eval_group) for s in seqs] == [("S2", "Jog 1 chunk0", "Jog S2")]
    d = world - np.array([1.0, 2.0, 3.0])
    expected = np.stack([d[..., 1], -d[..., 0], d[..., 2]], axis=-1)
    assert np.allclose(seqs[0].positions_3d, expected, atol=1e-5)
    assert seqs[0].intrinsics is None and input_normalization(seqs[0]) == "screen"
    assert np.allclose(model_inputs(seqs[0]), [-1.0, -0.75])  # pixel (0, 0), screen-normalised


def test_export_copies_card_and_weights(h36m_root, tmp_path, tiny_config):
    from training.export import export

    torch.manual_seed(0)
    source = load_model(train(TrainingConfig.from_dict(tiny_config), resume=False))
    path = export(source.path, "shipped", half=True, models_dir=tmp_path / "shipped_models")
    shipped = load_model(path)
    assert path.name == "shipped.json" and shipped.card.metrics == source.card.metrics
    x = torch.randn(1, 12, 17, 2)
    with torch.no_grad():
        assert torch.allclose(shipped.model(x), source.model(x), atol=1e-2)  # fp16 weights


def _mirror(a: np.ndarray) -> np.ndarray:
    m = a[:, list(H36M17.flip_permutation())].copy()
    m[..., 0] *= -1
    return m


def test_test_time_flip_makes_predictions_mirror_equivariant(tiny_card):
    torch.manual_seed(0)
    model = build_model("temporal_conv", tiny_card().hyperparameters).eval()
    x = np.random.default_rng(0).normal(size=(30, 17, 2)).astype(np.float32)
    plain = predict_sequence(model, x, 9, True)
    assert not np.allclose(predict_sequence(model, _mirror(x), 9, True), _mirror(plain), atol=1e-3)
    averaged = flip_averaged(model, x, 9, True, H36M17)
    np.testing.assert_allclose(flip_averaged(model, _mirror(x), 9, True, H36M17), _mirror(averaged), atol=1e-5)
    np.testing.assert_allclose(averaged, (plain + _mirror(predict_sequence(model, _mirror(x), 9, True))) / 2, atol=1e-6)


def test_joint_dropout_zeroes_whole_joints_at_its_rate_and_scaling_keeps_the_confidence():
    torch.manual_seed(0)
    x = torch.rand(64, 20, 17, 3) + 0.5
    dropped = drop_joints(x, 0.2)
    gone = (dropped == 0).all(dim=-1)
    assert torch.equal(dropped[~gone], x[~gone])  # a joint is dropped whole or kept as it was
    assert 0.18 < gone.float().mean() < 0.22
    scaled = apply_to_xy(x, lambda p: 2 * p)
    assert torch.equal(scaled[..., :2], 2 * x[..., :2]) and torch.equal(scaled[..., 2], x[..., 2])
    assert torch.equal(apply_to_xy(x[..., :2], lambda p: 2 * p), 2 * x[..., :2])


def test_confidence_channel_training_with_joint_dropout(h36m_root, tmp_path, tiny_config):
    cfg = tiny_config
    cfg["train"]["joint_dropout"] = 0.1
    with pytest.raises(ValueError, match="confidence channel"):
        train(TrainingConfig.from_dict(cfg), resume=False)
    cfg["model"]["in_features"] = 3
    loaded = load_model(train(TrainingConfig.from_dict(cfg), resume=False))
    history = loaded.card.training["history"]
    assert loaded.model.in_features == 3 and loaded.card.hyperparameters["in_features"] == 3
    assert history[-1]["train_mpjpe_mm"] < 0.7 * history[0]["train_mpjpe_mm"]
    # 2D-only inputs (the evaluation's) count every joint as seen.
    uv = model_inputs(load_h36m(h36m_root, ("S9",), "gt")[0])
    seen = np.concatenate([uv, np.ones((*uv.shape[:2], 1))], axis=-1)
    loaded.model.eval()
    np.testing.assert_array_equal(predict_sequence(loaded.model, uv, 9, True),
                                  predict_sequence(loaded.model, seen, 9, True))


def test_two_process_training_with_torchrun(h36m_root, tmp_path, tiny_config):
    """torch.distributed (gloo on CPU): two ranks split the chunks and rank 0 exports."""
    import socket
    import subprocess
    import sys

    import yaml

    cfg = tiny_config
    cfg["train"]["epochs"] = 2
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    with socket.socket() as s:  # a free port on the loopback interface
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "training.train",
                          "--config", str(tmp_path / "tiny.yaml"), "--no-resume"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, (run.stdout[-2000:] + "\n".join(
        line for line in run.stderr.splitlines() if "elastic" not in line)[-4000:])
    assert run.stdout.count("model card written to") == 1
    loaded = load_model(tmp_path / "models" / "tiny.json")
    history = loaded.card.training["history"]
    assert len(history) == 2 and loaded.card.training["hardware"].startswith("2 x")


def test_single_frame_baseline_trains(h36m_root, tmp_path, tiny_config):
    cfg = tiny_config
    cfg["model"] = {"architecture": "martinez_mlp", "linear_size": 64, "num_stages": 1, "dropout": 0.0}
    loaded = load_model(train(TrainingConfig.from_dict(cfg), resume=False))
    history = loaded.card.training["history"]
    assert loaded.receptive_field == 1 and loaded.card.architecture == "martinez_mlp"
    assert history[-1]["train_mpjpe_mm"] < 0.7 * history[0]["train_mpjpe_mm"]
    x = torch.randn(2, 5, 17, 2)
    with torch.no_grad():
        out = loaded.model(x)
        assert out.shape == (2, 5, 17, 3)
        assert torch.allclose(loaded.model(x[:, 2:3]), out[:, 2:3], atol=1e-5)  # frame by frame


def test_trajectory_model_predicts_the_root_position(h36m_root, tmp_path, tiny_config):
    cfg = tiny_config
    cfg["model"]["target"] = "trajectory"
    cfg["train"].update(epochs=8, batch_size=2, lr=0.03)  # enough steps to reach depths of 5 m
    loaded = load_model(train(TrainingConfig.from_dict(cfg), resume=False))
    metrics = loaded.card.metrics["h36m_s9_s11"]
    assert loaded.model.num_joints_out == 1 and "trajectory" in loaded.card.output
    history = loaded.card.training["history"]
    assert history[-1]["train_mpjpe_mm"] < history[0]["train_mpjpe_mm"]
    # The cameras are 5-6 m away: a trained root error far below that distance.
    assert metrics["root_error_mm"] < 1500 and set(metrics["actions"]) == {"Walking", "Eating"}
    assert torch.equal(flip_pose(torch.ones(1, 1, 3), H36M17), torch.tensor([[[-1.0, 1.0, 1.0]]]))
