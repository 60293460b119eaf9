"""VideoPose3D's temporal convolution network (Pavllo et al. 2019): dilated 1D convolutions over
time, symmetric (offline) or causal (online); with one output joint it is the trajectory
model (the root's camera-frame position)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .shape_check import input_shape


class DilatedTrunk(nn.Module):
    """VideoPose3D's dilated residual trunk, shared by TemporalConvModel and the anatomy-aware
    model: an expanding convolution, then per filter width a dilated convolution and a 1x1
    convolution with a residual connection, each followed by batch norm, ReLU and dropout.

    ``score_channels`` > 0 adds Chen et al.'s implicit attention after the expansion: the
    features are concatenated with themselves weighted by an embedding of per-joint scores.
    Input (B, C_in, T); :meth:`features` returns every block's output (the last is the trunk's).
    """

    def __init__(self, in_channels: int, channels: int, filter_widths: tuple[int, ...], causal: bool,
                 dropout: float, score_channels: int = 0) -> None:
        super().__init__()
        if any(w % 2 == 0 for w in filter_widths):
            raise ValueError(f"filter widths must be odd, got {filter_widths}")
        self.filter_widths, self.causal = tuple(filter_widths), causal
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)
        self.expand_conv = nn.Conv1d(in_channels, channels, filter_widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
        self.score_conv, self.score_bn = (
            (nn.Conv1d(score_channels, channels, filter_widths[0], bias=False), nn.BatchNorm1d(channels, momentum=0.1))
            if score_channels else (None, None))
        self.pads = [filter_widths[0] // 2]
        convs, bns = [], []
        dilation = filter_widths[0]
        for k, width in enumerate(filter_widths[1:]):
            c_in = 2 * channels if (k == 0 and score_channels) else channels
            self.pads.append((width - 1) * dilation // 2)
            convs += [nn.Conv1d(c_in, channels, width, dilation=dilation, bias=False),
                      nn.Conv1d(channels, channels, 1, bias=False)]
            bns += [nn.BatchNorm1d(channels, momentum=0.1), nn.BatchNorm1d(channels, momentum=0.1)]
            dilation *= width
        self.layers_conv = nn.ModuleList(convs)
        self.layers_bn = nn.ModuleList(bns)

    @property
    def receptive_field(self) -> int:
        return 1 + 2 * sum(self.pads)

    def features(self, x: torch.Tensor, scores: torch.Tensor | None = None) -> list[torch.Tensor]:
        """(B, C_in, T) [and scores (B, C_score, T)] -> every block's output (B, channels, T_k)."""
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        feats = [x]
        if self.score_conv is not None:  # implicit attention: [h, h * g(scores)]
            x = torch.cat([x, x * self.drop(self.relu(self.score_bn(self.score_conv(scores))))], dim=1)
        for i, pad in enumerate(self.pads[1:]):
            start = 2 * pad if self.causal else pad
            res = feats[-1][:, :, start: feats[-1].shape[2] - 2 * pad + start]
            x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
            x = res + self.drop(self.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))
            feats.append(x)
        return feats


class TemporalConvModel(DilatedTrunk):
    """VideoPose3D's lifter: the dilated trunk and a 1x1 convolution to the joints.

    Input (B, T, J_in, F) -> output (B, T - receptive_field + 1, J_out, 3). In the causal
    variant the output for frame t uses frames t - receptive_field + 1 .. t only.
    """

    def __init__(self, num_joints_in: int = 17, in_features: int = 2, num_joints_out: int = 17,
                 filter_widths: tuple[int, ...] = (3, 3, 3), causal: bool = False,
                 dropout: float = 0.25, channels: int = 1024) -> None:
        super().__init__(num_joints_in * in_features, channels, filter_widths, causal, dropout)
        self.num_joints_in, self.in_features, self.num_joints_out = num_joints_in, in_features, num_joints_out
        self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, j, f = input_shape(self, x)
        x = self.features(x.reshape(b, t, j * f).permute(0, 2, 1))[-1]
        return self.shrink(x).permute(0, 2, 1).reshape(b, -1, self.num_joints_out, 3)


def set_bn_momentum(model: nn.Module, momentum: float) -> None:
    """Set the momentum of every batch-norm layer (VideoPose3D decays it during training)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum



def filter_widths_for(receptive_field: int, width: int = 3) -> tuple[int, ...]:
    """Filter widths giving the requested receptive field (1, 27, 81, 243 with width 3)."""
    n = round(math.log(receptive_field, width)) if receptive_field > 1 else 0
    if width ** n != receptive_field:
        raise ValueError(f"receptive field {receptive_field} is not a power of {width}")
    return (1, 1, 1) if n == 0 else (width,) * n
