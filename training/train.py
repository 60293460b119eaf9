"""Train a lifter from a YAML config: ``pose3d-train --config training/configs/X.yaml``.

Chunked sequence training (one forward pass of a dilated network yields ``chunk`` outputs
per sample) on tensors kept on the device, flip, 2D-scale, 2D-noise and joint-dropout
augmentation (``model.in_features: 3`` adds a confidence channel that marks dropped joints), AMP on GPU,
several GPUs with ``torchrun --nproc_per_node N -m training.train ...``, a per-epoch
resumable checkpoint (safetensors, no pickle) and CSV log, and at the end an evaluation on
the test split written into the exported model card.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from pose3d_ros.lifting.inputs import choose_device, lifter_input
from pose3d_ros.metrics import trunk_lean_deg
from pose3d_ros.networks import build_model
from pose3d_ros.networks.cards import LifterCard, save_model
from pose3d_ros.networks.tcn import set_bn_momentum
from pose3d_ros.skeleton import SkeletonLayout

from .augmentation import TrainingBatch, augment, reboned_frames
from .config import TrainConfig, TrainingConfig, load_config
from .data import H36M_MISSING_NOTE, input_normalization, load_split, model_inputs, root_relative
from .evaluate import evaluate, evaluate_trajectory
from .generators import ChunkedDataset
from .losses import Objective, bone_lengths, build_objective, mpjpe

TEST_SPLITS = {"h36m": "h36m_s9_s11", "humaneva": "humaneva_validate", "3dhp": "3dhp_test"}


def _hardware(device: torch.device, world: int) -> str:
    if device.type == "cuda":
        return f"{world} x {torch.cuda.get_device_name(device)}"
    return f"{world} x {torch.get_num_threads()} CPU threads"


def build_from_config(cfg: TrainingConfig) -> tuple[torch.nn.Module, dict]:
    """The network and its model-card hyper-parameters from the config's ``model`` section."""
    hyper = cfg.model.hyperparameters(cfg.layout)
    return build_model(cfg.model.architecture, hyper), hyper


def _write_csv(path: Path, history: list[dict]) -> None:
    fields = list(dict.fromkeys(k for row in history for k in row))  # rows of older checkpoints may lack some
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)


def _save_state(path: Path, model, optimizer, epoch: int, history: list) -> None:
    tensors = {f"model.{k}": v.contiguous() for k, v in model.state_dict().items()}
    for pid, st in optimizer.state_dict()["state"].items():
        for name, value in st.items():
            tensors[f"opt.{pid}.{name}"] = torch.as_tensor(value).contiguous()
    save_file(tensors, str(path.with_suffix(".safetensors")))
    meta = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "history": history}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))


