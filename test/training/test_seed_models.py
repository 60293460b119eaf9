"""The seed papers' architectures: shapes, causality, the papers' structural properties, loading
from a model card, and tiny end-to-end trainings on the miniature dataset of test_training."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d_ros.networks import build_model
from pose3d_ros.networks.anatomy import AnatomyAwareModel
from pose3d_ros.networks.articulated import ArticulatedNet, hard_joint_indices
from pose3d_ros.networks.cards import LifterCard, load_model, save_model
from pose3d_ros.networks.kinematics import DeepKinematicsModel
from pose3d_ros.networks.tpnet import BidirectionalRefiner
from pose3d_ros.networks.ugcn import UGCN, hop_partition
from pose3d_ros.skeleton import H36M17, HUMANEVA15
from training.config import TrainingConfig
from training.data import load_h36m
from training.evaluate import evaluate, predict_sequence
from training.train import train

TINY = {
    "anatomy_aware": dict(filter_widths=[3, 3], channels=16, dropout=0.0, context_frames=6),
    "ugcn": dict(channels=8, window=16, dropout=0.0),
    "deep_kinematics": dict(channels=16, lstm_hidden=8, dropout=0.0, joint_names=list(H36M17.joint_names)),
    "articulated": dict(linear_size=16, dropout=0.0),
}


def _eval(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    return model.eval()


@pytest.mark.parametrize("causal", [True, False])
def test_anatomy_model_shapes_causality_and_composition(causal):
    model = _eval(AnatomyAwareModel(causal=causal, **TINY["anatomy_aware"]))
    x = torch.randn(2, 20, 17, 2)
    with torch.no_grad():
        parts = model(x, return_parts=True)
        assert parts["pose"].shape == (2, 12, 17, 3) and model.receptive_field == 9
        assert [d.shape for d in parts["directions"]] == [(2, 12, 16, 3)] * 2
        assert torch.allclose(parts["directions"][-1].norm(dim=-1), torch.ones(2, 12, 16))
        # Eq. 1: the pose's bones have the predicted lengths and the top sub-network's directions.
        bones = parts["pose"][..., model.child, :] - parts["pose"][..., model.parent, :]
        assert torch.allclose(bones.norm(dim=-1), parts["lengths"], atol=1e-5)
        # Each chunked output equals the model run on that output's window alone.
        for o in (0, 5, 11):
            assert torch.allclose(model(x[:, o:o + 9])[:, 0], parts["pose"][:, o], atol=1e-5)
        if causal:  # the output for frame t (the window's last) ignores later frames
            later = x.clone()
            later[:, 15:] += 1.0
            assert torch.allclose(model(later)[:, :7], parts["pose"][:, :7], atol=1e-6)
            assert not torch.allclose(model(later)[:, 7:], parts["pose"][:, 7:])


def test_anatomy_context_sampling_and_blocked_gradients():
    model = _eval(AnatomyAwareModel(**TINY["anatomy_aware"]))
    x, seq = torch.randn(1, 11, 17, 2), torch.randn(1, 30, 17, 2)
    index = torch.randint(0, 30, (1, 3, 6))
    with torch.no_grad():
        pooled = model(x, context=seq, context_index=index)
        for o in range(3):  # per-output samples equal a shared context made of those frames
            assert torch.allclose(model(x, context=seq[:, index[0, o]])[:, o], pooled[:, o], atol=1e-5)
    model.train()
    parts = model(x, context=seq[:, :6], return_parts=True)
    assert parts["context_joints"].shape == (1, 6, 17, 3)
    parts["directions"][1].sum().backward()  # the upper sub-network's loss stops at its own input
    assert all(p.grad is None for p in model.trunk.parameters())
    assert any(p.grad is not None for p in model.stages.parameters())


def test_anatomy_visibility_scores_change_the_directions():
    model = _eval(AnatomyAwareModel(in_features=3, visibility=True, **TINY["anatomy_aware"]))
    x = torch.randn(1, 9, 17, 3)
    occluded = x.clone()
    occluded[..., 2] = 0.0
    with torch.no_grad():
        assert model(x).shape == (1, 1, 17, 3) and not torch.allclose(model(x), model(occluded))


def test_hop_partition_three_subsets():
    a = hop_partition(H36M17.parents)
    assert a.shape == (3, 17, 17)
    r_knee = H36M17.index("r_knee")
    assert a[0, r_knee, r_knee] == 1.0  # itself: same hop count
    assert a[1, r_knee, H36M17.index("r_ankle")] == 1.0  # farther from the root
    assert a[2, r_knee, H36M17.index("r_hip")] == 1.0  # nearer the root
    thorax = H36M17.index("thorax")  # three children: the centrifugal subset averages them
    assert np.allclose(a[1, thorax, [9, 11, 14]], 1 / 3)
    assert np.allclose(a.sum(axis=2)[a.sum(axis=2) > 0], 1.0)


def test_ugcn_is_sequence_to_sequence_and_uses_the_whole_window():
    model = _eval(UGCN(**TINY["ugcn"]))
    x = torch.randn(2, 32, 17, 2)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 32, 17, 3) and model.sequence_window == 16
        late = x.clone()
        late[:, -1] += 1.0
        assert not torch.allclose(model(late)[:, 20], out[:, 20])  # a non-causal, long view
    for flags in (dict(downsample=0), dict(merge=False), dict(spatial_graph=False)):
        assert UGCN(**dict(TINY["ugcn"], **flags)).eval()(x).shape == (2, 32, 17, 3)
    with pytest.raises(ValueError, match="multiple"):
        model(torch.randn(1, 20, 17, 2))


def test_ugcn_starts_near_the_zero_pose():
    """The shortcuts and merged scales add up: left at the default initialisation, a fresh
    network's joints were metres from the root, and training crawled."""
    torch.manual_seed(0)
    out = UGCN(channels=32, window=96, dropout=0.1).train()(0.2 * torch.randn(4, 96, 17, 2))
    assert out.detach().norm(dim=-1).mean() < 0.1


