"""Offline evaluation of a lifter on whole sequences, and the ``pose3d-eval`` command.

``pose3d-eval --checkpoint models/X.json --dataset h36m --input gt`` evaluates on S9/S11
(``--dataset humaneva``: the Validate split, Walk/Jog/Box per subject; ``--dataset 3dhp``: the
MPI-INF-3DHP test sequences of data_test_3dhp.npz, with PCK@150mm and AUC as that benchmark reports),
writes training/results/<model>__<dataset>_<input>.json with per-action and per-joint
figures and a per-joint plot, and regenerates training/RESULTS.md from all results.
``--test-flip``: test-time flip augmentation (as in VideoPose3D's reported numbers), the
row named ``<model>+flip``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from pose3d_ros.lifting.sequence import predict_sequence
from pose3d_ros.metrics import (
    auc,
    bone_length_rmse,
    bone_length_std,
    illegal_bend_share,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    pck,
    per_joint_error,
    root_position_error,
    symmetry_error,
)
from pose3d_ros.networks.cards import LifterCard, load_model
from pose3d_ros.skeleton import SkeletonLayout

from .config import DataConfig
from .data import (
    DATASET_LAYOUTS,
    H36M_MISSING_NOTE,
    Sequence,
    input_normalization,
    load_split,
    model_inputs,
    root_relative,
)
from .generators import flip_pose

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def frame_weighted(rows: list[tuple]) -> np.ndarray:
    """The mean of each value over rows (frames, value, value, ...), weighted by the rows' frames."""
    rows = np.array(rows, dtype=np.float64)
    return (rows[:, 1:] * rows[:, :1]).sum(axis=0) / rows[:, 0].sum()


def _group_means(per_group: dict[str, list[tuple]], keys: tuple[str, ...]) -> dict:
    """Per group (action), the frame-weighted mean of each key's value in its rows (frames,
    values...) and its frames; and, as in the papers, each key's mean over the groups."""
    result: dict = {"actions": {group: dict(zip(keys, map(float, frame_weighted(rows))), frames=sum(r[0] for r in rows))
                                for group, rows in sorted(per_group.items())}}
    for key in keys:
        result[key] = float(np.mean([a[key] for a in result["actions"].values()]))
    return result


def evaluate_trajectory(model: torch.nn.Module, sequences: list[Sequence], receptive_field: int,
                        causal: bool) -> dict:
    """Root position error (mm, camera frame) of a trajectory model, per group and averaged."""
    model.eval()
    per_group: dict[str, list] = defaultdict(list)
    for seq in sequences:
        pred = predict_sequence(model, model_inputs(seq), receptive_field, causal, relative=False)
        per_group[seq.eval_group].append((len(pred), 1000 * root_position_error(pred[:, 0], seq.positions_3d[:, 0])))
    return _group_means(per_group, ("root_error_mm",))


def flip_averaged(model: torch.nn.Module, inputs: np.ndarray, receptive_field: int, causal: bool,
                  layout: SkeletonLayout) -> np.ndarray:
    """Test-time flip augmentation: the mean of the prediction and the mirrored prediction of
    the mirrored inputs (x negated about the principal point, left and right swapped)."""
    def mirror(x: np.ndarray) -> np.ndarray:
        return flip_pose(torch.from_numpy(x), layout).numpy()

    back = mirror(predict_sequence(model, mirror(inputs), receptive_field, causal))
    return (predict_sequence(model, inputs, receptive_field, causal) + back) / 2


def evaluate(model: torch.nn.Module, sequences: list[Sequence], receptive_field: int,
             causal: bool, test_flip: bool = False) -> dict:
    """P1, P2, N-MPJPE (mm), MPJVE (mm/frame) and PCK@150mm (%) per action and, as in the
    papers, their mean over actions (on MPI-INF-3DHP also the AUC of PCK over 0-150 mm, %, per
    test sequence); per-joint P1 over all frames. ``test_flip``: predictions averaged with those
    of the mirrored inputs (:func:`flip_averaged`)."""
    model.eval()
    with_auc = any(seq.dataset == "3dhp" for seq in sequences)
    keys = ("p1_mm", "p2_mm", "n_mpjpe_mm", "mpjve_mm", "pck150") + (("auc",) if with_auc else ())
    per_action: dict[str, list] = defaultdict(list)
    joint_sum, frames = 0.0, 0
    structure = []
    for seq in sequences:
        inputs = model_inputs(seq)
        pred = (flip_averaged(model, inputs, receptive_field, causal, DATASET_LAYOUTS[seq.dataset]) if test_flip
                else predict_sequence(model, inputs, receptive_field, causal))
        target = root_relative(seq.positions_3d)
        if seq.dataset in DATASET_LAYOUTS:
            structure.append((len(pred), structure_metrics(pred, target, DATASET_LAYOUTS[seq.dataset])))
        per_action[seq.eval_group].append(
            (len(pred), 1000 * mpjpe(pred, target), 1000 * p_mpjpe(pred, target), 1000 * n_mpjpe(pred, target),
             1000 * mpjve(pred, target), pck(pred, target)) + ((auc(pred, target),) if with_auc else ()))
        joint_sum = joint_sum + 1000 * per_joint_error(pred, target) * len(pred)
        frames += len(pred)
    result = _group_means(per_action, keys)
    result["frames"] = frames
    result["per_joint_p1_mm"] = (joint_sum / max(frames, 1)).tolist()
    if structure:
        weights = np.array([w for w, _ in structure], dtype=np.float64)
        weights /= weights.sum()
        result["structure"] = _weighted_mean(weights, [m for _, m in structure])
    return result


