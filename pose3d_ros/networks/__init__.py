"""The model zoo (torch only): every lifting and refining network, built by name from a model card.

Every model maps (B, T, J_in, F) to (B, T - receptive_field + 1, J_out, 3), except
sequence-to-sequence models, which have a ``sequence_window`` and map (B, T, ...) to (B, T, ...).
Models with ``has_parts`` also return their intermediate outputs with ``return_parts=True``
(for the training losses); models with ``needs_context`` take sampled frames of the whole
sequence (``context``, ``context_index``). docs/seed_models.md maps them to the papers.
"""
from __future__ import annotations

from torch import nn

from .anatomy import AnatomyAwareModel
from .articulated import ArticulatedNet
from .kinematics import DeepKinematicsModel
from .mlp import SingleFrameMLP
from .tcn import TemporalConvModel
from .tpnet import BidirectionalRefiner, CausalRefiner
from .ugcn import UGCN

# The seed papers' architectures (issue 5) live in one module each; docs/seed_models.md maps them to the papers.
ARCHITECTURES: dict[str, type[nn.Module]] = {
    "temporal_conv": TemporalConvModel, "martinez_mlp": SingleFrameMLP, "anatomy_aware": AnatomyAwareModel,
    "ugcn": UGCN, "deep_kinematics": DeepKinematicsModel, "articulated": ArticulatedNet,
    "tpnet_refiner": CausalRefiner, "bi_tpnet_refiner": BidirectionalRefiner,
}


def build_model(architecture: str, hyperparameters: dict) -> nn.Module:
    """Instantiate a registered architecture from its model-card hyper-parameters."""
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r}; known: {sorted(ARCHITECTURES)}") from None
    return cls(**hyperparameters)
