"""VideoPose3D's temporal convolution network (Pavllo et al. 2019): dilated 1D convolutions over
time, symmetric (offline) or causal (online); with one output joint it is the trajectory
model (the root's camera-frame position)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .shape_check import input_shape


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
        b, t, j, f = input_shape(self, x)
        x = x.reshape(b, t, j * f).permute(0, 2, 1)
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        for i, pad in enumerate(self.pads[1:]):
            start = 2 * pad if self.causal else pad
            res = x[:, :, start: x.shape[2] - 2 * pad + start]
            x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
            x = res + self.drop(self.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))
        x = self.shrink(x).permute(0, 2, 1)
        return x.reshape(b, -1, self.num_joints_out, 3)


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
