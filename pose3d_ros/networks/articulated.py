"""Tang et al., "An Articulated Structure-aware Network for 3D Human Pose Estimation".

A Martinez et al. basic network whose first layer carries the random enhancement module
(REM: ReLU and dropout in a residual branch), cascaded with a refinement network that
re-predicts the hard joints (elbows, wrists, knees, ankles) from the coarse 3D pose; the
attention module (AM, Eq. 6-8) fuses the basic network's features into the refinement
network's last feature. Single frame: (B, T, J_in, F) -> (B, T, J_out, 3).

``fusion`` selects the rows of the paper's Table 2: "none" (basic+ref), "direct" (AM*: the
basic network's last feature added without attention) or "attention" (AM); ``refine=False``
is the basic network alone.
"""
from __future__ import annotations

import torch
from torch import nn

from ..skeleton import SkeletonLayout
from .shape_check import input_shape

HARD_JOINT_SUFFIXES = ("elbow", "wrist", "knee", "ankle")


def hard_joint_indices(layout: SkeletonLayout) -> list[int]:
    """The layout's elbows, wrists, knees and ankles."""
    return [i for i, n in enumerate(layout.joint_names) if n.split("_", 1)[-1] in HARD_JOINT_SUFFIXES]


def _dense(size_in: int, size_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(size_in, size_out), nn.BatchNorm1d(size_out))


class AttentionFusion(nn.Module):
    """Eq. 6-8: att_i = 1 - sigmoid(w_i * ||F_i - F*||), F* <- F* + sum_i att_i * F_i."""

    def __init__(self, num_features: int, size: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(num_features, size))

    def forward(self, features: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        out = target
        for w, f in zip(self.w, features):
            sim = w * torch.linalg.norm(f - target, dim=-1, keepdim=True)
            out = out + (1.0 - torch.sigmoid(sim)) * f
        return out


class ArticulatedNet(nn.Module):
    """Basic network (with REM) + hard-joint refinement network + attention fusion."""

    receptive_field = 1
    causal = True
    has_parts = True

    def __init__(self, num_joints_in: int = 17, in_features: int = 2, num_joints_out: int = 17,
                 hard_joints: tuple[int, ...] = (2, 3, 5, 6, 12, 13, 15, 16), linear_size: int = 1024,
                 num_stages: int = 2, refine_layers: int = 2, dropout: float = 0.5, rem: bool = True,
                 refine: bool = True, fusion: str = "attention") -> None:
        super().__init__()
        if fusion not in ("none", "direct", "attention"):
            raise ValueError(f"fusion must be none, direct or attention, got {fusion!r}")
        self.num_joints_in, self.in_features, self.num_joints_out = num_joints_in, in_features, num_joints_out
        self.hard_joints = list(hard_joints)
        self.rem, self.refine, self.fusion = rem, refine, fusion
        self.relu, self.drop = nn.ReLU(), nn.Dropout(dropout)
        self.inp = _dense(num_joints_in * in_features, linear_size)
        self.stages = nn.ModuleList(nn.ModuleList([_dense(linear_size, linear_size), _dense(linear_size, linear_size)])
                                    for _ in range(num_stages))
        self.out = nn.Linear(linear_size, num_joints_out * 3)
        if refine:
            sizes = [num_joints_out * 3] + [linear_size] * refine_layers
            self.refine_layers = nn.ModuleList(_dense(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.attention = AttentionFusion(num_stages + 1, linear_size) if fusion == "attention" else None
            self.refine_out = nn.Linear(linear_size, 3 * len(self.hard_joints))

    def forward(self, x: torch.Tensor, return_parts: bool = False):
        b, t, j, f = input_shape(self, x)
        h = self.inp(x.reshape(b * t, j * f))
        # REM (Fig. 4): the first layer's features pass unchanged beside ReLU + dropout.
        y = h + self.drop(self.relu(h)) if self.rem else self.drop(self.relu(h))
        features = [y]
        for lin1, lin2 in self.stages:
            y = y + self.drop(self.relu(lin2(self.drop(self.relu(lin1(y))))))
            features.append(y)
        basic = self.out(y)
        pose = basic.reshape(b, t, self.num_joints_out, 3)
        if self.refine:
            r = basic
            for layer in self.refine_layers:
                r = self.drop(self.relu(layer(r)))
            if self.fusion == "attention":
                r = self.attention(features, r)
            elif self.fusion == "direct":
                r = r + features[-1]
            hard = self.refine_out(r).reshape(b, t, len(self.hard_joints), 3)
            pose = pose.clone()
            pose[:, :, self.hard_joints] = hard
        if return_parts:
            return {"pose": pose, "basic": basic.reshape(b, t, self.num_joints_out, 3)}
        return pose