def test_sliding_window_prediction_covers_every_frame():
    model = _eval(UGCN(**TINY["ugcn"]))
    inputs = np.random.default_rng(0).normal(size=(37, 17, 2)).astype(np.float32)
    pred = predict_sequence(model, inputs, model.receptive_field, False)
    assert pred.shape == (37, 17, 3) and np.allclose(pred[:, 0], 0.0)
    with torch.no_grad():  # frames 0-4 are seen by the first window only
        first = model(torch.from_numpy(inputs[None, :16]))[0].numpy()
    assert np.allclose(pred[:5], first[:5] - first[:5, :1], atol=1e-5)
    assert predict_sequence(model, inputs[:7], 16, False).shape == (7, 17, 3)  # shorter than a window


def test_deep_kinematics_decomposition_and_completion():
    model = _eval(DeepKinematicsModel(**TINY["deep_kinematics"]))
    x = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        parts = model(x, return_parts=True)
    assert parts["pose"].shape == (2, 9, 17, 3) and parts["refined_2d"].shape == (2, 9, 17, 2)
    bones = parts["composed"][..., model.child, :] - parts["composed"][..., model.parent, :]
    lengths = bones.norm(dim=-1)
    assert torch.allclose(lengths, lengths[:, :1].expand_as(lengths), atol=1e-5)  # one length per bone per clip
    assert torch.allclose(parts["refined_2d"], x)  # the 2D refiner starts as the identity
    assert model.limbs == hard_joint_indices(H36M17)
    g = model.global_local(x)
    r_knee, r_hip = H36M17.index("r_knee"), H36M17.index("r_hip")
    assert torch.allclose(g[..., r_knee, 2:4], x[..., r_knee, :] - x[..., r_hip, :])
    assert torch.allclose(g[..., r_knee, 4], ((x[..., r_knee, :] - x[..., r_hip, :]) ** 2).sum(-1))
    model.train()  # limb joints dropped with rate 1 - confidence: confidence 1 drops nothing
    torch.manual_seed(1)
    full = model(x, confidence=torch.ones(2, 9, 17), return_parts=True)
    assert full["pose"].shape == (2, 9, 17, 3)
    plain = DeepKinematicsModel(**dict(TINY["deep_kinematics"], refine_2d=False, completion=False)).eval()
    assert plain(x).shape == (2, 9, 17, 3)


def test_articulated_net_refines_only_the_hard_joints():
    model = _eval(ArticulatedNet(**TINY["articulated"]))
    x = torch.randn(3, 4, 17, 2)
    with torch.no_grad():
        parts = model(x, return_parts=True)
        hard = hard_joint_indices(H36M17)
        soft = [j for j in range(17) if j not in hard]
        assert hard == [2, 3, 5, 6, 12, 13, 15, 16]
        assert torch.equal(parts["pose"][:, :, soft], parts["basic"][:, :, soft])
        assert not torch.allclose(parts["pose"][:, :, hard], parts["basic"][:, :, hard])
        assert torch.allclose(model(x[:, 2:3]), parts["pose"][:, 2:3], atol=1e-5)  # frame by frame
    for flags in (dict(refine=False), dict(fusion="none"), dict(fusion="direct"), dict(rem=False)):
        assert ArticulatedNet(**dict(TINY["articulated"], **flags)).eval()(x).shape == (3, 4, 17, 3)


