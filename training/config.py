"""Typed training configs: a ``training/configs/**/*.yaml`` file read into dataclasses.

Every key a config may hold, and its default, is declared here once. A key that no section
declares is refused with an error naming the key and the file, so a misspelt key is never
silently ignored. The ``model`` section also holds its architecture's constructor arguments:
those are checked against that constructor's signature.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pose3d_ros.lifting.inputs import choose_device
from pose3d_ros.networks import ARCHITECTURES
from pose3d_ros.networks.articulated import hard_joint_indices
from pose3d_ros.networks.tcn import filter_widths_for
from pose3d_ros.skeleton import SkeletonLayout

from .data import DATASET_FORMATS, DATASET_LAYOUTS, H36M_TRAIN_SUBJECTS, HUMANEVA_ACTIONS
from .losses import loss_options
from .virtual_camera import VirtualCameraSpec


class ConfigError(ValueError):
    """A training config that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class DataConfig:
    """``data``: the dataset, where it is and which 2D inputs (:func:`training.data.load_split`)."""

    root: str  # the folder holding the dataset's files
    dataset: str = "h36m"  # h36m, humaneva or 3dhp (DATASET_LAYOUTS)
    format: str | None = None  # the files' format (DATASET_FORMATS, training.formats); None: the dataset's usual
    inputs: str | tuple[str, ...] = "gt"  # several kinds: the training split has each, the test split the first
    frame_step: int = 1  # every n-th frame of the training split
    train_subjects: tuple[str, ...] = H36M_TRAIN_SUBJECTS
    actions: tuple[str, ...] = HUMANEVA_ACTIONS  # HumanEva-I actions of both splits
    cameras: str | None = None  # videopose3d and martinez formats: the camera file, if not the usual one in root
    level: bool = False  # Human3.6M's views turned to level cameras (gravity-levelled lifters, data.h36m_view)

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_LAYOUTS:
            raise ValueError(f"unknown dataset {self.dataset!r}; known: {sorted(DATASET_LAYOUTS)}")
        if self.file_format not in DATASET_FORMATS[self.dataset]:
            raise ValueError(f"{self.dataset} is read in the formats {list(DATASET_FORMATS[self.dataset])}, "
                             f"not {self.format!r}")
        if self.file_format in ("compact", "p-stmo") and self.dataset != "h36m" and self.kinds != ("gt",):
            raise ValueError(f"{self.dataset} in the {self.file_format} format has ground-truth 2D inputs only")
        if self.level and (self.dataset, self.file_format) != ("h36m", "compact"):
            raise ValueError("level needs the cameras' orientations: Human3.6M in the compact format only")

    @property
    def file_format(self) -> str:
        """``format``, or the dataset's usual one."""
        return self.format or DATASET_FORMATS[self.dataset][0]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of 2D input, the test split's first."""
        return (self.inputs,) if isinstance(self.inputs, str) else self.inputs

    @property
    def layout(self) -> SkeletonLayout:
        return DATASET_LAYOUTS[self.dataset]


@dataclass(frozen=True)
class ModelConfig:
    """``model``: the architecture, what it predicts, and its constructor arguments."""

    architecture: str = "temporal_conv"  # a name of pose3d_ros.networks.ARCHITECTURES
    target: str = "pose"  # pose (root-relative joints) or trajectory (the root's camera-frame position)
    receptive_field: int | None = None  # frames: the filter widths of temporal convolutions
    in_features: int = 2  # 3: a confidence channel [u, v, seen] per joint
    arguments: dict = field(default_factory=dict)  # every other key: a constructor argument

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; known: {sorted(ARCHITECTURES)}")
        if self.target not in ("pose", "trajectory"):
            raise ValueError(f"target must be pose or trajectory, not {self.target!r}")
        params = self._parameters()
        if self.receptive_field is not None and "filter_widths" not in params:
            raise ValueError(f"{self.architecture} takes no receptive_field (it has no temporal convolutions)")
        for name in self.arguments:
            if name not in params or name in ("num_joints_in", "num_joints_out", "filter_widths"):
                raise ValueError(f"unknown key {name!r}: not an argument of {self.architecture} "
                                 f"(it takes {sorted(set(params) - {'num_joints_in', 'num_joints_out'})})")

    def _parameters(self) -> dict:
        return dict(inspect.signature(ARCHITECTURES[self.architecture]).parameters)

    def hyperparameters(self, layout: SkeletonLayout) -> dict:
        """The constructor arguments for data in ``layout``, as the model card records them: the
        configured ones, the filter widths of the receptive field, and the layout's parents,
        joint names and hard joints where the architecture takes them and the config does not say."""
        joints_out = 1 if self.target == "trajectory" else layout.num_joints
        hyper = dict(num_joints_in=layout.num_joints, in_features=self.in_features, num_joints_out=joints_out)
        hyper.update(self.arguments)
        if self.receptive_field is not None:
            hyper["filter_widths"] = list(filter_widths_for(self.receptive_field))
        params = self._parameters()
        for name, value in (("parents", list(layout.parents)), ("joint_names", list(layout.joint_names)),
                            ("hard_joints", hard_joint_indices(layout))):
            if name in params:
                hyper.setdefault(name, value)
        return hyper


