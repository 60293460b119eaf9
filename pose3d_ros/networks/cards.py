"""The one model loader: safetensors weights plus a JSON model card. Nothing is unpickled.

A model card (``<name>.json``, :class:`LifterCard`) describes everything needed to rebuild and
feed a lifter or a refiner:

- ``architecture`` and ``hyperparameters``: passed to :func:`pose3d_ros.networks.build_model`
- ``layout``: the joint layout of input and output (``h36m17``)
- ``receptive_field`` and ``causal``
- ``input_normalization``: ``intrinsics`` ((u - c) / f), ``level`` ((u - c) / f turned to the
  camera's level frame, y along gravity: inputs and outputs, geometry.levelling_rotation),
  ``screen`` (VideoPose3D) or, for refiners, ``root_relative_3d`` (a lifter's outputs)
- ``weights`` (file name next to the card) and ``sha256`` of that file
- ``training``, ``metrics`` and ``reference``: provenance, measured and published accuracy
- refiners: ``lifter`` and ``lifter_sha256``, the lifter whose outputs they were trained on
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..skeleton import get_layout
from . import ARCHITECTURES, build_model

CARD_FORMAT = "pose3d_ros/model-card/1"
INPUT_NORMALIZATIONS = ("intrinsics", "level", "screen", "root_relative_3d")


class ModelLoadError(RuntimeError):
    """A model file is missing, corrupt or inconsistent with its card."""


@dataclass(frozen=True)
class LifterCard:
    """A model card. :func:`save_model` fills in ``weights``, ``sha256`` and ``parameters``."""

    architecture: str  # a name of pose3d_ros.networks.ARCHITECTURES
    hyperparameters: dict  # its constructor arguments
    layout: str  # a pose3d_ros.skeleton layout name
    receptive_field: int  # input frames per output frame (the window of sequence models)
    causal: bool
    input_normalization: str  # one of INPUT_NORMALIZATIONS
    weights: str = ""  # the safetensors file beside the card
    sha256: str = ""  # of the weights file
    format: str = CARD_FORMAT
    parameters: int | None = None
    name: str | None = None
    output: str | None = None  # what the network returns, in words
    sequence_window: int | None = None  # sequence-to-sequence models: frames in and out per pass
    training: dict = field(default_factory=dict)  # data, config, history, hardware
    metrics: dict = field(default_factory=dict)  # per test split, and a note
    reference: dict | None = None  # the paper's numbers
    lifter: str | None = None  # refiners: the lifter card they refine
    lifter_sha256: str | None = None  # refiners: that lifter's weights

    def __post_init__(self) -> None:
        if self.format != CARD_FORMAT:
            raise ValueError(f"format is {self.format!r}, not {CARD_FORMAT!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; known: {sorted(ARCHITECTURES)}")
        if not isinstance(self.hyperparameters, dict):
            raise ValueError(f"hyperparameters must be a mapping, not {self.hyperparameters!r}")
        get_layout(self.layout)  # raises naming the known layouts
        if isinstance(self.receptive_field, bool) or not isinstance(self.receptive_field, int) \
                or self.receptive_field < 1:
            raise ValueError(f"receptive_field must be a positive number of frames, not {self.receptive_field!r}")
        if not isinstance(self.causal, bool):
            raise ValueError(f"causal must be true or false, not {self.causal!r}")
        if self.input_normalization not in INPUT_NORMALIZATIONS:
            raise ValueError(f"input_normalization must be one of {INPUT_NORMALIZATIONS}, "
                             f"not {self.input_normalization!r}")

    @classmethod
    def from_dict(cls, fields: dict, source: str | Path = "<card>") -> LifterCard:
        """Check a card's JSON fields; errors name ``source`` (the card's file)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ModelLoadError(f"model card {source} has unknown fields {unknown}")
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in fields
                   and (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                        or f.name in ("weights", "sha256"))]
        if missing:
            raise ModelLoadError(f"model card {source} lacks {missing}")
        try:
            return cls(**fields)
        except ValueError as exc:
            raise ModelLoadError(f"model card {source}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> LifterCard:
        """Read and check the card at ``path`` (the card, its weights or their common stem)."""
        cpath = card_path(path)
        if not cpath.is_file():
            raise ModelLoadError(f"model card not found: {cpath}")
        try:
            fields = json.loads(cpath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"model card {cpath} is not valid JSON: {exc}") from exc
        if not isinstance(fields, dict):
            raise ModelLoadError(f"model card {cpath} is not a JSON object")
        return cls.from_dict(fields, cpath)

    def to_dict(self) -> dict:
        """The card's JSON fields; those that are None or empty are left out."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None and v != {}}

    def save(self, path: str | Path) -> Path:
        """Write the card as JSON (sorted keys) to ``<stem>.json``; returns its path."""
        cpath = card_path(path)
        cpath.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return cpath


@dataclass
class LoadedModel:
    model: torch.nn.Module
    card: LifterCard
    path: Path

    @property
    def receptive_field(self) -> int:
        return self.card.receptive_field

    @property
    def causal(self) -> bool:
        return self.card.causal


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def card_path(path: str | Path) -> Path:
    """Accept the card, the weights or the common stem and return the card's path."""
    path = Path(path)
    return path if path.suffix == ".json" else path.with_suffix(".json")


def save_model(model: torch.nn.Module, path: str | Path, card: LifterCard, half: bool = False) -> Path:
    """Write ``<stem>.safetensors`` and ``<stem>.json``; returns the card's path."""
    cpath = card_path(path)
    wpath = cpath.with_suffix(".safetensors")
    cpath.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
             for k, v in model.state_dict().items()}
    save_file(state, str(wpath))
    card = dataclasses.replace(card, weights=wpath.name, sha256=_sha256(wpath),
                               parameters=sum(p.numel() for p in model.parameters()))
    return card.save(cpath)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a lifter from its card; raises ModelLoadError naming the offending file."""
    cpath = card_path(path)
    card = LifterCard.load(cpath)
    wpath = cpath.parent / card.weights
    if not wpath.is_file():
        raise ModelLoadError(f"weights file not found: {wpath} (named by {cpath})")
    if _sha256(wpath) != card.sha256:
        raise ModelLoadError(f"weights file {wpath} is corrupt: its sha256 differs from {cpath}")
    try:
        model = build_model(card.architecture, card.hyperparameters)
        state = load_file(str(wpath))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (ValueError, RuntimeError, TypeError, KeyError, SafetensorError) as exc:
        raise ModelLoadError(f"cannot load {wpath} as described by {cpath}: {exc}") from exc
    model.eval().to(device)
    return LoadedModel(model, card, cpath)