def test_bidirectional_tpnet_refines_the_centre_pose():
    model = BidirectionalRefiner(window=5, hidden=16).eval()
    poses = torch.randn(2, 5, 17, 3)
    with torch.no_grad():
        out = model(poses)
        assert torch.allclose(out, poses[:, 2] - poses[:, 2, :1])  # zero-initialised correction
        torch.nn.init.normal_(model.net[-1].weight)
        later = poses.clone()
        later[:, 4] += 1.0
        assert not torch.allclose(model(later), model(poses))  # it sees the future half
    with pytest.raises(ValueError, match="odd"):
        BidirectionalRefiner(window=4)


@pytest.mark.parametrize("architecture", sorted(TINY) + ["bi_tpnet_refiner"])
def test_model_cards_rebuild_every_architecture(architecture, tmp_path):
    hyper = TINY.get(architecture, dict(window=5, hidden=16))
    model = build_model(architecture, hyper)
    card = LifterCard(architecture, hyper, "h36m17", receptive_field=getattr(model, "receptive_field", 1), causal=False,
                      input_normalization="intrinsics")
    loaded = load_model(save_model(model, tmp_path / architecture, card))
    assert type(loaded.model) is type(model)
    for a, b in zip(loaded.model.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)


def test_seed_models_accept_the_humaneva_skeleton():
    parents = list(HUMANEVA15.parents)
    x = torch.randn(1, 16, 15, 2)
    assert AnatomyAwareModel(15, 2, 15, parents, **TINY["anatomy_aware"]).eval()(x).shape == (1, 8, 15, 3)
    assert UGCN(15, 2, 15, parents, **TINY["ugcn"]).eval()(x).shape == (1, 16, 15, 3)
    articulated = ArticulatedNet(15, 2, 15, hard_joint_indices(HUMANEVA15), **TINY["articulated"]).eval()
    assert articulated(x).shape == (1, 16, 15, 3)


def _train(cfg: dict, model: dict, losses: dict, epochs: int = 4, **train_opts):
    cfg["model"] = model
    cfg["train"].update(epochs=epochs, losses=losses, **train_opts)
    torch.manual_seed(0)
    return load_model(train(TrainingConfig.from_dict(cfg), resume=False))


def test_anatomy_aware_model_trains_end_to_end(tiny_config, h36m_root):
    loaded = _train(tiny_config, dict(architecture="anatomy_aware", receptive_field=9, causal=True,
                                      channels=32, dropout=0.0, context_frames=8),
                    {"bone_direction": 0.015, "bone_length": 0.05, "context_mpjpe": 1.0, "joint_shift": 0.1})
    history = loaded.card.training["history"]
    assert loaded.card.architecture == "anatomy_aware" and loaded.causal and loaded.receptive_field == 9
    assert loaded.card.hyperparameters["parents"] == list(H36M17.parents)
    assert history[-1]["train_mpjpe_mm"] < 0.8 * history[0]["train_mpjpe_mm"]
    test = load_h36m(h36m_root, ("S9", "S11"), "gt")
    again = evaluate(loaded.model, test, 9, True)  # causal bone-length samples, a fixed seed
    assert again["p1_mm"] == pytest.approx(loaded.card.metrics["h36m_s9_s11"]["p1_mm"], rel=1e-4)
    assert set(again["structure"]) == {"symmetry_mm", "bone_std_mm", "bone_rmse_mm", "illegal_bend_pct"}


def test_articulated_model_and_structure_losses_train_end_to_end(tiny_config):
    loaded = _train(tiny_config, dict(architecture="articulated", linear_size=64, num_stages=1, dropout=0.0),
                    {"basic_mpjpe": 1.0, "hard_joint_mpjpe": 1.0, "symmetry": 0.05, "illegal_angle": 0.03,
                     "bone_ratio": 0.03})
    history = loaded.card.training["history"]
    assert loaded.card.hyperparameters["hard_joints"] == hard_joint_indices(H36M17)
    assert history[-1]["train_mpjpe_mm"] < 0.7 * history[0]["train_mpjpe_mm"]
    assert loaded.card.metrics["h36m_s9_s11"]["p1_mm"] > 0


