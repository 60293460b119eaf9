"""TP-Net refiner training: causal and centred (Bi-TP-Net) windows, cards, and the node's loader."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pose3d_ros.lifting.refinement import load_refiner
from pose3d_ros.networks.cards import load_model
from training.config import TrainingConfig
from training.train import train
from training.train_refiner import main, refine_sequence, windows


@pytest.mark.parametrize("centred", [False, True])
def test_windows_hold_the_past_or_both_sides_edge_padded(centred):
    pred = np.arange(6, dtype=np.float32)[:, None, None].repeat(3, -1)
    w = windows(pred, 5, centred)[..., 0, 0]
    offsets = np.arange(-2, 3) if centred else np.arange(-4, 1)
    assert np.array_equal(w, np.clip(np.arange(6)[:, None] + offsets, 0, 5))


def test_bidirectional_refiner_trains_and_is_refused_by_the_online_loader(tiny_config, h36m_root, tmp_path):
    torch.manual_seed(0)
    lifter = train(TrainingConfig.from_dict(tiny_config), resume=False)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "h36m").symlink_to(h36m_root)
    out = tmp_path / "bi_refiner"
    main(["--lifter", str(lifter), "--output", str(out), "--data-root", str(tmp_path / "data"), "--bidirectional",
          "--window", "5", "--hidden", "16", "--cameras", "1", "--minutes", "0.02", "--inputs", "sh"])
    loaded = load_model(out.with_suffix(".json"))
    assert loaded.card.architecture == "bi_tpnet_refiner" and loaded.card.causal is False
    assert loaded.card.training["inputs"] == "sh"
    for inputs in ("gt", "sh"):
        assert set(loaded.card.metrics[f"h36m_s9_s11_{inputs}_frame_weighted"]) >= {"lifter_p1_mm", "refined_p1_mm"}
    assert refine_sequence(loaded.model, np.zeros((7, 17, 3), np.float32)).shape == (7, 17, 3)
    with pytest.raises(ValueError, match="past poses only"):
        load_refiner(out.with_suffix(".json"))
