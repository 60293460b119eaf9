"""ONNX backend on tiny models built here: crops, decoders, and the pixel round trip."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from pose3d_ros.detection import create_detector
from pose3d_ros.detection.crops import crop_matrix, letterbox_matrix, to_image, warp
from pose3d_ros.detection.decoding import decode_heatmaps, decode_simcc, decode_yolo
from pose3d_ros.detection.onnx_backend import ModelCard
from pose3d_ros.skeleton import COCO17, H36M17

pytest.importorskip("onnx", reason="torch.onnx.export needs the onnx package (requirements.txt)")

POSE_INPUT = (192, 256)  # width, height
YOLO_INPUT = (320, 320)


class Brightness(torch.nn.Module):
    """Heatmaps (input resolution) that peak where the input is brightest, alike for all 17 joints."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True).repeat(1, 17, 1, 1)


class Constant(torch.nn.Module):
    """The same yolo-style output whatever the image."""

    def __init__(self, out: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("out", torch.tensor(out, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out + 0.0 * x.mean()


def _export(module: torch.nn.Module, input_size: tuple[int, int], path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, torch.zeros(1, 3, input_size[1], input_size[0]), str(path),
                          dynamo=False, input_names=["image"])


def _card(path, **fields) -> str:
    path.write_text(json.dumps(fields))
    return str(path)


def _yolo_rows(people: list[tuple[list[float], float, np.ndarray | None]], extra_rows: int) -> np.ndarray:
    """(1, 5 + extra_rows, A) with one anchor per (cx, cy, w, h), score, keypoints (K, 3) or None."""
    rows = np.zeros((5 + extra_rows, len(people)), np.float32)
    for a, (box, score, kps) in enumerate(people):
        rows[:4, a], rows[4, a] = box, score
        if kps is not None:
            rows[5:, a] = kps.ravel()
    return rows[None]


# Yolo pose anchors, input pixels: two overlapping boxes of one person (NMS keeps the better),
# one below the score threshold, and a second person.
KPS_A = np.stack([np.linspace(100, 180, 17), np.linspace(60, 220, 17), np.full(17, 0.9)], axis=1)
KPS_B = np.stack([np.linspace(230, 300, 17), np.linspace(80, 200, 17), np.linspace(0.2, 1.4, 17)], axis=1)
YOLO_POSE = _yolo_rows([([140, 140, 80, 160], 0.9, KPS_A), ([142, 141, 80, 160], 0.6, KPS_A + 50),
                        ([50, 50, 20, 20], 0.1, KPS_A), ([265, 140, 70, 120], 0.8, KPS_B)], 51)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    _export(Brightness(), POSE_INPUT, d / "bright.onnx")
    _export(Constant(YOLO_POSE), YOLO_INPUT, d / "yolo_pose.onnx")
    # a person detector (two classes) that finds one person, around (cx, cy) = (200, 120) in input pixels
    _export(Constant(_yolo_rows([([200, 120, 60, 90], 0.8, None)], 1)), YOLO_INPUT, d / "person.onnx")
    return d


def _spot_image(x: int, y: int, size=(640, 480)) -> np.ndarray:
    """Black with a bright Gaussian spot (sigma 4 px) centred on pixel (x, y)."""
    u, v = np.meshgrid(np.arange(size[0]), np.arange(size[1]))
    spot = 255 * np.exp(-((u - x) ** 2 + (v - y) ** 2) / (2 * 4.0 ** 2))
    return np.repeat(spot[..., None], 3, axis=2).astype(np.uint8)


def test_crop_matrix_centres_the_padded_box_at_the_input_aspect():
    m = crop_matrix(np.array([100, 100, 140, 200]), (96, 128), padding=1.25)
    # box 40x100, padded 50x125, widened to 3:4 -> 93.75x125: scale 96 / 93.75
    centre = m[:, :2] @ [120, 150] + m[:, 2]
    np.testing.assert_allclose(centre, [48, 64])
    assert m[0, 0] == m[1, 1] == pytest.approx(96 / 93.75)
    pts = np.array([[0.0, 0.0], [96.0, 128.0], [10.0, 70.0]])
    np.testing.assert_allclose(to_image(pts, m) @ m[:, :2].T + m[:, 2], pts, atol=1e-4)


def test_letterbox_pads_evenly_and_warp_fills_outside():
    m = letterbox_matrix((640, 480), (320, 320))
    np.testing.assert_allclose(m, [[0.5, 0, 0], [0, 0.5, 40]])
    out = warp(np.full((480, 640, 3), 200, np.uint8), m, (320, 320), fill=114)
    assert out.shape == (320, 320, 3)
    assert (out[:39] == 114).all() and (out[41:279] == 200).all() and (out[281:] == 114).all()


def test_decode_heatmaps_peak_and_quarter_pixel_shift():
    maps = np.zeros((1, 2, 16, 12), np.float32)
    maps[0, 0, 5, 7] = 0.8  # lone peak: no shift
    maps[0, 1, 10, 3], maps[0, 1, 10, 4], maps[0, 1, 9, 3] = 0.9, 0.5, 0.3  # neighbours right and above
    kps, conf = decode_heatmaps(maps, (48, 64))  # stride 4
    np.testing.assert_allclose(kps[0], [[28, 20], [(3 + 0.25) * 4, (10 - 0.25) * 4]])
    np.testing.assert_allclose(conf[0], [0.8, 0.9])


def test_decode_simcc_bins_per_pixel_and_min_confidence():
    x, y = np.zeros((1, 1, 192), np.float32), np.zeros((1, 1, 256), np.float32)
    x[0, 0, 101], y[0, 0, 40] = 0.7, 1.6
    kps, conf = decode_simcc(x, y, split_ratio=2.0)
    np.testing.assert_allclose(kps[0, 0], [50.5, 20.0])
    assert conf[0, 0] == pytest.approx(0.7)


def test_decode_yolo_threshold_and_nms():
    boxes, scores, kps, conf = decode_yolo(YOLO_POSE, 17, min_score=0.3, nms_iou=0.65)
    np.testing.assert_allclose(scores, [0.9, 0.8])
    np.testing.assert_allclose(boxes[0], [100, 60, 180, 220])
    np.testing.assert_allclose(kps[1], KPS_B[:, :2])
    np.testing.assert_allclose(conf[1], np.clip(KPS_B[:, 2], 0, 1))
    assert [len(a) for a in decode_yolo(YOLO_POSE, 17, min_score=0.95, nms_iou=0.65)] == [0, 0, 0, 0]


def test_top_down_heatmap_whole_image_round_trip(models, tmp_path):
    card = _card(tmp_path / "pose.json", model=str(models / "bright.onnx"), kind="top_down", output="heatmap",
                 input_size=list(POSE_INPUT), mean=[0, 0, 0], std=[255, 255, 255], layout="coco17")
    det = create_detector("onnx", model_card=card)
    for x, y in [(400, 150), (130, 330)]:
        (person,) = det.detect(_spot_image(x, y))
        # whole 640x480 image in a 192x256 input: 0.3 input px per image px
        # (within half an input pixel plus the quarter-pixel shift)
        np.testing.assert_allclose(person.source_keypoints, np.tile([x, y], (17, 1)), atol=2.5)
        assert person.source_layout is COCO17 and person.keypoints.shape == (H36M17.num_joints, 2)
        assert 0.0 < person.confidence.min() <= person.confidence.max() <= 1.0


def test_top_down_with_person_detector_crops_the_person(models, tmp_path):
    _card(tmp_path / "person.json", model=str(models / "person.onnx"), kind="detector", output="yolo",
          input_size=list(YOLO_INPUT), mean=[0, 0, 0], std=[255, 255, 255], pad_value=114)
    card = _card(tmp_path / "pose.json", model=str(models / "bright.onnx"), kind="top_down", output="heatmap",
                 input_size=list(POSE_INPUT), mean=[0, 0, 0], std=[255, 255, 255], layout="coco17",
                 person_detector="person.json")
    # the detector's box in the image: centre (400, 160), 120x180 (input / 0.5, minus the 40 px pad)
    (person,) = create_detector("onnx", model_card=card).detect(_spot_image(410, 200))
    # that box padded by 1.25 and widened to 3:4 is 168.75x225 px: 1.14 input px per image px
    np.testing.assert_allclose(person.source_keypoints, np.tile([410, 200], (17, 1)), atol=1.0)


def test_bottom_up_yolo_pose_maps_back_through_the_letterbox_and_tracks(models, tmp_path):
    card = _card(tmp_path / "pose.json", model=str(models / "yolo_pose.onnx"), kind="bottom_up", output="yolo",
                 input_size=list(YOLO_INPUT), mean=[0, 0, 0], std=[255, 255, 255], layout="coco17", pad_value=114)
    det = create_detector("onnx", model_card=card, threads=1)
    for _ in range(3):
        people = det.detect(np.zeros((480, 640, 3), np.uint8))
        assert [p.track_id for p in people] == [0, 1]
    np.testing.assert_allclose(people[0].source_keypoints, (KPS_A[:, :2] - [0, 40]) / 0.5, atol=1e-3)
    np.testing.assert_allclose(people[1].source_confidence, np.clip(KPS_B[:, 2], 0, 1))


@pytest.mark.parametrize("fields, message", [
    ({"kind": "top_down", "output": "yolo"}, "with output"),
    ({"kind": "side_ways"}, "with output"),
    ({"layout": "coco18"}, "unknown skeleton layout"),
    ({"channel_order": "grb"}, "channel_order"),
    ({"input_sise": [1, 2]}, "unknown model card fields"),
])
def test_model_card_errors_name_the_problem(tmp_path, fields, message):
    good = dict(model="m.onnx", kind="top_down", output="simcc", input_size=[192, 256],
                mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], layout="coco17")
    path = _card(tmp_path / "card.json", **dict(good, **fields))
    with pytest.raises(ValueError, match=message):
        ModelCard.load(path)
    assert ModelCard.load(_card(tmp_path / "ok.json", **good)).model == tmp_path / "m.onnx"