@dataclass(frozen=True)
class BoneLengthAugmentation:
    """``train.bone_length_augmentation``: Chen et al.'s AUG (training.augmentation.bone_length_variant)."""

    scale_range: tuple[float, float] = (0.8, 1.2)  # each bone's mean length times a factor from this range


@dataclass(frozen=True)
class TrainConfig:
    """``train``: optimisation, augmentation and losses (:func:`training.train.train`)."""

    epochs: int
    batch_size: int  # chunks (or windows) per step, over all processes
    lr: float
    chunk: int | None = None  # output frames per sample; needed unless the model has a sequence window
    lr_decay: float = 0.95  # learning rate factor per epoch
    seed: int = 1
    threads: int | None = None  # torch CPU threads (None: torch's default)
    device: str = "auto"  # auto, cpu or cuda (pose3d_ros.lifting.inputs.choose_device)
    amp: bool = True  # mixed precision on GPU
    flip: bool = True  # horizontal flip of half the samples
    noise_std: float = 0.0  # Gaussian 2D noise, in normalised units
    scale_range: tuple[float, float] | None = None  # 2D scale factor range (nearer or farther people)
    scale_about: str = "centre"  # the image centre, or each frame's root (root: the person's ray kept; no 2D losses)
    joint_dropout: float = 0.0  # probability that a joint of a frame is unseen (needs model.in_features: 3)
    # Chunks with a trunk leaning more than bend_deg from the camera's vertical (gravity for levelled
    # data) drawn oversample_bends times per epoch: against regression to the mean on bent poses.
    oversample_bends: int = 1
    bend_deg: float = 15.0
    bone_length_augmentation: BoneLengthAugmentation | None = None
    virtual_cameras: VirtualCameraSpec | None = None  # training.virtual_camera; not with context or 2D losses
    losses: dict = field(default_factory=dict)  # {name: weight} or {name: {weight: w, option: ...}}; none: MPJPE

    def __post_init__(self) -> None:
        choose_device(self.device)  # raises naming the known devices
        for name, value in self.losses.items():
            loss_options(name, value)
        if self.scale_range is not None and (len(self.scale_range) != 2 or min(self.scale_range) <= 0):
            raise ValueError(f"scale_range must be two positive factors, not {self.scale_range}")
        if self.scale_about not in ("centre", "root"):
            raise ValueError(f"scale_about must be centre or root, not {self.scale_about!r}")
        if self.scale_about == "root" and self.uses_2d_losses:
            raise ValueError("scale_about: root moves the 2D off the targets' projection: no 2D losses with it")
        if self.oversample_bends < 1 or not 0.0 < self.bend_deg < 180.0:
            raise ValueError("oversample_bends must be at least 1 and bend_deg in (0, 180)")
        if not 0.0 <= self.joint_dropout < 1.0:
            raise ValueError(f"joint_dropout must be in [0, 1), not {self.joint_dropout}")

    @property
    def uses_2d_losses(self) -> bool:
        """Whether a loss compares the output with the true 2D (projection, temporal_2d)."""
        return bool({"projection", "temporal_2d"} & set(self.losses))


