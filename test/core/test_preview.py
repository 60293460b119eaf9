"""Preview rendering: 2D overlay plus 3D panel."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.preview import BACKGROUND_BGR, draw_keypoints, render_3d, render_preview

H, W = 120, 160



@pytest.fixture
def pose(standing_pose) -> np.ndarray:
    """The standing pose 3 m in front of the camera."""
    return standing_pose + [0.0, 0.0, 3.0]


@pytest.fixture
def keypoints_2d(pose) -> np.ndarray:
    return pose[:, :2] / pose[:, 2:] * 100 + [W / 2, H / 2]


def _non_background(panel: np.ndarray) -> np.ndarray:
    return np.any(panel != np.array(BACKGROUND_BGR, dtype=np.uint8), axis=-1)


def test_render_preview_size_and_input_untouched(pose, keypoints_2d):
    frame = np.full((H, W, 3), 200, dtype=np.uint8)
    out = render_preview(frame, [(keypoints_2d, np.ones(17))], [pose])
    assert out.shape == (H, W + H, 3) and out.dtype == np.uint8
    assert np.all(frame == 200)                   # drawn on a copy
    assert np.any(out[:, :W] != 200)              # the 2D skeleton is drawn
    np.testing.assert_array_equal(out[:, W:], render_3d([pose], H))


def test_3d_panel_shows_the_skeleton(pose):
    empty = render_3d([], H)
    with_skeleton = render_3d([pose], H)
    assert empty.shape == with_skeleton.shape == (H, H, 3)
    assert _non_background(with_skeleton).sum() > _non_background(empty).sum() + 100
    # white joint markers appear only with a skeleton
    white = lambda img: np.all(img >= 250, axis=-1).sum()  # noqa: E731
    assert white(with_skeleton) > white(empty)
    # the skeleton is centred: pixels around the panel centre are drawn
    c = H // 2
    assert _non_background(with_skeleton[c - 15:c + 15, c - 15:c + 15]).any()


def test_render_preview_without_people():
    frame = np.zeros((H, W, 3), dtype=np.uint8)
    out = render_preview(frame, [], [])
    assert out.shape == (H, W + H, 3)
    np.testing.assert_array_equal(out[:, :W], frame)


def test_draw_keypoints_skips_low_confidence_joints(keypoints_2d):
    kps = keypoints_2d
    far = (W - 10, 10)
    kps[16] = far                   # r_wrist, a leaf, moved into an empty corner
    conf = np.ones(17)
    conf[16] = 0.1
    img = np.zeros((H, W, 3), dtype=np.uint8)
    draw_keypoints(img, kps, conf, min_confidence=0.3)
    assert img.any()                # the rest of the skeleton is drawn
    u, v = far
    np.testing.assert_array_equal(img[v - 6:v + 7, u - 6:u + 7], 0)
    # with enough confidence the joint is drawn there
    conf[16] = 0.5
    img2 = np.zeros_like(img)
    draw_keypoints(img2, kps, conf, min_confidence=0.3)
    assert img2[v - 6:v + 7, u - 6:u + 7].any()


def test_draw_keypoints_all_below_threshold_draws_nothing(keypoints_2d):
    img = np.full((H, W, 3), 50, dtype=np.uint8)
    draw_keypoints(img, keypoints_2d, np.full(17, 0.29), min_confidence=0.3)
    assert np.all(img == 50)
