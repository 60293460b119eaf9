"""Typed training configs: every shipped config loads as written, unknown keys are refused naming
the key and the file, and the defaults live in training.config."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pose3d_ros.skeleton import H36M17, HUMANEVA15
from training.config import ConfigError, TrainingConfig, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "training" / "configs").rglob("*.yaml"))


def _as_read(value):
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_config_loads_with_the_values_it_states(path):
    cfg = load_config(path)
    raw = yaml.safe_load(path.read_text())
    assert cfg.raw == raw and cfg.source == str(path)
    for section in ("data", "train", "output"):
        for key, value in raw[section].items():
            typed = getattr(getattr(cfg, section), key)
            if key in ("bone_length_augmentation", "virtual_cameras"):  # sections: each stated key as stated
                assert {k: _as_read(getattr(typed, k)) for k in value} == {k: _as_read(v) for k, v in value.items()}
            else:
                assert typed == _as_read(value), (path.name, section, key)
    stated = {k: v for k, v in raw["model"].items() if k not in ("architecture", "receptive_field", "in_features")}
    assert cfg.model.arguments == stated


def _minimal(**sections) -> dict:
    cfg = {"name": "m", "data": {"root": "d"}, "model": {"receptive_field": 9, "causal": True, "channels": 16},
           "train": {"epochs": 1, "batch_size": 2, "lr": 0.001, "chunk": 4}, "output": {"dir": "o", "export": "o/m"}}
    for name, values in sections.items():
        cfg[name] = dict(cfg[name], **values)
    return cfg


def test_defaults():
    cfg = TrainingConfig.from_dict(_minimal())
    assert cfg.data.dataset == "h36m" and cfg.data.kinds == ("gt",) and cfg.data.frame_step == 1
    t = cfg.train
    assert (t.flip, t.lr_decay, t.seed, t.threads, t.device, t.amp) == (True, 0.95, 1, None, "auto", True)
    assert (t.noise_std, t.scale_range, t.joint_dropout, t.bone_length_augmentation, t.losses) == (0.0, None, 0.0,
                                                                                                   None, {})
    assert cfg.model.architecture == "temporal_conv" and cfg.model.target == "pose" and not cfg.output.half
    assert cfg.reference is None and cfg.layout is H36M17


def test_misspelt_keys_are_refused_naming_the_key_and_the_file(tmp_path):
    cases = {
        "top": dict(_minimal(), refrence={"source": "x"}),
        "data": _minimal(data={"fram_step": 2}),
        "train": _minimal(train={"nosie_std": 0.01}),
        "model": _minimal(model={"chanels": 8}),
        "loss": _minimal(train={"losses": {"motion": {"weight": 1.0, "intervalls": [4]}}}),
        "augmentation": _minimal(model={"architecture": "anatomy_aware"},
                                 train={"bone_length_augmentation": {"scale": [0.9, 1.1]}}),
        "output": _minimal(output={"halve": True}),
    }
    expected = {"top": "refrence", "data": "fram_step", "train": "nosie_std", "model": "chanels",
                "loss": "intervalls", "augmentation": "scale", "output": "halve"}
    for case, raw in cases.items():
        path = tmp_path / f"{case}.yaml"
        path.write_text(yaml.safe_dump(raw))
        with pytest.raises(ConfigError, match=f"{path}.*'{expected[case]}'"):
            load_config(path)


def test_bad_values_are_refused():
    with pytest.raises(ConfigError, match="missing key 'lr'"):
        TrainingConfig.from_dict(dict(_minimal(), train={"epochs": 1, "batch_size": 2}), "x.yaml")
    with pytest.raises(ConfigError, match="x.yaml: train: epochs must be int"):
        TrainingConfig.from_dict(_minimal(train={"epochs": "ten"}), "x.yaml")
    with pytest.raises(ConfigError, match="unknown loss 'mpjp'"):
        TrainingConfig.from_dict(_minimal(train={"losses": {"mpjp": 1.0}}), "x.yaml")
    with pytest.raises(ConfigError, match="unknown dataset 'h37m'"):
        TrainingConfig.from_dict(_minimal(data={"dataset": "h37m"}), "x.yaml")
    with pytest.raises(ConfigError, match="ground-truth 2D inputs only"):
        TrainingConfig.from_dict(_minimal(data={"dataset": "humaneva", "inputs": "sh"}), "x.yaml")
    with pytest.raises(ConfigError, match="humaneva is read in the formats \\['compact', 'videopose3d'\\]"):
        TrainingConfig.from_dict(_minimal(data={"dataset": "humaneva", "format": "martinez"}), "x.yaml")
    with pytest.raises(ConfigError, match="unknown architecture 'tcn'"):
        TrainingConfig.from_dict(_minimal(model={"architecture": "tcn"}), "x.yaml")
    with pytest.raises(ConfigError, match="martinez_mlp takes no receptive_field"):
        TrainingConfig.from_dict(_minimal(model={"architecture": "martinez_mlp"}), "x.yaml")
    with pytest.raises(ConfigError, match="x.yaml: train: device must be auto, cpu or cuda"):
        TrainingConfig.from_dict(_minimal(train={"device": "gpu"}), "x.yaml")
    with pytest.raises(ConfigError, match="scale_range"):
        TrainingConfig.from_dict(_minimal(train={"scale_range": [0.0, 2.0]}), "x.yaml")


def test_model_hyperparameters_follow_the_dataset():
    cfg = TrainingConfig.from_dict(_minimal(data={"dataset": "humaneva"}, model={"target": "trajectory"}))
    hyper = cfg.model.hyperparameters(cfg.layout)
    assert hyper == {"num_joints_in": 15, "in_features": 2, "num_joints_out": 1, "causal": True, "channels": 16,
                     "filter_widths": [3, 3]}
    ugcn = TrainingConfig.from_dict(dict(_minimal(), model={"architecture": "ugcn", "channels": 8, "window": 16}))
    hyper = ugcn.model.hyperparameters(HUMANEVA15)
    assert hyper["parents"] == list(HUMANEVA15.parents) and hyper["window"] == 16
