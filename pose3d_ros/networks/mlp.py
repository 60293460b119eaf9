"""Martinez et al. 2017 single-frame baseline."""
from __future__ import annotations

import torch
from torch import nn

from .shape_check import input_shape


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
        b, t, j, f = input_shape(self, x)
        y = self.drop(self.relu(self.inp_bn(self.inp(x.reshape(b * t, j * f)))))
        for lin1, bn1, lin2, bn2 in self.stages:
            h = self.drop(self.relu(bn1(lin1(y))))
            y = y + self.drop(self.relu(bn2(lin2(h))))
        return self.out(y).reshape(b, t, self.num_joints_out, 3)
