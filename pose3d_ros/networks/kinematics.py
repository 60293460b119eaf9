"""Xu et al., "Deep Kinematics Analysis for Monocular 3D Human Pose Estimation" (CVPR 2020).

On a short clip of T <= 9 frames (sequence to sequence, (B, T, J, F) -> (B, T, J, 3)):

1. 2D temporal refinement (optional): a temporal convolutional encoder-decoder correcting the
   2D keypoints, trained with the projection-consistency loss (training/losses.projection).
2. Decomposed 3D estimation on global-local inputs [P, dP, |dP|^2] (dP: child minus parent):
   a length head (per-frame features averaged over the clip -> one length per bone) and a
   direction head (per frame, L2-normalised), composed along the tree (Eq. 5).
3. Trajectory completion: in training, limb joints (elbows, wrists, knees, ankles) of the
   composed pose are dropped with rate 1 - confidence (``limb_drop_rate`` where the inputs
   carry no confidence); a bi-directional LSTM completes the sequence (Eq. 7 loss).

The supplementary material's layer sizes are not in our copy: the heads are Martinez-style
residual MLPs of ``channels`` units, the refiner two 3-tap convolutions, the LSTM
``lstm_hidden`` units per direction.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..skeleton import H36M17, bones_of
from .anatomy import compose_bones
from .articulated import HARD_JOINT_SUFFIXES
from .shape_check import input_shape


def _mlp(size_in: int, channels: int, size_out: int, dropout: float) -> nn.ModuleDict:
    return nn.ModuleDict({
        "inp": nn.Sequential(nn.Linear(size_in, channels), nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout)),
        "block": nn.Sequential(nn.Linear(channels, channels), nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout),
                               nn.Linear(channels, channels), nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout)),
        "out": nn.Linear(channels, size_out),
    })


def _features(mlp: nn.ModuleDict, x: torch.Tensor) -> torch.Tensor:
    y = mlp["inp"](x.reshape(-1, x.shape[-1]))
    return (y + mlp["block"](y)).reshape(*x.shape[:-1], -1)


class TemporalRefiner2D(nn.Module):
    """(B, T, J, 2) -> refined (B, T, J, 2): input plus a temporal-convolution correction."""

    def __init__(self, num_joints: int, channels: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(2 * num_joints, channels, 3, padding=1, padding_mode="replicate"), nn.ReLU(),
                                 nn.Conv1d(channels, channels, 3, padding=1, padding_mode="replicate"), nn.ReLU(),
                                 nn.Conv1d(channels, 2 * num_joints, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        b, t, j, _ = p.shape
        return p + self.net(p.reshape(b, t, 2 * j).permute(0, 2, 1)).permute(0, 2, 1).reshape(b, t, j, 2)


class DeepKinematicsModel(nn.Module):
    """2D refinement -> decomposed length/direction lifting -> trajectory completion."""

    causal = False
    has_parts = True

    def __init__(self, num_joints_in: int = 17, in_features: int = 2, num_joints_out: int = 17,
                 parents: tuple[int, ...] = H36M17.parents,
                 joint_names: tuple[str, ...] = (), window: int = 9, channels: int = 1024, dropout: float = 0.25,
                 refine_2d: bool = True, completion: bool = True, limb_drop_rate: float = 0.1,
                 lstm_hidden: int = 256) -> None:
        super().__init__()
        if num_joints_in != num_joints_out or len(parents) != num_joints_out or any(
                p >= j for j, p in enumerate(parents)):
            raise ValueError("J_in == J_out == len(parents), each parent before its child")
        self.num_joints_in, self.in_features, self.num_joints_out = num_joints_in, in_features, num_joints_out
        self.window, self.limb_drop_rate = window, limb_drop_rate
        self.child, self.parent = (list(side) for side in zip(*bones_of(parents)))
        self.limbs = [i for i, n in enumerate(joint_names) if n.split("_", 1)[-1] in HARD_JOINT_SUFFIXES]
        bones, size_in = len(self.child), 5 * num_joints_in
        self.refiner = TemporalRefiner2D(num_joints_in) if refine_2d else None
        self.length_head = _mlp(size_in, channels, bones, dropout)
        self.direction_head = _mlp(size_in, channels, 3 * bones, dropout)
        self.lstm = (nn.LSTM(4 * num_joints_out, lstm_hidden, batch_first=True, bidirectional=True) if completion
                     else None)
        self.lstm_out = nn.Linear(2 * lstm_hidden, 3 * num_joints_out) if completion else None

    @property
    def receptive_field(self) -> int:
        return self.window

    @property
    def sequence_window(self) -> int:
        return self.window

    def global_local(self, p: torch.Tensor) -> torch.Tensor:
        """[P, dP, |dP|^2] (B, T, J, 5); the root's dP is zero."""
        dp = torch.zeros_like(p)
        dp[..., self.child, :] = p[..., self.child, :] - p[..., self.parent, :]
        return torch.cat([p, dp, (dp ** 2).sum(-1, keepdim=True)], dim=-1)

    def forward(self, x: torch.Tensor, confidence: torch.Tensor | None = None, return_parts: bool = False):
        b, t, j, f = input_shape(self, x)
        refined = self.refiner(x[..., :2]) if self.refiner is not None else x[..., :2]
        g = self.global_local(refined).flatten(-2)
        length_feat = _features(self.length_head, g).mean(dim=1)  # aggregated over the clip
        lengths = F.softplus(self.length_head["out"](length_feat))[:, None].expand(-1, t, -1)
        dirs = F.normalize(self.direction_head["out"](_features(self.direction_head, g)).reshape(b, t, -1, 3), dim=-1)
        composed = compose_bones(lengths, dirs, self.child, self.parent)
        pose = composed
        if self.lstm is not None:
            keep = torch.ones(b, t, j, 1, device=x.device, dtype=x.dtype)
            if self.training and self.limbs:
                rate = (1.0 - confidence[..., self.limbs]) if confidence is not None else self.limb_drop_rate
                keep[:, :, self.limbs, 0] = (torch.rand(b, t, len(self.limbs), device=x.device) >= rate).to(x.dtype)
            masked = composed * keep
            h, _ = self.lstm(torch.cat([masked, keep], dim=-1).flatten(-2))
            pose = masked + self.lstm_out(h).reshape(b, t, j, 3)
        if return_parts:
            return {"pose": pose, "composed": composed, "lengths": lengths, "directions": dirs, "refined_2d": refined}
        return pose