@dataclass(frozen=True)
class OutputConfig:
    """``output``: where checkpoints and the exported model go."""

    dir: str  # checkpoints and the CSV log in <dir>/<name>/
    export: str  # the model card (and weights) path, without suffix
    half: bool = False  # export fp16 weights


@dataclass(frozen=True)
class Reference:
    """``reference``: the paper's numbers for this config (training/RESULTS.md's paper tables)."""

    source: str  # the publication and table
    inputs: str | None = None  # the paper's 2D input (gt, cpn, sh, ...)
    p1_mm: float | None = None
    p2_mm: float | None = None
    mpjve_mm: float | None = None
    note: str | None = None
    structure: dict | None = None  # e.g. limb_rmse_mm
    actions: dict = field(default_factory=dict)  # per action (and subject): {p1_mm, p2_mm}


@dataclass(frozen=True)
class TrainingConfig:
    """One training config: its sections typed, the file it came from and the mapping as written
    (which the model card records)."""

    name: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    output: OutputConfig
    reference: Reference | None = None
    source: str = "<config>"
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, raw: dict, source: str = "<config>") -> TrainingConfig:
        """Check and type a config mapping; ``source`` (its file) is named in every error."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: a training config is a mapping, not {type(raw).__name__}")
        _refuse_unknown(raw, ("name", "data", "model", "train", "output", "reference"), source)
        if not isinstance(raw.get("name"), str):
            raise ConfigError(f"{source}: needs a name (a string)")
        model = _mapping(raw.get("model"), f"{source}: model")
        typed = {f.name for f in dataclasses.fields(ModelConfig) if f.name != "arguments"}
        model = dict({k: v for k, v in model.items() if k in typed},
                     arguments={k: v for k, v in model.items() if k not in typed})
        train = _mapping(raw.get("train"), f"{source}: train")
        if train.get("bone_length_augmentation") is not None:
            train = dict(train, bone_length_augmentation=_section(
                BoneLengthAugmentation, train["bone_length_augmentation"], f"{source}: train.bone_length_augmentation"))
        if train.get("virtual_cameras") is not None:
            train = dict(train, virtual_cameras=_section(
                VirtualCameraSpec, train["virtual_cameras"], f"{source}: train.virtual_cameras"))
        reference = raw.get("reference")
        return cls(raw["name"], _section(DataConfig, raw.get("data"), f"{source}: data"),
                   _section(ModelConfig, model, f"{source}: model"),
                   _section(TrainConfig, train, f"{source}: train"),
                   _section(OutputConfig, raw.get("output"), f"{source}: output"),
                   None if reference is None else _section(Reference, reference, f"{source}: reference"),
                   source, raw)

    @property
    def layout(self) -> SkeletonLayout:
        return self.data.layout


def load_config(path: str | Path) -> TrainingConfig:
    """Read and check a training config file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return TrainingConfig.from_dict(raw, str(path))


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping, not {type(value).__name__}")
    return value


def _refuse_unknown(mapping: dict, known, where: str) -> None:
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: {sorted(known)}")


_TYPES = {"int": int, "float": (int, float), "bool": bool, "str": str, "dict": dict, "tuple": tuple,
          "None": type(None)}


def _fits(value, annotation: str) -> bool:
    """Whether ``value`` is of the annotated type (a section's own dataclasses count as fitting)."""
    for option in annotation.split("|"):
        base = option.strip().split("[")[0]
        if base not in _TYPES:
            return True
        if isinstance(value, _TYPES[base]) and not (isinstance(value, bool) and base in ("int", "float")):
            return True
    return False


def _section(cls, value, where: str):
    """The dataclass ``cls`` from a config mapping: unknown and missing keys and wrong types refused,
    lists read as tuples."""
    mapping = _mapping(value, where)
    fields = dataclasses.fields(cls)
    _refuse_unknown(mapping, [f.name for f in fields], where)
    missing = [f.name for f in fields if f.name not in mapping
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in mapping.items()}
    for f in fields:
        if f.name in values and not _fits(values[f.name], f.type):
            raise ConfigError(f"{where}: {f.name} must be {f.type}, not {values[f.name]!r}")
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
