"""Frame-by-frame network evaluation and the lifter's CUDA-to-CPU fallback."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d_ros.geometry import CameraIntrinsics, camera_up, level_rays, levelling_rotation, normalize_with_intrinsics
from pose3d_ros.lifting.inputs import PersonKeypoints
from pose3d_ros.lifting.online import OnlineLifter
from pose3d_ros.lifting.streaming_tcn import FramewiseStream, StreamingTemporalConv
from pose3d_ros.networks import build_model
from pose3d_ros.networks.cards import LifterCard, load_model, save_model

CAM = CameraIntrinsics.default_for(640, 480)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def make_model(tiny_card, trained_like):
    """``make_model(widths, channels=16)``: a tiny causal lifter with batch-norm statistics to fold."""
    def make(widths, channels=16) -> torch.nn.Module:
        torch.manual_seed(0)
        hyper = dict(tiny_card().hyperparameters, filter_widths=widths, channels=channels)
        return trained_like(build_model("temporal_conv", hyper))
    return make


@pytest.mark.parametrize("widths", [[3, 3], [3, 3, 3], [5, 3], [1, 1, 1]])
def test_streaming_equals_the_model_on_edge_padded_windows(widths, make_model):
    model = make_model(widths)
    rf = model.receptive_field
    stream = StreamingTemporalConv(model)
    seqs = torch.randn(2, 40, 17, 2)
    states = [stream.init_state(s[0].reshape(-1)) for s in seqs]
    with torch.no_grad():
        got = torch.stack([stream.step(states, seqs[:, k].reshape(2, -1)) for k in range(40)], dim=1)
        padded = torch.cat([seqs[:, :1].expand(-1, rf - 1, -1, -1), seqs], dim=1)
        want = model(padded)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_non_causal_model_rejected(tiny_card):
    model = build_model("temporal_conv", dict(tiny_card().hyperparameters, causal=False))
    with pytest.raises(ValueError, match="causal"):
        StreamingTemporalConv(model)


def test_single_frame_lifter_runs_online_frame_by_frame(tmp_path, make_model, tracked):
    """A per-frame network (Tang et al.'s articulated one) lifts each frame alone, as offline."""
    torch.manual_seed(0)
    hyper = {"num_joints_in": 17, "in_features": 2, "num_joints_out": 17, "linear_size": 32, "num_stages": 1,
             "refine_layers": 1, "dropout": 0.0}
    model = build_model("articulated", hyper).eval()
    card = LifterCard("articulated", hyper, "h36m17", receptive_field=1, causal=True, input_normalization="intrinsics")
    lifter = tracked(OnlineLifter(load_model(save_model(model, tmp_path / "per_frame", card)), "cpu"))
    assert isinstance(lifter.lifter.stream, FramewiseStream)
    frames = _frames(5)
    got = [lifter.update(0.02 * k, people, CAM) for k, people in enumerate(frames)]
    for k, people in enumerate(frames):
        uv = np.stack([normalize_with_intrinsics(p.keypoints, CAM) for p in people])
        with torch.no_grad():
            want = model(torch.from_numpy(uv.astype(np.float32))[:, None])[:, 0].numpy()
        want = want - want[:, :1]
        joints = np.stack([p.joints - (p.translation if p.metric else 0.0) for p in got[k]])
        np.testing.assert_allclose(joints, want, atol=1e-5)
    with pytest.raises(ValueError, match="single-frame"):
        FramewiseStream(make_model([3, 3]))


@pytest.fixture
def card_path(tmp_path, tiny_card, make_model):
    return save_model(make_model([3, 3]), tmp_path / "tiny", tiny_card())


def _frames(n: int, tracks: int = 2):
    rng = np.random.default_rng(1)
    base = rng.uniform(200, 400, size=(tracks, 17, 2))
    return [[PersonKeypoints(t, base[t] + rng.normal(0, 5, (17, 2)), np.ones(17)) for t in range(tracks)]
            for _ in range(n)]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback where CUDA is absent")
def test_cuda_unavailable_falls_back_to_cpu_with_one_warning(card_path, tracked):
    warnings = []
    lifter = tracked(OnlineLifter(load_model(card_path), "cuda", warn=warnings.append))
    reference = tracked(OnlineLifter(load_model(card_path), "cpu"))
    for k, people in enumerate(_frames(12)):
        got, want = lifter.update(0.05 * k, people, CAM), reference.update(0.05 * k, people, CAM)
        np.testing.assert_allclose(got[1].joints, want[1].joints, atol=1e-6)
    assert lifter.lifter.device == "cpu" and len(warnings) == 1 and "CUDA" in warnings[0]


class _FailingStream:
    def step(self, states, frames):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")


def test_cuda_failure_mid_stream_continues_on_cpu_with_the_same_outputs(card_path, tracked):
    warnings = []
    lifter = tracked(OnlineLifter(load_model(card_path), "cpu", warn=warnings.append))
    reference = tracked(OnlineLifter(load_model(card_path), "cpu"))
    frames = _frames(20, tracks=3)
    for k, people in enumerate(frames):
        if k == 10:  # pretend the lifter runs on a GPU that now fails
            lifter.lifter.device, lifter.lifter.stream = "cuda", _FailingStream()
        people = people if k < 8 else people[:2]  # track 2 ends before the failure
        got, want = lifter.update(0.05 * k, people, CAM), reference.update(0.05 * k, people, CAM)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.joints, b.joints, atol=1e-6)
    assert lifter.lifter.device == "cpu" and len(warnings) == 1 and "OutOfMemoryError" in warnings[0]


def test_auto_and_bad_device_names(card_path):
    lifter = OnlineLifter(load_model(card_path), "auto")
    assert lifter.device == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        OnlineLifter(load_model(card_path), "tpu")


def test_a_levelled_lifter_sees_level_rays_and_answers_in_the_camera_frame(tmp_path, tiny_card, make_model, tracked,
                                                                          card_path):
    """With the camera's tilt known, a gravity-levelled lifter on a pitched camera's keypoints
    gives the same pose, turned into the camera, as on the level camera's keypoints; a lifter
    not trained level ignores the tilt."""
    up = camera_up(25.0, -10.0)
    level = levelling_rotation(up)
    path = save_model(make_model([3, 3]), tmp_path / "level", tiny_card(input_normalization="level"))
    pitched = tracked(OnlineLifter(load_model(path), "cpu", camera_up=up))
    upright = tracked(OnlineLifter(load_model(path), "cpu"))
    f, c = np.array([CAM.fx, CAM.fy]), np.array([CAM.cx, CAM.cy])
    for k, people in enumerate(_frames(6)):
        turned = [PersonKeypoints(p.track_id, level_rays(normalize_with_intrinsics(p.keypoints, CAM, np.float64),
                                                         level) * f + c, p.confidence) for p in people]
        got, want = pitched.update(0.05 * k, people, CAM), upright.update(0.05 * k, turned, CAM)
        for g, w in zip(got, want):  # root-relative poses
            np.testing.assert_allclose(g.joints, w.joints @ level, atol=1e-5)
    plain = tracked(OnlineLifter(load_model(card_path), "cpu", camera_up=up))
    same = tracked(OnlineLifter(load_model(card_path), "cpu"))
    people = _frames(1)[0]
    np.testing.assert_allclose(plain.update(0.0, people, CAM)[0].joints, same.update(0.0, people, CAM)[0].joints)
    with pytest.raises(ValueError, match="up direction"):
        OnlineLifter(load_model(path), "cpu", camera_up=[0.0, 0.0, 0.0])
