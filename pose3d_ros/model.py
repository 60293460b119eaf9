"""Lifting networks: 2D keypoint sequences in, root-relative 3D poses out.

TemporalConvModel follows VideoPose3D (Pavllo et al. 2019): dilated 1D convolutions over
time, symmetric (offline) or causal (online); with one output joint it is the trajectory
model (the root's camera-frame position). SingleFrameMLP is the Martinez et al. single-frame
baseline. Every model maps (B, T, J_in, F) to (B, T - receptive_field + 1, J_out, 3), except
sequence-to-sequence models, which have a ``sequence_window`` and map (B, T, ...) to (B, T, ...).
Models with ``has_parts`` also return their intermediate outputs with ``return_parts=True``
(for the training losses); models with ``needs_context`` take sampled frames of the whole
sequence (``context``, ``context_index``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .anatomy_model import AnatomyAwareModel
from .articulated_model import ArticulatedNet
from .kinematics_model import DeepKinematicsModel
from .tpnet import BidirectionalRefiner, CausalRefiner
from .ugcn import UGCN


class TemporalConvModel(nn.Module):
    """Dilated temporal convolutions with residual blocks.

    Input (B, T, J_in, F) -> output (B, T - receptive_field + 1, J_out, 3). In the causal
    variant the output for frame t uses frames t - receptive_field + 1 .. t only.
    """

    def __init__(self, num_joints_in: int = 17, in_features: int = 2, num_joints_out: int = 17,
                 filter_widths: tuple[int, ...] = (3, 3, 3), causal: bool = False,
                 dropout: float = 0.25, channels: int = 1024) -> None:
        super().__init__()
        if any(w % 2 == 0 for w in filter_widths):
            raise ValueError(f"filter widths must be odd, got {filter_widths}")
        self.num_joints_in, self.in_features, self.num_joints_out = num_joints_in, in_features, num_joints_out
        self.filter_widths = tuple(filter_widths)
        self.causal = causal
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)
        self.expand_conv = nn.Conv1d(num_joints_in * in_features, channels, filter_widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.pads = [filter_widths[0] // 2]
        convs, bns = [], []
        dilation = filter_widths[0]
        for width in filter_widths[1:]:
            self.pads.append((width - 1) * dilation // 2)
            convs += [nn.Conv1d(channels, channels, width, dilation=dilation, bias=False),
                      nn.Conv1d(channels, channels, 1, bias=False)]
            bns += [nn.BatchNorm1d(channels, momentum=0.1), nn.BatchNorm1d(channels, momentum=0.1)]
            dilation *= width
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)
        self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)

    @property
    def receptive_field(self) -> int:
        return 1 + 2 * sum(self.pads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, j, f = x.shape
        if (j, f) != (self.num_joints_in, self.in_features):
            raise ValueError(f"expected (B, T, {self.num_joints_in}, {self.in_features}), got {tuple(x.shape)}")
        x = x.reshape(b, t, j * f).permute(0, 2, 1)
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        for i, pad in enumerate(self.pads[1:]):
            start = 2 * pad if self.causal else pad
            res = x[:, :, start: x.shape[2] - 2 * pad + start]
            x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
            x = res + self.drop(self.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))
        x = self.shrink(x).permute(0, 2, 1)
        return x.reshape(b, -1, self.num_joints_out, 3)


class SingleFrameMLP(nn.Module):
    """Martinez et al. 2017 ("A simple yet effective baseline"): residual blocks of
    Linear-BatchNorm-ReLU-Dropout on one frame. Input (B, T, J_in, F) -> (B, T, J_out, 3)."""

    receptive_field = 1
    causal = True

    def __init__(self, num_joints_in: int = 17, in_features: int = 2, num_joints_out: int = 17,
                 linear_size: int = 1024, num_stages: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_joints_in, self.in_features, self.num_joints_out = num_joints_in, in_features, num_joints_out
        self.inp = nn.Linear(num_joints_in * in_features, linear_size)
        self.inp_bn = nn.BatchNorm1d(linear_size)
        self.stages = nn.ModuleList(
            nn.ModuleList([nn.Linear(linear_size, linear_size), nn.BatchNorm1d(linear_size),
                           nn.Linear(linear_size, linear_size), nn.BatchNorm1d(linear_size)])
            for _ in range(num_stages))
        self.out = nn.Linear(linear_size, num_joints_out * 3)
        self.relu = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, j, f = x.shape
        if (j, f) != (self.num_joints_in, self.in_features):
            raise ValueError(f"expected (B, T, {self.num_joints_in}, {self.in_features}), got {tuple(x.shape)}")
        y = self.drop(self.relu(self.inp_bn(self.inp(x.reshape(b * t, j * f)))))
        for lin1, bn1, lin2, bn2 in self.stages:
            h = self.drop(self.relu(bn1(lin1(y))))
            y = y + self.drop(self.relu(bn2(lin2(h))))
        return self.out(y).reshape(b, t, self.num_joints_out, 3)


# The seed papers' architectures (issue 5) live in one module each; docs/seed_models.md maps them to the papers.
ARCHITECTURES: dict[str, type[nn.Module]] = {
    "temporal_conv": TemporalConvModel, "martinez_mlp": SingleFrameMLP, "anatomy_aware": AnatomyAwareModel,
    "ugcn": UGCN, "deep_kinematics": DeepKinematicsModel, "articulated": ArticulatedNet,
    "tpnet_refiner": CausalRefiner, "bi_tpnet_refiner": BidirectionalRefiner,
}


def set_bn_momentum(model: nn.Module, momentum: float) -> None:
    """Set the momentum of every batch-norm layer (VideoPose3D decays it during training)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum


def build_model(architecture: str, hyperparameters: dict) -> nn.Module:
    """Instantiate a registered architecture from its model-card hyper-parameters."""
    try:
        cls = ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(f"unknown architecture {architecture!r}; known: {sorted(ARCHITECTURES)}") from None
    return cls(**hyperparameters)


def filter_widths_for(receptive_field: int, width: int = 3) -> tuple[int, ...]:
    """Filter widths giving the requested receptive field (1, 27, 81, 243 with width 3)."""
    n = round(math.log(receptive_field, width)) if receptive_field > 1 else 0
    if width ** n != receptive_field:
        raise ValueError(f"receptive field {receptive_field} is not a power of {width}")
    return (1, 1, 1) if n == 0 else (width,) * n
