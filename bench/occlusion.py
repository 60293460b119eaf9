"""Lifters under simulated occlusion: P1 on Human3.6M (S9/S11 unless told) when joints go unseen for a while.

    .venv/bin/python bench/occlusion.py --models lifter_articulated.json lifter_causal81.json [--rate 0.1]
        [--span 25] [--subjects S9 S11]

Ground-truth 2D in which each joint is occluded in runs of ``--span`` frames on average,
``--rate`` of all joint-frames in all. An occluded joint is what a detector reports for it:
a guess off by ``--error`` (focal-normalised units, 0.03 is about 34 px at H36M's focal
length, Gaussian per axis, fixed over the run) with confidence 0.1. A lifter with a
confidence channel is told the joint is unseen (pose3d_ros.lifting.lifter_input, the node's
threshold 0.3); a 2D-only lifter gets the guess. Offline lifting, which equals the node's
streaming output (test/core/test_streaming_replay.py). ``--span 1`` drops joint-frames
independently, as training's joint dropout does; ``--rate 0`` measures clean 2D; ``--subjects S1``
a training subject (how well a lifter fits what it was trained on). Prints one row per model: P1 on all
frames, on frames with an occluded joint, and with no occlusion at all. Needs ../shared/data.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pose3d_ros.lifting.inputs import lifter_input  # noqa: E402
from pose3d_ros.lifting.sequence import predict_sequence  # noqa: E402
from pose3d_ros.networks.cards import load_model  # noqa: E402
from pose3d_ros.resources import resolve  # noqa: E402
from training.data import H36M_TEST_SUBJECTS, load_h36m, model_inputs, root_relative  # noqa: E402


def occlusion_runs(frames: int, joints: int, rate: float, span: int, rng: np.random.Generator) -> np.ndarray:
    """(frames, joints) bool: runs of ``span`` frames starting with probability rate / span."""
    starts = rng.random((frames, joints)) < rate / span
    hidden = np.zeros((frames, joints), bool)
    for t, j in zip(*np.nonzero(starts)):
        hidden[t:t + span, j] = True
    return hidden


def occluded_inputs(uv: np.ndarray, hidden: np.ndarray, error: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The detector's view: (uv with a guess for each hidden joint, confidence 1 or 0.1)."""
    offset = rng.normal(0.0, error, uv.shape[1:])  # one guess per joint, fixed while hidden
    return np.where(hidden[..., None], uv + offset, uv), np.where(hidden, 0.1, 1.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lifter_articulated.json"],
                        help="model cards (absolute, or files in models/)")
    parser.add_argument("--rate", type=float, default=0.1, help="share of joint-frames occluded")
    parser.add_argument("--span", type=int, default=25, help="frames an occlusion lasts (0.5 s at 50 Hz)")
    parser.add_argument("--error", type=float, default=0.03, help="std of the detector's guess (focal-normalised)")
    parser.add_argument("--subjects", nargs="+", default=list(H36M_TEST_SUBJECTS), help="Human3.6M subjects")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args(argv)
    seqs = load_h36m(Path(args.data_root) / "h36m", tuple(args.subjects), "gt")
    rng = np.random.default_rng(0)
    views = []
    for seq in seqs:
        uv = model_inputs(seq)
        hidden = occlusion_runs(*uv.shape[:2], args.rate, args.span, rng)
        target = root_relative(seq.positions_3d)
        views.append((*occluded_inputs(uv, hidden, args.error, rng), hidden.any(axis=1), target))
    share = np.mean(np.concatenate([v[1].ravel() < 1 for v in views]))
    print(f"{'/'.join(args.subjects)}, {len(seqs)} sequences, {100 * share:.1f} % of joint-frames occluded "
          f"(runs of {args.span} frames, guess error {args.error})\n")
    print("| model | confidence channel | P1 all frames mm (frame-weighted) | frames with an occluded joint "
          "| other frames |")
    print("|---|---|---|---|---|")
    for name in args.models:
        loaded = load_model(resolve(name, "models"))
        loaded.model.eval()
        errors, occluded = [], []
        for uv, conf, any_hidden, target in views:
            x = lifter_input(uv, conf, loaded.model.in_features)
            pred = predict_sequence(loaded.model, x, loaded.receptive_field, loaded.causal)
            errors.append(1000 * np.linalg.norm(pred - target, axis=-1).mean(axis=-1))
            occluded.append(any_hidden)
        e, o = np.concatenate(errors), np.concatenate(occluded)
        parts = [f"{e[m].mean():.1f}" if m.any() else "–" for m in (o, ~o)]
        print(f"| {Path(name).stem} | {'yes' if loaded.model.in_features == 3 else 'no'} | {e.mean():.1f} | "
              f"{parts[0]} | {parts[1]} |")


if __name__ == "__main__":
    main()