def _weighted_mean(weights: np.ndarray, records: list):
    """Element-wise weighted mean of equally nested dicts of numbers."""
    if isinstance(records[0], dict):
        return {k: _weighted_mean(weights, [r[k] for r in records]) for k in records[0]}
    return float(np.dot(weights, records))


def structure_metrics(pred: np.ndarray, target: np.ndarray, layout: SkeletonLayout) -> dict:
    """Structural validity of one sequence's predictions (N, J, 3), mm and %: left/right bone
    length differences and each bone length's standard deviation over the frames (Dabral et al.
    Table 6), bone length RMSE against the truth (Tang et al. Table 3; bones named by their child
    joint), and for H36M-17 the share of elbows and knees bent the wrong way."""
    names = [layout.joint_names[c] for c in layout.bone_children]
    pairs = tuple((layout.bones[left], layout.bones[right]) for left, right in layout.left_right_bones)
    out = {
        "symmetry_mm": dict(zip([layout.joint_names[le][2:] for le in layout.joints_left],
                                (1000 * symmetry_error(pred, pairs)).tolist())),
        "bone_std_mm": {name: 1000 * bone_length_std(pred, (bone,)) for name, bone in zip(names, layout.bones)},
        "bone_rmse_mm": dict(zip(names, (1000 * bone_length_rmse(pred, target, layout.bones)).tolist())),
    }
    if layout.name == "h36m17":
        out["illegal_bend_pct"] = illegal_bend_share(pred)
    return out


def evaluation_data(card: LifterCard, dataset: str, root: Path, inputs: str) -> DataConfig:
    """The ``data`` section of the test split for a model card: on HumanEva-I, only the actions
    the model was trained on (Tang et al. train and test on Walk and Jog); a gravity-levelled
    lifter's views turned level."""
    data = DataConfig(str(root), dataset=dataset, inputs=inputs, level=card.input_normalization == "level")
    trained = card.training.get("data", {})
    if dataset == "humaneva" and trained.get("dataset") == "humaneva" and trained.get("actions"):
        return dataclasses.replace(data, actions=tuple(trained["actions"]))
    return data


def _training_summary(card: LifterCard) -> dict:
    history = card.training.get("history", [])
    return {"epochs": len(history), "hours": round(sum(h["seconds"] for h in history) / 3600, 2),
            "hardware": card.training.get("hardware"), "inputs": card.training.get("inputs")}


def _hardware() -> str:
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, CPU"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pose3d-eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="model card (.json) or weights of a lifter")
    parser.add_argument("--dataset", choices=sorted(DATASET_LAYOUTS), default="h36m")
    parser.add_argument("--input", choices=["gt", "sh"], default="gt",
                        help="2D input: ground-truth projection or Stacked Hourglass detections")
    parser.add_argument("--data-root", default="../shared/data",
                        help="folder with h36m/ and humaneva/ (and 3dhp/ holding data_test_3dhp.npz)")
    parser.add_argument("--test-flip", action="store_true", help="test-time flip augmentation (row <model>+flip)")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    args = parser.parse_args(argv)
    from .report import write_plots, write_results_md  # matplotlib only when reporting

    loaded = load_model(args.checkpoint)
    start = time.time()
    sequences = load_split(evaluation_data(loaded.card, args.dataset, Path(args.data_root) / args.dataset, args.input),
                           "test")
    if input_normalization(sequences[0]) != loaded.card.input_normalization:
        raise SystemExit(f"{loaded.path} takes {loaded.card.input_normalization}-normalised 2D; {args.dataset} "
                         f"gives {input_normalization(sequences[0])}-normalised 2D")
    metrics = evaluate(loaded.model, sequences, loaded.receptive_field, loaded.causal, args.test_flip)
    name = loaded.path.stem + ("+flip" if args.test_flip else "")
    out_dir = Path(args.results_dir)
    record = {
        "model": name, "card": str(loaded.path), "dataset": args.dataset, "input": args.input,
        "receptive_field": loaded.receptive_field, "causal": loaded.causal,
        "parameters": loaded.card.parameters, "reference": loaded.card.reference,
        "training": _training_summary(loaded.card),
        "metrics": metrics, "note": H36M_MISSING_NOTE if args.dataset == "h36m" else "",
        "hardware": _hardware(), "layout": loaded.card.layout,
        "eval_seconds": round(time.time() - start, 1),
        "command": "pose3d-eval " + shlex.join(sys.argv[1:] if argv is None else argv),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}__{args.dataset}_{args.input}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    write_plots(record, loaded.card, out_dir)
    write_results_md(out_dir)
    auc_text = f", AUC {metrics['auc']:.1f} %" if "auc" in metrics else ""
    print(f"{name} on {args.dataset} ({args.input}): P1 {metrics['p1_mm']:.1f} mm, P2 {metrics['p2_mm']:.1f} mm, "
          f"MPJVE {metrics['mpjve_mm']:.2f} mm, PCK@150 {metrics['pck150']:.1f} %{auc_text} -> {path}")


if __name__ == "__main__":
    main()
