"""Train the TP-Net-style causal refiner (pose3d_ros.networks.tpnet.CausalRefiner) on a lifter's outputs,
or with ``--bidirectional`` Dabral's Bi-TP-Net (BidirectionalRefiner, centred windows).

``python -m training.train_refiner --lifter models/lifter_articulated.json --output models/refiner_tpnet``

Inputs are the lifter's root-relative predictions from ``--inputs`` 2D (ground truth or
Stacked Hourglass detections) on S1, S5, S6, S7, S8 (the offline
predict_sequence, which equals the node's streaming lifter: test/core/test_streaming_replay.py),
``window`` past frames per sample, edge-padded at the start as online (``--bidirectional``:
``window // 2`` past and future frames, edge-padded at both ends); targets are the
ground-truth root-relative poses. The loss is the MPJPE of the refined pose plus
``--velocity-weight`` times the error of its change since the previous frame (which the
refiner predicts from the same window shifted by one), so that per-frame corrections do
not add jitter. Training stops after ``--minutes``. The card records
P1 and MPJVE on S9/S11 with and without the refiner, from both kinds of 2D.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from pose3d_ros.lifting.sequence import predict_sequence
from pose3d_ros.metrics import mpjpe, mpjve
from pose3d_ros.networks.cards import LifterCard, LoadedModel, load_model, save_model
from pose3d_ros.networks.tpnet import BidirectionalRefiner, CausalRefiner
from pose3d_ros.skeleton import H36M17

from .data import H36M_MISSING_NOTE, H36M_TEST_SUBJECTS, H36M_TRAIN_SUBJECTS, load_h36m, model_inputs, root_relative
from .evaluate import frame_weighted


def lifter_outputs(loaded: LoadedModel, root: Path, subjects: tuple[str, ...], cameras: int, inputs: str = "gt"):
    """(predictions, targets) per sequence for the first ``cameras`` cameras of each subject,
    lifted by ``loaded`` from ``inputs`` 2D (gt or sh)."""
    seqs = load_h36m(root, subjects, inputs)
    keep = {s.camera for s in seqs}
    keep = sorted(keep)[:cameras]
    pairs = []
    for s in seqs:
        if s.camera in keep:
            pred = predict_sequence(loaded.model, model_inputs(s), loaded.receptive_field, loaded.causal)
            pairs.append((pred.astype(np.float32), root_relative(s.positions_3d).astype(np.float32)))
    return pairs


def pad(pred: np.ndarray, window: int, centred: bool) -> np.ndarray:
    """Edge-pad a sequence so that frame i's window starts at row i: window - 1 frames before
    (causal), or window // 2 before and after (``centred``, Bi-TP-Net)."""
    left, right = (window // 2, window // 2) if centred else (window - 1, 0)
    return np.concatenate([np.repeat(pred[:1], left, axis=0), pred, np.repeat(pred[-1:], right, axis=0)])


def windows(pred: np.ndarray, window: int, centred: bool = False) -> np.ndarray:
    """(N, J, 3) -> (N, window, J, 3): each frame with its past (or, ``centred``, in the middle)."""
    return pad(pred, window, centred)[np.arange(len(pred))[:, None] + np.arange(window)]


@torch.no_grad()
def refine_sequence(model: CausalRefiner, pred: np.ndarray) -> np.ndarray:
    centred = not getattr(model, "causal", True)
    return model(torch.from_numpy(windows(pred, model.window, centred))).numpy()


def evaluate(model: CausalRefiner, pairs) -> dict:
    """Frame-weighted P1 and MPJVE (mm) of the lifter alone and refined."""
    model.eval()
    rows = []
    for pred, target in pairs:
        refined = refine_sequence(model, pred)
        rows.append((len(pred), mpjpe(pred, target), mpjpe(refined, target), mpjve(pred, target),
                     mpjve(refined, target)))
    return dict(zip(("lifter_p1_mm", "refined_p1_mm", "lifter_mpjve_mm", "refined_mpjve_mm"),
                    map(float, 1000 * frame_weighted(rows))))


def train(args: argparse.Namespace) -> Path:
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    torch.set_num_threads(args.threads)
    root = Path(args.data_root) / "h36m"
    lifter = load_model(args.lifter)
    train_pairs = lifter_outputs(lifter, root, H36M_TRAIN_SUBJECTS, args.cameras, args.inputs)
    padded = [pad(p, args.window, args.bidirectional) for p, _ in train_pairs]
    inputs, targets = np.concatenate(padded), np.concatenate([t for _, t in train_pairs])
    # Start of each sample's window in ``inputs``: its frame index plus its sequence's offset there;
    # ``first``: the index of each sample's sequence's first frame in ``targets``.
    offsets = np.cumsum([0] + [len(x) for x in padded[:-1]])
    first_frames = np.cumsum([0] + [len(p) for p, _ in train_pairs[:-1]])
    starts = np.concatenate([o + np.arange(len(p)) for o, (p, _) in zip(offsets, train_pairs)])
    first = np.concatenate([np.full(len(p), f) for f, (p, _) in zip(first_frames, train_pairs)])
    inputs_t, targets_t = torch.from_numpy(inputs), torch.from_numpy(targets)
    model = (BidirectionalRefiner if args.bidirectional else CausalRefiner)(args.window, args.hidden,
                                                                            H36M17.num_joints)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    span = torch.arange(args.window + 1)
    start, step, losses = time.time(), 0, []
    model.train()
    while time.time() - start < 60 * args.minutes:
        idx = rng.integers(0, len(starts), args.batch_size)
        idx = np.maximum(idx, first[idx] + 1)  # a previous frame in the same sequence
        x = inputs_t[torch.from_numpy(starts[idx] - 1)[:, None] + span]
        current, previous = model(x[:, 1:]), model(x[:, :-1])
        target, target_prev = targets_t[idx], targets_t[idx - 1]
        loss = torch.linalg.norm(current - target, dim=-1).mean() + args.velocity_weight * torch.linalg.norm(
            (current - previous) - (target - target_prev), dim=-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        step += 1
        if step % 500 == 0:
            print(f"step {step}: train loss {1000 * np.mean(losses[-500:]):.2f} mm", flush=True)
    seconds = time.time() - start
    test = {f"h36m_s9_s11_{inputs}_frame_weighted": evaluate(
        model, lifter_outputs(lifter, root, H36M_TEST_SUBJECTS, 4, inputs)) for inputs in ("gt", "sh")}
    print(test)
    card = LifterCard(
        name=Path(args.output).name, architecture="bi_tpnet_refiner" if args.bidirectional else "tpnet_refiner",
        hyperparameters={"window": args.window, "hidden": args.hidden, "num_joints": H36M17.num_joints},
        layout=H36M17.name, receptive_field=args.window, causal=not args.bidirectional,
        input_normalization="root_relative_3d",
        output=(f"refined root-relative joints of the window's {'centre' if args.bidirectional else 'newest'} "
                "frame, metres, camera frame"),
        lifter=Path(args.lifter).name, lifter_sha256=lifter.card.sha256,
        training={"dataset": "Human3.6M", "subjects": list(H36M_TRAIN_SUBJECTS), "cameras": args.cameras,
                  "inputs": args.inputs,
                  "steps": step, "batch_size": args.batch_size, "lr": args.lr, "seconds": round(seconds),
                  "velocity_weight": args.velocity_weight,
                  "final_train_loss_mm": 1000 * float(np.mean(losses[-500:]))},
        metrics=dict(test, note=H36M_MISSING_NOTE),
    )
    return save_model(model, args.output, card)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lifter", default="models/lifter_articulated.json")
    parser.add_argument("--output", default="models/refiner_tpnet")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--window", type=int, default=16, help="poses per sample (odd with --bidirectional)")
    parser.add_argument("--bidirectional", action="store_true",
                        help="Bi-TP-Net: refine the centre of a window of past and future poses (offline)")
    parser.add_argument("--inputs", choices=["gt", "sh"], default="gt",
                        help="2D the lifter is run on to make the training inputs: ground truth or detections")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--cameras", type=int, default=2, help="cameras per training subject")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--velocity-weight", type=float, default=2.0)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=1)
    print(f"refiner card written to {train(parser.parse_args(argv))}")


if __name__ == "__main__":
    main()
