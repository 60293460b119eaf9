"""ONNX Runtime backend: a pose model the user supplies, described by a JSON model card.

Top-down models (heatmap or simcc output) see one person crop at a time, from the boxes of
an optional person detector (another card, yolo output) or else the whole image (one
person). Bottom-up models (yolo output, e.g. YOLOv8/11-pose) see the letterboxed image and
find everyone. Track ids come from :class:`~pose3d_ros.tracking.PersonTracker`.
The card format is documented in docs/detector.md.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..skeleton import get_layout
from ..tracking import PersonTracker
from .base import Detection, KeypointDetector, assign_track_ids
from .crops import crop_matrix, letterbox_matrix, to_image, warp
from .decoding import decode_heatmaps, decode_simcc, decode_yolo

KIND_OUTPUTS = {"top_down": ("heatmap", "simcc"), "bottom_up": ("yolo",), "detector": ("yolo",)}


@dataclass(frozen=True)
class ModelCard:
    """What the backend needs to know about an .onnx file (see docs/detector.md)."""

    model: Path
    kind: str
    output: str
    input_size: tuple[int, int]  # width, height
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layout: str | None = None
    channel_order: str = "rgb"
    pad_value: int = 0
    box_padding: float = 1.25
    simcc_split_ratio: float = 2.0
    min_score: float = 0.3
    nms_iou: float = 0.65
    person_detector: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> "ModelCard":
        """Read and check a card; ``model`` and ``person_detector`` are relative to it."""
        path = Path(path)
        fields = json.loads(path.read_text())
        unknown = set(fields) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown model card fields {sorted(unknown)}")
        for name in ("model", "person_detector"):
            if fields.get(name):
                fields[name] = path.parent / fields[name]
        for name in ("input_size", "mean", "std"):
            fields[name] = tuple(fields[name])
        card = cls(**fields)
        if card.output not in KIND_OUTPUTS.get(card.kind, ()):
            raise ValueError(f"{path}: kind {card.kind!r} with output {card.output!r}; "
                             f"supported: {KIND_OUTPUTS}")
        if card.kind != "detector":
            get_layout(card.layout or "")  # raises naming the known layouts
        if card.channel_order not in ("rgb", "bgr"):
            raise ValueError(f"{path}: channel_order must be rgb or bgr, not {card.channel_order!r}")
        return card


class OnnxModel:
    """An inference session fed through an affine map (crop or letterbox) of the image."""

    def __init__(self, card: ModelCard, threads: int = 0) -> None:
        import onnxruntime as ort  # imported here: optional for the other backends

        options = ort.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = threads
        self.card = card
        self.session = ort.InferenceSession(str(card.model), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def run(self, rgb: np.ndarray, matrix: np.ndarray) -> list[np.ndarray]:
        card = self.card
        img = warp(rgb, matrix, card.input_size, card.pad_value).astype(np.float32)
        if card.channel_order == "bgr":
            img = img[..., ::-1]
        img = (img - np.float32(card.mean)) / np.float32(card.std)
        return self.session.run(None, {self.input_name: img.transpose(2, 0, 1)[None]})

    def find_people(self, rgb: np.ndarray, num_keypoints: int) -> tuple[np.ndarray, ...]:
        """yolo output on the letterboxed image -> boxes, scores, keypoints, confidences (image pixels)."""
        matrix = letterbox_matrix((rgb.shape[1], rgb.shape[0]), self.card.input_size)
        boxes, scores, kps, conf = decode_yolo(self.run(rgb, matrix)[0], num_keypoints,
                                               self.card.min_score, self.card.nms_iou)
        boxes = to_image(boxes.reshape(-1, 2, 2), matrix).reshape(-1, 4)
        return boxes, scores, to_image(kps, matrix), conf


class OnnxDetector(KeypointDetector):
    """Several people per image from an ONNX pose model, with tracked ids."""

    def __init__(self, model_card: str | Path, threads: int = 0, track_min_iou: float = 0.2,
                 track_max_missed: int = 10) -> None:
        card = ModelCard.load(model_card)
        if card.kind == "detector":
            raise ValueError(f"{model_card} describes a person detector, not a pose model")
        self.layout = get_layout(card.layout)
        self.model = OnnxModel(card, threads)
        self.person_detector = None
        if card.kind == "top_down" and card.person_detector:
            self.person_detector = OnnxModel(ModelCard.load(card.person_detector), threads)
        self.tracker = PersonTracker(track_min_iou, track_max_missed)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        if self.model.card.kind == "bottom_up":
            _, _, kps, conf = self.model.find_people(rgb, self.layout.num_joints)
            people = list(zip(kps, conf))
        else:
            people = [self._pose_in_box(rgb, box, padding) for box, padding in self._person_boxes(rgb)]
        detections = [Detection.from_source(-1, k, c, self.layout) for k, c in people]
        return assign_track_ids(detections, self.tracker)

    def _person_boxes(self, rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """(box, padding) per person to crop: detected boxes, or the whole image as it is."""
        if self.person_detector is None:
            return [(np.array([0.0, 0.0, rgb.shape[1], rgb.shape[0]]), 1.0)]
        boxes = self.person_detector.find_people(rgb, 0)[0]
        return [(box, self.model.card.box_padding) for box in boxes]

    def _pose_in_box(self, rgb: np.ndarray, box: np.ndarray, padding: float) -> tuple[np.ndarray, np.ndarray]:
        card = self.model.card
        matrix = crop_matrix(box, card.input_size, padding)
        outputs = self.model.run(rgb, matrix)
        if card.output == "heatmap":
            kps, conf = decode_heatmaps(outputs[0], card.input_size)
        else:
            kps, conf = decode_simcc(outputs[0], outputs[1], card.simcc_split_ratio)
        return to_image(kps[0], matrix), conf[0]
