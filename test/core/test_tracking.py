"""PersonTracker: ids stay with synthetic people as they move, cross, and briefly vanish."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.tracking import PersonTracker, box_iou, keypoint_box


def _box(cx: float, cy: float, w: float = 60.0, h: float = 160.0) -> np.ndarray:
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_keypoint_box_uses_confident_joints_else_all():
    kps = np.array([[10.0, 20.0], [30.0, 60.0], [500.0, 500.0]])
    assert keypoint_box(kps, np.array([0.9, 0.8, 0.0])).tolist() == [10, 20, 30, 60]
    assert keypoint_box(kps, np.zeros(3)).tolist() == [10, 20, 500, 500]


def test_box_iou():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [0, 0, 0, 0]])
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0])
    np.testing.assert_allclose(iou[1], 0.0)


def test_ids_stable_for_people_moving_in_any_detection_order():
    rng = np.random.default_rng(0)
    tracker = PersonTracker()
    starts = np.array([[100.0, 200.0], [400.0, 220.0], [700.0, 180.0]])
    velocity = np.array([[3.0, 0.5], [-2.0, 1.0], [1.0, -1.5]])
    first = tracker.update(np.stack([_box(*c) for c in starts]))
    assert sorted(first) == [0, 1, 2]
    for t in range(1, 60):
        order = rng.permutation(3)
        centres = starts + t * velocity + rng.normal(0, 1.0, (3, 2))
        ids = tracker.update(np.stack([_box(*centres[i]) for i in order]))
        assert ids == [first[i] for i in order], f"frame {t}"


@pytest.mark.parametrize("speed", [6.0, 15.0])
def test_no_id_swap_when_two_people_cross(speed):
    tracker = PersonTracker()
    ids_a, ids_b = [], []
    for t in range(80):
        a = _box(100 + speed * t, 300)       # walks right
        b = _box(100 + speed * 79 - speed * t, 310, w=70, h=170)  # walks left, slightly lower and bigger
        ids = tracker.update(np.stack([b, a]) if t % 2 else np.stack([a, b]))
        (id_b, id_a) = ids if t % 2 else ids[::-1]
        ids_a.append(id_a)
        ids_b.append(id_b)
    assert set(ids_a) == {ids_a[0]} and set(ids_b) == {ids_b[0]} and ids_a[0] != ids_b[0]


def test_ids_survive_short_misses_and_are_never_reused():
    tracker = PersonTracker(max_missed=3)
    assert tracker.update([_box(100, 100)]) == [0]
    for _ in range(3):  # unseen for 3 frames: still tracked, predicted along its (zero) velocity
        assert tracker.update(np.zeros((0, 4))) == []
    assert tracker.update([_box(102, 100)]) == [0]
    for _ in range(4):  # unseen for 4 frames: the track ends
        tracker.update(np.zeros((0, 4)))
    assert tracker.update([_box(102, 100)]) == [1]
    assert tracker.update([_box(102, 100), _box(600, 100)]) == [1, 2]


def test_miss_while_moving_is_bridged_by_the_predicted_motion():
    tracker = PersonTracker(max_missed=5)
    for t in range(10):
        assert tracker.update([_box(100 + 20 * t, 200)]) == [0]
    for _ in range(3):
        tracker.update(np.zeros((0, 4)))
    # 4 frames later the person is 80 px further on, well clear of the last box (60 px wide)
    assert tracker.update([_box(100 + 20 * 13, 200)]) == [0]
