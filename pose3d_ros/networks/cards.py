"""The one model loader: safetensors weights plus a JSON model card. Nothing is unpickled.

A model card (``<name>.json``) describes everything needed to rebuild and feed the network:

- ``architecture`` and ``hyperparameters``: passed to :func:`pose3d_ros.networks.build_model`
- ``layout``: the joint layout of input and output (``h36m17``)
- ``receptive_field`` and ``causal``
- ``input_normalization``: ``intrinsics`` ((u - c) / f) or ``screen`` (VideoPose3D)
- ``weights`` (file name next to the card) and ``sha256`` of that file
- ``training`` and ``metrics``: provenance and measured accuracy
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import build_model

CARD_FORMAT = "pose3d_ros/model-card/1"


class ModelLoadError(RuntimeError):
    """A model file is missing, corrupt or inconsistent with its card."""


@dataclass
class LoadedModel:
    model: torch.nn.Module
    card: dict
    path: Path

    @property
    def receptive_field(self) -> int:
        return int(self.card["receptive_field"])

    @property
    def causal(self) -> bool:
        return bool(self.card["causal"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def card_path(path: str | Path) -> Path:
    """Accept the card, the weights or the common stem and return the card's path."""
    path = Path(path)
    return path if path.suffix == ".json" else path.with_suffix(".json")


def save_model(model: torch.nn.Module, path: str | Path, card: dict, half: bool = False) -> Path:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; returns the card's path."""
    cpath = card_path(path)
    wpath = cpath.with_suffix(".safetensors")
    cpath.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
             for k, v in model.state_dict().items()}
    save_file(state, str(wpath))
    card = dict(card, format=CARD_FORMAT, weights=wpath.name, sha256=_sha256(wpath),
                parameters=sum(p.numel() for p in model.parameters()))
    cpath.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return cpath


def read_card(path: str | Path) -> dict:
    cpath = card_path(path)
    if not cpath.is_file():
        raise ModelLoadError(f"model card not found: {cpath}")
    try:
        card = json.loads(cpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"model card {cpath} is not valid JSON: {exc}") from exc
    if not isinstance(card, dict):
        raise ModelLoadError(f"model card {cpath} is not a JSON object")
    missing = [k for k in ("architecture", "hyperparameters", "layout", "receptive_field", "causal",
                           "input_normalization", "weights", "sha256") if k not in card]
    if missing:
        raise ModelLoadError(f"model card {cpath} lacks {missing}")
    return card


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a lifter from its card; raises ModelLoadError naming the offending file."""
    cpath = card_path(path)
    card = read_card(cpath)
    wpath = cpath.parent / str(card["weights"])
    if not wpath.is_file():
        raise ModelLoadError(f"weights file not found: {wpath} (named by {cpath})")
    if _sha256(wpath) != card["sha256"]:
        raise ModelLoadError(f"weights file {wpath} is corrupt: its sha256 differs from {cpath}")
    try:
        model = build_model(card["architecture"], card["hyperparameters"])
        state = load_file(str(wpath))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (ValueError, RuntimeError, TypeError, KeyError, SafetensorError) as exc:
        raise ModelLoadError(f"cannot load {wpath} as described by {cpath}: {exc}") from exc
    model.eval().to(device)
    return LoadedModel(model, card, cpath)
