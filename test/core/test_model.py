"""TemporalConvModel: shapes, receptive field, causality; model registry helpers."""
from __future__ import annotations

import pytest
import torch

from pose3d_ros.networks import build_model
from pose3d_ros.networks.tcn import TemporalConvModel, filter_widths_for


@pytest.fixture
def make_model(trained_like):
    """``make_model(widths=(3, 3, 3), causal=False)``: a small trained-like TemporalConvModel."""
    def make(widths=(3, 3, 3), causal=False) -> TemporalConvModel:
        torch.manual_seed(0)
        return trained_like(TemporalConvModel(filter_widths=widths, causal=causal, dropout=0.0, channels=16))
    return make


@pytest.mark.parametrize("widths, rf", [((3, 3, 3), 27), ((3, 3, 3, 3), 81), ((3,), 3), ((1, 1, 1), 1),
                                        ((5, 3), 15)])
def test_receptive_field_and_output_shape(widths, rf, make_model):
    model = make_model(widths)
    assert model.receptive_field == rf
    x = torch.randn(2, rf + 4, 17, 2)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 5, 17, 3)
    with torch.no_grad():
        assert model(x[:, :rf]).shape == (2, 1, 17, 3)


def test_other_joint_counts_and_features():
    model = TemporalConvModel(num_joints_in=15, in_features=3, num_joints_out=15,
                              filter_widths=(3,), channels=8).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 15, 3)).shape == (1, 1, 15, 3)


def test_output_depends_only_on_its_window(make_model):
    # outputs are 'valid' convolutions: output i sees input frames i .. i + rf - 1
    for causal in (False, True):
        model = make_model(causal=causal)
        rf = model.receptive_field
        x = torch.randn(1, rf + 6, 17, 2)
        x2 = x.clone()
        x2[:, rf + 3:] += 5.0  # frames after output 3's window
        with torch.no_grad():
            y, y2 = model(x), model(x2)
        torch.testing.assert_close(y[:, :4], y2[:, :4])
        assert not torch.allclose(y[:, 4:], y2[:, 4:])


def test_causal_model_does_not_see_the_future(make_model):
    """Output for frame t (the last of its window when causal, the centre when symmetric)
    ignores frames after t only in the causal model."""
    t = 40
    x = torch.randn(1, 60, 17, 2)
    future = x.clone()
    future[:, t + 1:] += 3.0
    causal, symmetric = make_model(causal=True), make_model(causal=False)
    rf = causal.receptive_field
    with torch.no_grad():
        # causal: output index i covers frames i .. i + rf - 1, so frame t is index t - rf + 1
        i = t - rf + 1
        torch.testing.assert_close(causal(x)[:, i], causal(future)[:, i])
        # symmetric: frame t is the centre of window index t - rf // 2
        j = t - rf // 2
        assert not torch.allclose(symmetric(x)[:, j], symmetric(future)[:, j], atol=1e-4)


def test_causal_and_symmetric_differ_with_same_weights(make_model):
    causal, symmetric = make_model(causal=True), make_model(causal=False)
    symmetric.load_state_dict(causal.state_dict())
    x = torch.randn(1, 27, 17, 2)
    with torch.no_grad():
        assert not torch.allclose(causal(x), symmetric(x), atol=1e-4)
    # identical when every frame is the same: then the residual crop does not matter
    still = x[:, :1].repeat(1, 27, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(causal(still), symmetric(still))


@pytest.mark.parametrize("rf, widths", [(1, (1, 1, 1)), (27, (3, 3, 3)), (81, (3, 3, 3, 3)),
                                        (243, (3, 3, 3, 3, 3))])
def test_filter_widths_for(rf, widths):
    assert filter_widths_for(rf) == widths
    assert TemporalConvModel(filter_widths=widths, channels=4).receptive_field == rf


@pytest.mark.parametrize("rf", [100, 2, 26, 0])
def test_filter_widths_for_rejects_non_powers(rf):
    with pytest.raises(ValueError, match="power of 3"):
        filter_widths_for(rf)


def test_build_model():
    model = build_model("temporal_conv", {"filter_widths": [3, 3], "causal": True, "channels": 8})
    assert isinstance(model, TemporalConvModel)
    assert model.causal and model.receptive_field == 9
    with pytest.raises(ValueError, match="unknown architecture 'transformer'"):
        build_model("transformer", {})


def test_even_filter_width_rejected():
    with pytest.raises(ValueError, match="odd"):
        TemporalConvModel(filter_widths=(3, 2, 3), channels=8)


@pytest.mark.parametrize("shape", [(1, 27, 16, 2), (1, 27, 17, 3), (27, 17, 2)])
def test_wrong_input_shape(shape, make_model):
    model = make_model()
    with pytest.raises(ValueError):
        model(torch.randn(*shape))


@pytest.mark.parametrize("architecture, hyperparameters", [
    ("temporal_conv", {"filter_widths": [3], "channels": 8}),
    ("martinez_mlp", {"linear_size": 8, "num_stages": 1}),
    ("articulated", {"linear_size": 8}),
    ("anatomy_aware", {"filter_widths": [3, 3], "channels": 8}),
    ("deep_kinematics", {"channels": 8, "lstm_hidden": 4}),
    ("ugcn", {"channels": 8, "window": 16}),
])
def test_every_lifter_names_the_input_it_expects(architecture, hyperparameters):
    model = build_model(architecture, hyperparameters).eval()
    with pytest.raises(ValueError, match=r"expected \(B, T, 17, 2\), got \(1, 16, 16, 2\)"):
        model(torch.randn(1, 16, 16, 2))


def test_ugcn_names_the_window_multiple_it_expects():
    model = build_model("ugcn", {"channels": 8, "window": 16}).eval()
    with pytest.raises(ValueError, match=r"expected T a multiple of 16, got \(1, 24, 17, 2\)"):
        model(torch.randn(1, 24, 17, 2))
