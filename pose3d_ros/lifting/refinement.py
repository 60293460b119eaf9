"""Online temporal refinement of lifted poses.

- :class:`BoneLengthEstimator`: a track's bone lengths from frames sampled across its whole
  history (the anatomy-aware idea of Chen et al. 2021, made causal): a reservoir keeps a
  uniform sample of the track's frames, the estimate is the confidence-weighted median of
  each bone's length over the sample, left and right averaged.
- :class:`CausalRefiner`: a TP-Net-style network (Dabral et al. 2018, Sect. 3.2): fully
  connected layers over the last ``window`` poses of the lifter predict the current pose.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..constraints import symmetrize
from ..networks.cards import LifterCard, LoadedModel, load_model
from ..networks.tpnet import CausalRefiner
from ..skeleton import H36M17


class BoneLengthEstimator:
    """Bone lengths of one track; memory is ``capacity`` frames however long the track."""

    def __init__(self, capacity: int = 64, min_frames: int = 5, seed: int = 0) -> None:
        self.capacity, self.min_frames = capacity, min_frames
        self.lengths = np.zeros((capacity, len(H36M17.bones)))
        self.weights = np.zeros((capacity, len(H36M17.bones)))
        self.seen = 0
        self.rng = np.random.default_rng(seed)
        self._estimate: np.ndarray | None = None

    def add(self, lengths: np.ndarray, confidence: np.ndarray) -> None:
        """One frame's bone lengths (16,) and its joint confidences (17,)."""
        slot = self.seen if self.seen < self.capacity else int(self.rng.integers(0, self.seen + 1))
        self.seen += 1
        self._estimate = None
        if slot < self.capacity:
            self.lengths[slot] = lengths
            child, parent = list(H36M17.bone_children), list(H36M17.bone_parents)
            self.weights[slot] = np.minimum(confidence[child], confidence[parent])

    def estimate(self) -> np.ndarray | None:
        """(16,) lengths, or None before ``min_frames`` frames."""
        if self.seen < self.min_frames:
            return None
        if self._estimate is None:
            n = min(self.seen, self.capacity)
            self._estimate = symmetrize(weighted_median(self.lengths[:n], self.weights[:n]))
        return self._estimate


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per column of (N, K) values; columns whose weights are all zero weigh equally."""
    weights = np.where(weights.sum(axis=0) > 0, weights, 1.0)
    order = np.argsort(values, axis=0)
    v, w = np.take_along_axis(values, order, 0), np.take_along_axis(weights, order, 0)
    cum = np.cumsum(w, axis=0)
    idx = np.argmax(cum >= 0.5 * cum[-1], axis=0)
    return v[idx, np.arange(values.shape[1])]


def refiner_mismatch(refiner_card: LifterCard, lifter: LoadedModel) -> str | None:
    """Why a refiner may not fit ``lifter`` (it was trained on another lifter's outputs: another
    file name or other weights), or None when it fits or its card does not say."""
    name, sha = refiner_card.lifter, refiner_card.lifter_sha256
    if name is not None and name != lifter.path.name:
        return f"it was trained on the outputs of {name}, not {lifter.path.name}"
    if sha is not None and sha != lifter.card.sha256:
        return f"it was trained on the outputs of other {lifter.path.name} weights (sha256 {sha[:12]}...)"
    return None


def load_refiner(path: str | Path) -> LoadedModel:
    """A refiner saved with networks.cards.save_model (architecture ``tpnet_refiner``)."""
    loaded = load_model(path)
    if not isinstance(loaded.model, CausalRefiner) or not getattr(loaded.model, "causal", True):
        raise ValueError(f"{loaded.path} is a {loaded.card.architecture}, not a tpnet_refiner: the lifter "
                         "refines online, from past poses only")
    return loaded
