"""Chunked training: how many consecutive output frames per window pays off, at equal steps or time.

    .venv/bin/python bench/chunking.py --steps 300 64x32 1024x2      # equal steps
    .venv/bin/python bench/chunking.py --steps 1200 64x32            # about the time of 300 steps of 1024x2

Each ``BxC`` trains a fresh causal TCN (``--rf`` frames, 128 channels) from the same seed on
Human3.6M S1, S5, S6, S7, S8 (ground-truth 2D, flip augmentation) with B chunks of C
consecutive output frames per step, then reports the time taken, the training MPJPE of the
last 50 steps and P1 on S9, camera 54138969. A chunk shares its window's computation among
its C outputs (fast), but consecutive frames are nearly alike (fewer distinct poses per step).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pose3d_ros.networks.tcn import TemporalConvModel, filter_widths_for  # noqa: E402
from pose3d_ros.skeleton import H36M17  # noqa: E402
from training.data import H36M_TRAIN_SUBJECTS, load_h36m, model_inputs, root_relative  # noqa: E402
from training.evaluate import evaluate  # noqa: E402
from training.generators import ChunkedDataset, flip_pose  # noqa: E402


def run(train, test, rf: int, batch: int, chunk: int, steps: int) -> tuple[float, float, float]:
    """(seconds, training MPJPE of the last 50 steps in mm, test P1 in mm)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    data = ChunkedDataset([model_inputs(s) for s in train], [root_relative(s.positions_3d) for s in train],
                          rf, True, chunk)
    model = TemporalConvModel(filter_widths=filter_widths_for(rf), causal=True, channels=128, dropout=0.25)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    model.train()
    losses, start = [], time.time()
    while len(losses) < steps:
        for x, y in data.batches(batch, rng):
            flip = torch.rand(len(x)) < 0.5
            x[flip], y[flip] = flip_pose(x[flip], H36M17), flip_pose(y[flip], H36M17)
            loss = torch.linalg.norm(model(x) - y, dim=-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    seconds = time.time() - start
    return seconds, 1000 * float(np.mean(losses[-50:])), evaluate(model, test, rf, True)["p1_mm"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", help="BxC: B chunks of C output frames per step")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rf", type=int, default=27)
    parser.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data" / "h36m"))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    train = load_h36m(args.data_root, H36M_TRAIN_SUBJECTS, "gt")
    test = [s for s in load_h36m(args.data_root, ("S9",), "gt") if s.camera == "54138969"]
    for config in args.configs:
        batch, chunk = map(int, config.split("x"))
        seconds, train_mm, p1 = run(train, test, args.rf, batch, chunk, args.steps)
        print(f"{batch} chunks x {chunk} frames, {args.steps} steps: {seconds:.0f} s, training MPJPE (last 50 steps) "
              f"{train_mm:.1f} mm, S9 camera 54138969 P1 {p1:.1f} mm", flush=True)


if __name__ == "__main__":
    main()
