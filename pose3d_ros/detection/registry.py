"""The detector backends by name, and the parameters their constructor arguments come from.

One table for :func:`create_detector`, the keypoint_detector node (which declares every
parameter here) and config/pipeline.yaml (test/nodes/test_package_consistency.py checks that
it lists them all).
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import KeypointDetector


@dataclass(frozen=True)
class Option:
    """A parameter feeding backend constructor arguments: name, default, meaning, and the range
    of a number (inclusive)."""

    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class Backend:
    name: str
    summary: str
    factory: str  # "module:Class", the module in this package
    arguments: tuple[tuple[str, str], ...]  # (constructor argument, option name)

    def load(self) -> type[KeypointDetector]:
        module, cls = self.factory.split(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), cls)


OPTIONS: tuple[Option, ...] = (
    Option("num_poses", 4, "most people per image", (1, 32)),
    Option("detect_every", 10, "run the person detector on the whole image every this many frames while "
                               "fewer than num_poses people are followed (every frame while nobody is); "
                               "0: leave it to the Tasks graph, which re-runs it on every such frame", (0, 10_000)),
    Option("follow_threads", 2, "followed people whose landmark models run at once, each on a thread of its "
                                "own (1: one after the other)", (1, 32)),
    Option("model_complexity", 1, "model complexity; only 1 ships inside the wheel", (0, 2)),
    Option("min_detection_confidence", 0.5, "minimum person detection score", (0.0, 1.0)),
    Option("min_tracking_confidence", 0.5, "minimum landmark score for a tracked person to stay tracked", (0.0, 1.0)),
    Option("model_card", "", "JSON model card of the pose model (format in docs/detector.md)"),
    Option("onnx_threads", 0, "onnxruntime intra-op threads (0: onnxruntime's default)", (0, 1024)),
    Option("replay_file", "", ".npz of recorded keypoints, one frame per image"),
    Option("replay_loop", False, "start again at the first frame after the last"),
    Option("track_min_iou", 0.2, "minimum IoU of a track's predicted box and a person for the person to "
                                 "keep the track's id", (0.0, 1.0)),
    Option("track_max_missed", 10, "frames a track survives without its person", (0, 100_000)),
)
_TRACKING = (("track_min_iou", "track_min_iou"), ("track_max_missed", "track_max_missed"))

BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("mediapipe_tasks", "MediaPipe Tasks BlazePose: several people, offline",
            "mediapipe_tasks_backend:MediaPipeTasksDetector",
            (("num_poses", "num_poses"), ("detect_every", "detect_every"),
             ("min_detection_confidence", "min_detection_confidence"),
             ("min_tracking_confidence", "min_tracking_confidence"), ("follow_threads", "follow_threads"))
            + _TRACKING),
    Backend("mediapipe", "legacy MediaPipe BlazePose: one person, offline", "mediapipe_backend:MediaPipeDetector",
            (("model_complexity", "model_complexity"), ("min_detection_confidence", "min_detection_confidence"),
             ("min_tracking_confidence", "min_tracking_confidence"))),
    Backend("onnx", "an ONNX pose model given by a model card: several people", "onnx_backend:OnnxDetector",
            (("model_card", "model_card"), ("threads", "onnx_threads")) + _TRACKING),
    Backend("replay", "keypoints recorded in a file", "replay_backend:ReplayDetector",
            (("file", "replay_file"), ("loop", "replay_loop")) + _TRACKING),
)}
DEFAULT_BACKEND = "mediapipe_tasks"


def get_backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown detector backend {name!r}; available: {', '.join(BACKENDS)}") from None


def parameters() -> list[Option]:
    """Every option, its description prefixed with the backends that use it."""
    users = {o.name: [b.name for b in BACKENDS.values() if o.name in dict(b.arguments).values()] for o in OPTIONS}
    return [Option(o.name, o.default, f"{', '.join(users[o.name])}: {o.description}", o.range) for o in OPTIONS]


def backend_options(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments of backend ``name`` from parameter values by option name."""
    return {arg: values[option] for arg, option in get_backend(name).arguments}


def parse_options(name: str, texts: Mapping[str, str]) -> dict[str, Any]:
    """Constructor arguments given as text (a command line) -> typed like their options' defaults."""
    types = {arg: type(next(o.default for o in OPTIONS if o.name == option))
             for arg, option in get_backend(name).arguments}
    options = {}
    for arg, text in texts.items():
        if arg not in types:
            raise ValueError(f"backend {name} has no option {arg!r}; its options: {', '.join(types)}")
        if types[arg] is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{arg} must be true or false, not {text!r}")
            options[arg] = text.lower() == "true"
        else:
            options[arg] = types[arg](text)
    return options


def create_detector(name: str, **options) -> KeypointDetector:
    """Build a detector backend by name; options are its constructor's keyword arguments."""
    return get_backend(name).load()(**options)
