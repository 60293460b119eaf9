"""How a new track starts: P1 and thigh length by frames since the track began, S9/S11.

    .venv/bin/python bench/track_start.py [--model models/lifter_articulated.json] [--input gt|sh]

The node starts a track's window padded with its first frame. Here tracks start every
``--every`` frames of each Human3.6M test sequence; each is lifted from its start alone (as
the node does, and as ``predict_sequence`` pads) and compared, age by age, with the truth and
with the same frames lifted from the whole sequence's history.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pose3d_ros.constraints import bone_lengths  # noqa: E402
from pose3d_ros.lifting.sequence import predict_sequence  # noqa: E402
from pose3d_ros.metrics import mpjpe  # noqa: E402
from pose3d_ros.networks.cards import load_model  # noqa: E402
from pose3d_ros.skeleton import H36M17  # noqa: E402
from training.data import H36M_TEST_SUBJECTS, load_h36m, model_inputs, root_relative  # noqa: E402

AGE_BINS = ((0, 1), (1, 5), (5, 10), (10, 20), (20, 40), (40, 80), (80, 120))
THIGHS = [H36M17.bone_of(H36M17.index(knee)) for knee in ("r_knee", "l_knee")]  # bones named by child joint


def track_start_errors(loaded, sequences, every: int, length: int) -> dict[str, np.ndarray]:
    """Per age 0..length-1, over all tracks: P1 from the track's start, P1 from the whole history,
    mean thigh length ratio (predicted / true) from the start; and the number of tracks."""
    rf, causal = loaded.receptive_field, loaded.causal
    fresh, history, truth = [], [], []
    for seq in sequences:
        x, target = model_inputs(seq), root_relative(seq.positions_3d)
        whole = predict_sequence(loaded.model, x, rf, causal)
        for s in range(0, len(x) - length, every):
            fresh.append(predict_sequence(loaded.model, x[s:s + length], rf, causal))
            history.append(whole[s:s + length])
            truth.append(target[s:s + length])
    fresh, history, truth = np.stack(fresh), np.stack(history), np.stack(truth)  # (tracks, length, 17, 3)
    thigh_ratio = (bone_lengths(fresh)[..., THIGHS].mean(-1) / bone_lengths(truth)[..., THIGHS].mean(-1)).mean(0)
    return {"start_p1": np.array([1000 * mpjpe(fresh[:, a], truth[:, a]) for a in range(length)]),
            "history_p1": np.array([1000 * mpjpe(history[:, a], truth[:, a]) for a in range(length)]),
            "thigh_ratio": thigh_ratio, "tracks": len(fresh)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "lifter_articulated.json"))
    parser.add_argument("--input", choices=["gt", "sh"], default="gt")
    parser.add_argument("--every", type=int, default=500, help="frames between track starts")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args(argv)
    loaded = load_model(args.model)
    length = AGE_BINS[-1][1]
    seqs = load_h36m(Path(args.data_root) / "h36m", H36M_TEST_SUBJECTS, args.input)
    r = track_start_errors(loaded, seqs, args.every, length)
    print(f"{Path(args.model).name}, {args.input} 2D, S9/S11, {r['tracks']} tracks "
          f"(one every {args.every} frames)")
    print("| frames since track start | P1 from the start (mm) | P1 with full history (mm) | thigh / true |")
    print("|---|---|---|---|")
    for lo, hi in AGE_BINS:
        label = f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}"
        print(f"| {label} | {r['start_p1'][lo:hi].mean():.1f} | {r['history_p1'][lo:hi].mean():.1f} | "
              f"{r['thigh_ratio'][lo:hi].mean():.2f} |")


if __name__ == "__main__":
    main()
