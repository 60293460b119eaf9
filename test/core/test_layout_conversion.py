"""BlazePose-33 / COCO-17 -> H36M-17."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.layout_conversion import _COPIED, HEAD_FROM_MOUTH, HEAD_FROM_NOSE, to_h36m
from pose3d_ros.skeleton import BLAZEPOSE33, COCO17, H36M17, HUMANEVA15

# hand-checked H36M indices of the copied joints
H36M_INDEX = {"r_hip": 1, "r_knee": 2, "r_ankle": 3, "l_hip": 4, "l_knee": 5, "l_ankle": 6,
              "l_shoulder": 11, "l_elbow": 12, "l_wrist": 13, "r_shoulder": 14, "r_elbow": 15, "r_wrist": 16}


def _inputs(layout, batch=()):
    rng = np.random.default_rng(len(layout.joint_names))
    kps = rng.uniform(0, 500, size=batch + (layout.num_joints, 2))
    conf = rng.uniform(0.1, 1.0, size=batch + (layout.num_joints,))
    return kps, conf


@pytest.mark.parametrize("layout", [BLAZEPOSE33, COCO17])
def test_copied_joints(layout):
    kps, conf = _inputs(layout)
    out, c = to_h36m(kps, conf, layout)
    assert out.shape == (17, 2) and c.shape == (17,)
    assert set(_COPIED) == set(H36M_INDEX)
    for name, h in H36M_INDEX.items():
        np.testing.assert_allclose(out[h], kps[layout.index(name)], rtol=1e-6)
        assert c[h] == pytest.approx(conf[layout.index(name)])


@pytest.mark.parametrize("layout", [BLAZEPOSE33, COCO17])
def test_derived_joints_midpoints_and_min_confidence(layout):
    kps, conf = _inputs(layout)
    out, c = to_h36m(kps, conf, layout)
    i = layout.index
    pelvis = (kps[i("l_hip")] + kps[i("r_hip")]) / 2
    thorax = (kps[i("l_shoulder")] + kps[i("r_shoulder")]) / 2
    np.testing.assert_allclose(out[0], pelvis, rtol=1e-6)
    np.testing.assert_allclose(out[8], thorax, rtol=1e-6)
    np.testing.assert_allclose(out[7], (pelvis + thorax) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[9], kps[i("nose")], rtol=1e-6)
    hips = min(conf[i("l_hip")], conf[i("r_hip")])
    shoulders = min(conf[i("l_shoulder")], conf[i("r_shoulder")])
    assert c[0] == pytest.approx(hips)
    assert c[8] == pytest.approx(shoulders)
    assert c[7] == pytest.approx(min(hips, shoulders))
    assert c[9] == pytest.approx(conf[i("nose")])


def test_head_from_eyes_and_mouth_blazepose():
    kps, conf = _inputs(BLAZEPOSE33)
    i = BLAZEPOSE33.index
    kps[i("l_eye")], kps[i("r_eye")] = [110, 100], [90, 100]
    kps[i("mouth_left")], kps[i("mouth_right")] = [105, 120], [95, 120]
    out, c = to_h36m(kps, conf, BLAZEPOSE33)
    np.testing.assert_allclose(out[10], [100, 100 - HEAD_FROM_MOUTH * 20])
    assert c[10] == pytest.approx(min(conf[i(n)] for n in ("l_eye", "r_eye", "mouth_left", "mouth_right")))


def test_head_from_eyes_and_nose_coco():
    kps, conf = _inputs(COCO17)
    i = COCO17.index
    kps[i("l_eye")], kps[i("r_eye")], kps[i("nose")] = [110, 100], [90, 100], [100, 110]
    out, c = to_h36m(kps, conf, COCO17)
    np.testing.assert_allclose(out[10], [100, 100 - HEAD_FROM_NOSE * 10])
    assert c[10] == pytest.approx(min(conf[i(n)] for n in ("l_eye", "r_eye", "nose")))


def test_low_confidence_source_propagates():
    kps, conf = _inputs(COCO17)
    conf[COCO17.index("r_hip")] = 0.0
    _, c = to_h36m(kps, conf, COCO17)
    assert c[0] == 0.0 and c[7] == 0.0 and c[1] == 0.0
    assert c[4] > 0 and c[8] > 0


@pytest.mark.parametrize("layout", [BLAZEPOSE33, COCO17])
def test_batch_dimensions(layout):
    kps, conf = _inputs(layout, batch=(4, 3))
    out, c = to_h36m(kps, conf, layout)
    assert out.shape == (4, 3, 17, 2) and c.shape == (4, 3, 17)
    for a in range(4):
        for b in range(3):
            single, single_c = to_h36m(kps[a, b], conf[a, b], layout)
            np.testing.assert_allclose(out[a, b], single)
            np.testing.assert_allclose(c[a, b], single_c)


def test_h36m_passes_through_and_unknown_raises():
    kps, conf = _inputs(H36M17)
    out, c = to_h36m(kps, conf, H36M17)
    assert out is kps and c is conf
    with pytest.raises(ValueError, match="humaneva15"):
        to_h36m(*_inputs(HUMANEVA15), HUMANEVA15)