def test_ugcn_with_motion_loss_trains_on_windows(tiny_config):
    loaded = _train(tiny_config, dict(architecture="ugcn", channels=8, window=16, dropout=0.0),
                    {"squared_position": 1.0, "motion": {"weight": 1.0, "intervals": [2, 4], "operators": ["cross"]}},
                    epochs=3, batch_size=4)
    assert loaded.card.sequence_window == 16 and loaded.receptive_field == 16
    history = loaded.card.training["history"]
    assert history[-1]["train_mpjpe_mm"] < history[0]["train_mpjpe_mm"]
    assert loaded.card.metrics["h36m_s9_s11"]["frames"] == 4 * 2 * 120  # sliding windows cover every frame


def test_deep_kinematics_trains_on_clips(tiny_config):
    loaded = _train(tiny_config, dict(architecture="deep_kinematics", window=5, channels=32, lstm_hidden=8,
                                      dropout=0.0, refine_2d=False),
                    {"bone_length_l1": 1.0, "bone_direction_cosine": 1.0, "composed_squared_position": 1.0,
                     "completion": 0.1}, epochs=3, batch_size=8)
    history = loaded.card.training["history"]
    assert loaded.card.hyperparameters["joint_names"] == list(H36M17.joint_names)
    assert history[-1]["train_mpjpe_mm"] < history[0]["train_mpjpe_mm"]


def test_deep_kinematics_2d_refiner_learns_from_the_projection_losses(tiny_config):
    """Xu's 2D stage: trained by projection consistency and the 2D loss against the true 2D."""
    loaded = _train(tiny_config, dict(architecture="deep_kinematics", window=5, channels=32, lstm_hidden=8,
                                      dropout=0.0, refine_2d=True),
                    {"temporal_2d": 1.0, "projection": {"weight": 0.1, "constancy": 1.0}},
                    epochs=2, batch_size=8, noise_std=0.01)
    last = loaded.model.refiner.net[-1]  # zero-initialised: non-zero only if the 2D losses reached it
    assert last.weight.abs().sum() > 0 and loaded.card.hyperparameters["refine_2d"]


def test_every_config_builds_its_model_and_objective():
    """Each training/configs/**/*.yaml loads, builds its model (widths shrunk so that the check
    stays fast) and its objective, and is named after its file."""
    import dataclasses
    from pathlib import Path

    from training.config import load_config
    from training.losses import build_objective
    from training.train import build_from_config

    configs = sorted((Path(__file__).resolve().parents[2] / "training" / "configs").rglob("*.yaml"))
    assert len(configs) > 40
    for path in configs:
        cfg = load_config(path)
        small = {k: 8 for k in ("channels", "linear_size", "lstm_hidden") if k in cfg.model.arguments}
        build_from_config(dataclasses.replace(cfg, model=dataclasses.replace(
            cfg.model, arguments={**cfg.model.arguments, **small})))
        assert cfg.name == path.stem and cfg.reference is not None, path.name
        build_objective(cfg.train.losses, cfg.layout, reference_lengths=torch.ones(cfg.layout.num_joints - 1))


def test_structure_metrics_by_hand(standing_pose):
    """Dabral et al. Table 6 and Tang et al. Table 3 metrics, as evaluate() reports them."""
    from pose3d_ros.metrics import bone_length_rmse, illegal_bend_share, symmetry_error
    from training.evaluate import structure_metrics

    poses = np.repeat(standing_pose[None], 4, axis=0)
    pairs = (((12, 11), (15, 14)),)  # left and right upper arm
    assert symmetry_error(poses, pairs) == pytest.approx([0.0], abs=1e-12)
    longer = poses.copy()
    longer[:, 15] += [-0.01, 0.0, 0.0]
    longer[:, 16] += [-0.01, 0.0, 0.0]
    upper = np.linalg.norm(standing_pose[15] - standing_pose[14])
    grown = np.linalg.norm(longer[0, 15] - longer[0, 14])
    assert symmetry_error(longer, pairs) == pytest.approx([grown - upper])
    assert bone_length_rmse(longer, poses, ((15, 14), (16, 15))) == pytest.approx([grown - upper, 0.0], abs=1e-12)
    assert illegal_bend_share(poses) == 0.0
    bent = poses.copy()
    bent[:2, 3, 2] = bent[:2, 2, 2] - 0.3  # the right shank swung to the wrong side of its hinge plane
    assert illegal_bend_share(bent) == pytest.approx(100 * 2 / 16)
    s = structure_metrics(longer, poses, H36M17)
    assert s["symmetry_mm"]["elbow"] == pytest.approx(1000 * (grown - upper)) and s["bone_std_mm"]["r_elbow"] == 0.0