def _load_state(path: Path, model, optimizer) -> tuple[int, list]:
    tensors = load_file(str(path.with_suffix(".safetensors")))
    meta = json.loads(path.with_suffix(".json").read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state = optimizer.state_dict()
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            state["state"].setdefault(int(pid), {})[name] = value
    for group in state["param_groups"]:
        group["lr"] = meta["lr"]
    optimizer.load_state_dict(state)
    return meta["epoch"], meta["history"]


def _distributed() -> tuple[int, int]:
    """(rank, world size); under torchrun this joins the process group (NCCL on GPU, else gloo)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _device(name: str) -> torch.device:
    """The configured device (auto, cpu or cuda: pose3d_ros.lifting.inputs.choose_device); under
    torchrun, this process's GPU."""
    name = choose_device(name)
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def _float(part):
    return [p.float() for p in part] if isinstance(part, (list, tuple)) else part.float()


@dataclass
class StepState:
    """What every optimisation step uses besides its batch."""

    model: torch.nn.Module  # DDP-wrapped when distributed
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    objective: Objective
    parts: bool  # the model returns named outputs ("parts") for the objective

    def step(self, batch: TrainingBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """One forward and backward pass and update; returns the loss and the predicted poses, detached."""
        kwargs = batch.model_inputs()
        with torch.autocast(batch.inputs.device.type, dtype=torch.float16, enabled=self.scaler.is_enabled()):
            out = (self.model(batch.inputs, return_parts=True, **kwargs) if self.parts
                   else {"pose": self.model(batch.inputs, **kwargs)})
        out = {k: _float(v) for k, v in out.items()}
        loss, _ = self.objective(out, batch.for_losses())
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach(), out["pose"].detach()


@dataclass
class EpochData:
    """Where an epoch's batches come from."""

    data: ChunkedDataset
    layout: SkeletonLayout
    causal: bool
    context_frames: int = 0  # frames the model also takes from each chunk's sequence (anatomy-aware)
    augmented: ChunkedDataset | None = None  # re-boned frames (Chen's AUG), as many per chunk
    level: bool = False  # the views are turned level: virtual views come back to the level frame

    def batches(self, t: TrainConfig, rng: np.random.Generator, rank: int, world: int, steps: int):
        """This rank's ``steps`` augmented batches of one pass over the chunks."""
        data = self.data
        for step, (inputs, targets, idx) in enumerate(data.batches(t.batch_size, rng, rank, world, return_index=True)):
            if step == steps:  # every rank takes the same number of steps
                break
            batch = TrainingBatch(inputs, targets, data.absolute(idx) if data.roots is not None else None)
            if data.points is not None:
                batch.windows_3d, batch.output_offset = data.windows(idx), data.pad_left
                batch.level = self.level
            if self.context_frames:
                batch.context, batch.context_targets = data.context(idx, self.context_frames, self.causal, rng)
            if self.augmented is not None:  # clean re-projected 2D, as in the paper
                pick = rng.integers(len(self.augmented), size=len(inputs))
                batch.augmented_context, batch.augmented_targets = self.augmented.context(
                    pick, self.context_frames, False, rng)
            yield augment(batch, t, self.layout)


def _epoch(state: StepState, source: EpochData, t: TrainConfig, rng: np.random.Generator, rank: int,
           world: int) -> tuple[float, float, int]:
    """One pass over this rank's share of the chunks; returns (summed loss x frames, summed
    MPJPE x frames, frames) over all ranks."""
    total = torch.zeros(3, dtype=torch.float64, device=source.data.inputs.device)
    steps = max(1, len(source.data) // (t.batch_size * world))
    bar = tqdm(total=steps, disable=rank != 0 or not sys.stderr.isatty(), leave=False, unit="step")
    for batch in source.batches(t, rng, rank, world, steps):
        loss, pose = state.step(batch)
        n = batch.targets.shape[0] * batch.targets.shape[1]
        total += torch.stack([loss.double() * n, mpjpe(pose, batch.targets).double() * n,
                              torch.tensor(n, dtype=torch.float64, device=total.device)])
        bar.update()
    bar.close()
    if world > 1:
        dist.all_reduce(total)
    return float(total[0]), float(total[1]), int(total[2])


def train(cfg: TrainingConfig, resume: bool = True) -> Path | None:
    """Run training; returns the exported model card's path (None on ranks other than 0)."""
    t, dataset, layout = cfg.train, cfg.data.dataset, cfg.layout
    rank, world = _distributed()
    torch.manual_seed(t.seed)
    rng = np.random.default_rng(t.seed)  # the same on every rank: ranks split one order
    if t.threads is not None:
        torch.set_num_threads(t.threads)
    device = _device(t.device)
    train_seqs = load_split(cfg.data, "train")
    model, hyper = build_from_config(cfg)
    rf, causal = model.receptive_field, model.causal
    window = getattr(model, "sequence_window", None)  # sequence to sequence: chunks are its windows
    if not window and t.chunk is None:
        raise ValueError(f"{cfg.source}: train.chunk is needed for {cfg.model.architecture} (no sequence window)")
    context_frames = getattr(model, "context_frames", 0) if getattr(model, "needs_context", False) else 0
    trajectory = cfg.model.target == "trajectory"
    targets = [s.positions_3d[:, :1] if trajectory else root_relative(s.positions_3d) for s in train_seqs]
    needs_3d = t.uses_2d_losses
    if needs_3d and input_normalization(train_seqs[0]) not in ("intrinsics", "level"):
        raise ValueError("the projection and temporal_2d losses need camera intrinsics (focal-normalised inputs)")
    roots = [s.positions_3d[:, :1] for s in train_seqs] if needs_3d else None
    if t.joint_dropout > 0 and cfg.model.in_features != 3:
        raise ValueError("joint_dropout needs a confidence channel (model.in_features: 3) to mark dropped joints")
    inputs = [lifter_input(model_inputs(s), None, cfg.model.in_features) for s in train_seqs]
    if t.virtual_cameras is not None and (trajectory or context_frames or needs_3d):
        raise ValueError(f"{cfg.source}: virtual_cameras need a lifter of root-relative poses without "
                         "sequence context or 2D losses")
    points = [s.positions_3d for s in train_seqs] if t.virtual_cameras is not None else None
    data = ChunkedDataset(inputs, targets, 1 if window else rf, causal, window or t.chunk, roots, points).to(device)
    if t.oversample_bends > 1 and not trajectory:
        data.oversample(trunk_lean_deg(np.concatenate(targets), layout) > t.bend_deg, t.oversample_bends)
    reference_lengths = None
    if "bone_ratio" in t.losses:
        reference_lengths = bone_lengths(data.targets, layout).mean(dim=0).cpu()
    objective = build_objective(t.losses, layout, trajectory, reference_lengths)
    augmentation = t.bone_length_augmentation
    if augmentation and not context_frames:
        raise ValueError("bone_length_augmentation needs a model with a bone-length network (anatomy_aware)")
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr, amsgrad=True)
    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda" and t.amp)
    out_dir = Path(cfg.output.dir) / cfg.name
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path = out_dir / "last"
    epoch, history = 0, []
    if resume and state_path.with_suffix(".json").is_file():
        epoch, history = _load_state(state_path, model, optimizer)
        print(f"resumed {cfg.name} at epoch {epoch}")
    trained = DDP(model, device_ids=[device.index] if device.type == "cuda" else None) if world > 1 else model
    state = StepState(trained, optimizer, scaler, objective, getattr(model, "has_parts", False))
    source = EpochData(data, layout, causal, context_frames, level=cfg.data.level)
    epochs = t.epochs
    while epoch < epochs:
        model.train()
        set_bn_momentum(model, 0.1 * (0.001 / 0.1) ** (epoch / max(epochs - 1, 1)))
        start = time.time()
        if augmentation:
            source.augmented = reboned_frames(train_seqs, rng, augmentation, device)
        total, error, frames = _epoch(state, source, t, rng, rank, world)
        epoch += 1
        seconds = time.time() - start
        history.append({"epoch": epoch, "train_mpjpe_mm": 1000 * error / frames, "train_loss": total / frames,
                        "seconds": seconds, "frames_per_s": frames / seconds, "lr": optimizer.param_groups[0]["lr"]})
        for group in optimizer.param_groups:
            group["lr"] *= t.lr_decay
        if rank == 0:
            print(json.dumps(history[-1]), flush=True)
            _save_state(state_path, model, optimizer, epoch, history)
            _write_csv(out_dir / "log.csv", history)
    if world > 1:  # leave the group together before rank 0 evaluates and exports alone
        del trained, state  # the DDP reducer holds gloo work: release it before the group goes
        dist.barrier()
        dist.destroy_process_group()
    if rank != 0:
        return None
    model.cpu()
    test = load_split(cfg.data, "test")
    if trajectory:
        metrics = evaluate_trajectory(model, test, rf, causal)
        print(f"{cfg.name}: root position error {metrics['root_error_mm']:.1f} mm on the {dataset} test split")
    else:
        metrics = evaluate(model, test, rf, causal)
        print(f"{cfg.name}: P1 {metrics['p1_mm']:.1f} mm, P2 {metrics['p2_mm']:.1f} mm on the {dataset} test split")
    card = LifterCard(
        name=cfg.name, architecture=cfg.model.architecture,
        hyperparameters=hyper, layout=layout.name, receptive_field=rf, causal=causal,
        sequence_window=window,
        input_normalization=input_normalization(train_seqs[0]),
        output=("root position (trajectory), metres, camera frame" if trajectory
                else "root-relative joints, metres, camera frame"),
        training={"dataset": dataset, "data": cfg.raw["data"], "config": cfg.raw["train"], "history": history,
                  "inputs": cfg.data.inputs, "hardware": _hardware(device, world)},
        metrics={TEST_SPLITS[dataset]: metrics, "note": H36M_MISSING_NOTE if dataset == "h36m" else ""},
        reference=cfg.raw.get("reference"),
    )
    return save_model(model, cfg.output.export, card, half=cfg.output.half)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="training/configs/<name>.yaml")
    parser.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    args = parser.parse_args(argv)
    path = train(load_config(args.config), resume=not args.no_resume)
    if path is not None:
        print(f"model card written to {path}")


if __name__ == "__main__":
    main()
