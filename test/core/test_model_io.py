"""save_model / load_model: round trip, fp16 storage, and errors that name the bad file."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from pose3d_ros.networks import build_model
from pose3d_ros.networks.cards import CARD_FORMAT, LifterCard, ModelLoadError, load_model, save_model


def _built(card: LifterCard) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(card.architecture, card.hyperparameters)


@pytest.fixture
def saved(tmp_path, tiny_card, trained_like):
    card = tiny_card(training={"epochs": 1}, metrics={"mpjpe_mm": 99.0})
    model = trained_like(_built(card))
    cpath = save_model(model, tmp_path / "lifter", card)
    return model, cpath


def test_round_trip_identical_outputs(saved, tmp_path):
    model, cpath = saved
    assert cpath == tmp_path / "lifter.json"
    assert (tmp_path / "lifter.safetensors").is_file()
    loaded = load_model(cpath)
    assert not loaded.model.training
    assert loaded.receptive_field == 9 and loaded.causal is True
    assert loaded.path == cpath
    assert loaded.card.format == CARD_FORMAT
    assert loaded.card.weights == "lifter.safetensors"
    assert loaded.card.metrics == {"mpjpe_mm": 99.0}
    assert loaded.card.parameters == sum(p.numel() for p in model.parameters())
    x = torch.randn(3, 12, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x), rtol=0, atol=0)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k


@pytest.mark.parametrize("name", ["lifter", "lifter.safetensors", "lifter.json"])
def test_load_accepts_stem_weights_or_card(saved, tmp_path, name):
    assert load_model(tmp_path / name).path == tmp_path / "lifter.json"


def test_half_precision_storage(tmp_path, tiny_card, trained_like):
    card = tiny_card()
    model = trained_like(_built(card))
    full = save_model(model, tmp_path / "full", card)
    half = save_model(model, tmp_path / "half", card, half=True)
    with safe_open(str(tmp_path / "half.safetensors"), framework="pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys() if f.get_tensor(k).is_floating_point()}
        # integer buffers (num_batches_tracked) stay integers
        assert f.get_tensor("expand_bn.num_batches_tracked").dtype == torch.int64
    assert dtypes == {torch.float16}
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (tmp_path / "full.safetensors").stat().st_size
    loaded = load_model(half)
    assert all(v.dtype == torch.float32 for v in loaded.model.state_dict().values() if v.is_floating_point())
    x = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        ref = load_model(full).model(x)
        out = loaded.model(x)
    assert not torch.equal(out, ref)  # really rounded
    torch.testing.assert_close(out, ref, rtol=1e-2, atol=1e-2)


def test_missing_card(tmp_path):
    with pytest.raises(ModelLoadError, match=re.escape(str(tmp_path / "nothing.json"))):
        load_model(tmp_path / "nothing")


def test_missing_weights(saved, tmp_path):
    (tmp_path / "lifter.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="weights file not found") as info:
        load_model(tmp_path / "lifter.json")
    assert str(tmp_path / "lifter.safetensors") in str(info.value)


def test_corrupt_weights_sha_mismatch(saved, tmp_path):
    wpath = tmp_path / "lifter.safetensors"
    data = bytearray(wpath.read_bytes())
    data[-10:] = bytes(b ^ 0xFF for b in data[-10:])
    wpath.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256") as info:
        load_model(tmp_path / "lifter.json")
    assert str(wpath) in str(info.value)


def test_invalid_json(saved, tmp_path):
    cpath = tmp_path / "lifter.json"
    cpath.write_text("{ not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="not valid JSON") as info:
        load_model(cpath)
    assert str(cpath) in str(info.value)


@pytest.mark.parametrize("key", ["architecture", "hyperparameters", "layout", "receptive_field", "causal",
                                 "input_normalization", "weights", "sha256"])
def test_card_lacking_keys(saved, tmp_path, key):
    cpath = tmp_path / "lifter.json"
    card = json.loads(cpath.read_text())
    del card[key]
    cpath.write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match=repr(key)) as info:
        LifterCard.load(cpath)
    assert str(cpath) in str(info.value)
    with pytest.raises(ModelLoadError):
        load_model(cpath)


def test_card_inconsistent_with_weights(saved, tmp_path):
    cpath = tmp_path / "lifter.json"
    card = json.loads(cpath.read_text())
    card["hyperparameters"]["channels"] = 32  # weights were saved with 16
    cpath.write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="cannot load") as info:
        load_model(cpath)
    assert str(cpath) in str(info.value) and "lifter.safetensors" in str(info.value)
    card["hyperparameters"] = {"no_such_argument": 1}
    cpath.write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_model(cpath)
    card["architecture"] = "nope"
    cpath.write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="nope"):
        load_model(cpath)


MODELS = sorted((Path(__file__).resolve().parents[2] / "models").glob("*.json"))


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_shipped_cards_load_and_keep_their_fields(path):
    card = LifterCard.load(path)
    stored = json.loads(path.read_text())
    assert card.to_dict() == {k: v for k, v in stored.items() if v is not None}  # null fields are left out
    assert card.weights == path.with_suffix(".safetensors").name and len(card.sha256) == 64


@pytest.mark.parametrize("field, value, message", [
    ("recptive_field", 9, "unknown fields \\['recptive_field'\\]"),
    ("receptive_field", 0, "receptive_field must be a positive"),
    ("causal", "yes", "causal must be true or false"),
    ("layout", "smpl24", "unknown skeleton layout 'smpl24'"),
    ("input_normalization", "pixels", "input_normalization must be one of"),
    ("format", "pose3d_ros/model-card/0", "format is"),
])
def test_card_with_a_bad_field_is_refused_naming_the_file(saved, tmp_path, field, value, message):
    cpath = tmp_path / "lifter.json"
    cpath.write_text(json.dumps(dict(json.loads(cpath.read_text()), **{field: value})))
    with pytest.raises(ModelLoadError, match=message) as info:
        load_model(cpath)
    assert str(cpath) in str(info.value)


def test_saved_card_round_trips(saved, tmp_path):
    model, cpath = saved
    card = LifterCard.load(cpath)
    again = LifterCard.load(save_model(model, tmp_path / "again", card))
    assert again == dataclasses.replace(card, weights="again.safetensors")
