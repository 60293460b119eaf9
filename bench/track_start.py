"""How a new track starts: P1 and thigh length by frames since the track began, S9/S11.

    .venv/bin/python bench/track_start.py [--model models/lifter_causal81.json] [--input gt|sh]

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

from pose3d_ros.model_io import load_model  # noqa: E402
from pose3d_ros.sequence_lifting import predict_sequence  # noqa: E402
from pose3d_ros.skeleton import H36M17  # noqa: E402
from training.data import H36M_TEST_SUBJECTS, load_h36m  # noqa: E402
from training.evaluate import model_inputs, root_relative  # noqa: E402

AGE_BINS = ((0, 1), (1, 5), (5, 10), (10, 20), (20, 40), (40, 80), (80, 120))
THIGHS = ((H36M17.index("r_hip"), H36M17.index("r_knee")), (H36M17.index("l_hip"), H36M17.index("l_knee")))


def thigh_length(poses: np.ndarray) -> np.ndarray:
    """Mean of the two thigh lengths per frame, metres."""
    return np.mean([np.linalg.norm(poses[:, a] - poses[:, b], axis=-1) for a, b in THIGHS], axis=0)


def track_start_errors(loaded, sequences, every: int, length: int) -> dict[str, np.ndarray]:
    """Per age 0..length-1, summed over tracks: P1 from the track's start, P1 from the whole
    history, thigh length ratio (predicted / true) from the start; and the number of tracks."""
    rf, causal = loaded.receptive_field, loaded.causal
    sums = {k: np.zeros(length) for k in ("start_p1", "history_p1", "thigh_ratio")}
    tracks = 0
    for seq in sequences:
        x, truth = model_inputs(seq), root_relative(seq.positions_3d)
        history = predict_sequence(loaded.model, x, rf, causal)
        for s in range(0, len(x) - length, every):
            fresh = predict_sequence(loaded.model, x[s:s + length], rf, causal)
            t = truth[s:s + length]
            sums["start_p1"] += 1000 * np.linalg.norm(fresh - t, axis=-1).mean(axis=-1)
            sums["history_p1"] += 1000 * np.linalg.norm(history[s:s + length] - t, axis=-1).mean(axis=-1)
            sums["thigh_ratio"] += thigh_length(fresh) / thigh_length(t)
            tracks += 1
    return {k: v / max(tracks, 1) for k, v in sums.items()} | {"tracks": np.array(tracks)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "lifter_causal81.json"))
    parser.add_argument("--input", choices=["gt", "sh"], default="gt")
    parser.add_argument("--every", type=int, default=500, help="frames between track starts")
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args(argv)
    loaded = load_model(args.model)
    length = AGE_BINS[-1][1]
    seqs = load_h36m(Path(args.data_root) / "h36m", H36M_TEST_SUBJECTS, args.input)
    r = track_start_errors(loaded, seqs, args.every, length)
    print(f"{Path(args.model).name}, {args.input} 2D, S9/S11, {int(r['tracks'])} tracks "
          f"(one every {args.every} frames)")
    print("| frames since track start | P1 from the start (mm) | P1 with full history (mm) | thigh / true |")
    print("|---|---|---|---|")
    for lo, hi in AGE_BINS:
        label = f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}"
        print(f"| {label} | {r['start_p1'][lo:hi].mean():.1f} | {r['history_p1'][lo:hi].mean():.1f} | "
              f"{r['thigh_ratio'][lo:hi].mean():.2f} |")


if __name__ == "__main__":
    main()
