"""Chen et al., "Anatomy-aware 3D Human Pose Estimation in Videos": a pose as bone directions
(local window) times bone lengths (frames sampled across the whole video).

- Bone direction network: stacked VideoPose3D sub-networks. The bottom one is the dilated
  TCN (one pass yields many frames); each upper one receives the lower one's directions,
  duplicated over its window, and at every residual block the lower block's output
  concatenated on channels (long skip connections). Back-propagation is blocked between
  sub-networks; each sub-network's directions are returned for its own loss.
- Bone length network: a per-frame fully connected residual network predicting 3D joints
  (supervised with MPJPE on the sampled frames); their bone lengths are re-weighted over the
  samples by self-attention, A = softmax(gamma W X_J) (Eq. 6).
- Optional visibility scores (last input feature): a convolution maps them to the hidden
  size, the product with the keypoint feature is concatenated to it (implicit attention).

Joints are composed from lengths and directions along the kinematic tree (Eq. 1); the
composition uses the lengths detached, so the joint shift loss on the pose trains only the
direction network, as in the paper. Input (B, T, J, F) -> (B, T - receptive_field + 1, J, 3).
Bone-length context: ``context`` (B, S, J, F) frames with ``context_index`` (B, N_out, L)
choosing each output's samples (all S frames when None); without context, each output uses
the frames of its own receptive window.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..skeleton import H36M17, bones_of
from .shape_check import input_shape
from .tcn import DilatedTrunk


def compose_bones(lengths: torch.Tensor, directions: torch.Tensor, child: list[int], parent: list[int]) -> torch.Tensor:
    """Eq. 1: joints (..., J, 3) from (..., bones) lengths and (..., bones, 3) unit directions
    along the tree (``child[i]``'s parent is ``parent[i]``, parents first), root at 0."""
    vectors = lengths[..., None] * directions
    joints = [vectors.new_zeros(vectors.shape[:-2] + (3,))] * (len(child) + 1)
    for i, (c, p) in enumerate(zip(child, parent)):
        joints[c] = joints[p] + vectors[..., i, :]
    return torch.stack(joints, dim=-2)


def _conv_bn(c_in: int, c_out: int, width: int, **kw) -> tuple[nn.Conv1d, nn.BatchNorm1d]:
    return nn.Conv1d(c_in, c_out, width, bias=False, **kw), nn.BatchNorm1d(c_out, momentum=0.1)


class _StackedStage(nn.Module):
    """An upper sub-network on one output's window: strided convolutions over the lower
    directions (duplicated) concatenated with the lower sub-network's block outputs."""

    def __init__(self, num_bones: int, channels: int, filter_widths: tuple[int, ...], causal: bool,
                 dropout: float) -> None:
        super().__init__()
        self.filter_widths, self.causal = filter_widths, causal
        self.drop = nn.Dropout(dropout)
        self.embed = nn.Linear(3 * num_bones, channels)
        convs, bns = [], []
        for width in filter_widths[1:]:
            for conv, bn in (_conv_bn(2 * channels, channels, width, stride=width), _conv_bn(channels, channels, 1)):
                convs.append(conv)
                bns.append(bn)
        self.convs, self.bns = nn.ModuleList(convs), nn.ModuleList(bns)
        self.shrink = nn.Linear(channels, 3 * num_bones)

    def forward(self, directions: torch.Tensor, lower: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.drop(F.relu(self.embed(directions)))[:, :, None].expand(-1, -1, lower[0].shape[2])
        feats = [x]
        for i, width in enumerate(self.filter_widths[1:]):
            res = x[:, :, width - 1 if self.causal else width // 2::width]
            h = self.drop(F.relu(self.bns[2 * i](self.convs[2 * i](torch.cat([x, lower[i]], dim=1)))))
            x = res + self.drop(F.relu(self.bns[2 * i + 1](self.convs[2 * i + 1](h))))
            feats.append(x)
        return self.shrink(x[:, :, 0]), feats


class _FrameJointNet(nn.Module):
    """Bone length network body: the bottom sub-network with convolutions made per-frame linear."""

    def __init__(self, in_size: int, num_joints: int, channels: int, num_blocks: int, dropout: float) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.inp = nn.Sequential(nn.Linear(in_size, channels), nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(channels, channels), nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout),
                          nn.Linear(channels, channels), nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout))
            for _ in range(num_blocks))
        self.out = nn.Linear(channels, 3 * num_joints)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        lead = frames.shape[:-2]
        y = self.inp(frames.reshape(-1, frames.shape[-2] * frames.shape[-1]))
        for block in self.blocks:
            y = y + block(y)
        return self.out(y).reshape(*lead, self.num_joints, 3)


class AnatomyAwareModel(nn.Module):
    """Bone direction network x bone length network (see the module docstring)."""

    has_parts = True
    needs_context = True

    def __init__(self, num_joints_in: int = 17, in_features: int = 2, num_joints_out: int = 17,
                 parents: tuple[int, ...] = H36M17.parents,
                 filter_widths: tuple[int, ...] = (3, 3, 3, 3), causal: bool = False, dropout: float = 0.25,
                 channels: int = 1024, num_stages: int = 2, length_channels: int | None = None,
                 gamma: float = 10.0, context_frames: int = 50, visibility: bool = False) -> None:
        super().__init__()
        if len(parents) != num_joints_out or any(p >= j for j, p in enumerate(parents)):
            raise ValueError("parents must list one parent per output joint, each before its child")
        if len(filter_widths) < 2:
            raise ValueError("the bone direction network needs at least two layers")
        self.num_joints_in, self.in_features, self.num_joints_out = num_joints_in, in_features, num_joints_out
        self.causal, self.gamma, self.context_frames, self.visibility = causal, gamma, context_frames, visibility
        self.filter_widths = tuple(filter_widths)
        self.child, self.parent = (list(side) for side in zip(*bones_of(parents)))
        bones = len(self.child)
        kp = in_features - 1 if visibility else in_features
        self.kp_features = kp
        self.trunk = DilatedTrunk(num_joints_in * kp, channels, self.filter_widths, causal, dropout,
                                   num_joints_in if visibility else 0)
        self.trunk_shrink = nn.Conv1d(channels, 3 * bones, 1)
        self.stages = nn.ModuleList(_StackedStage(bones, channels, self.filter_widths, causal, dropout)
                                    for _ in range(num_stages - 1))
        self.length_net = _FrameJointNet(num_joints_in * kp, num_joints_out, length_channels or channels,
                                         len(filter_widths) - 1, dropout)
        self.length_attention = nn.Linear(3 * num_joints_out, bones, bias=False)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    def _window_features(self, feats: list[torch.Tensor], n_out: int) -> list[torch.Tensor]:
        """Layer k's features at the positions one output's window uses: (B * N_out, C, rf / W_k)."""
        out, span = [], 1
        for k, f in enumerate(feats):
            span *= self.filter_widths[k]
            positions = torch.arange(self.receptive_field // span, device=f.device)
            idx = torch.arange(n_out, device=f.device)[:, None] + span * positions
            g = f[:, :, idx]  # (B, C, N_out, P)
            out.append(g.permute(0, 2, 1, 3).reshape(-1, f.shape[1], idx.shape[1]))
        return out

    def bone_lengths(self, joints: torch.Tensor) -> torch.Tensor:
        return torch.linalg.norm(joints[..., self.child, :] - joints[..., self.parent, :], dim=-1)

    def _lengths(self, frames: torch.Tensor, index: torch.Tensor | None, n_out: int):
        """Attention-pooled bone lengths (B, N_out, bones) and the per-frame joints (B, S, J, 3)."""
        joints = self.length_net(frames)
        lengths = self.bone_lengths(joints)
        logits = self.gamma * self.length_attention(joints.flatten(-2))
        if index is None:
            pooled = (torch.softmax(logits, dim=1) * lengths).sum(dim=1)
            return pooled[:, None].expand(-1, n_out, -1), joints
        if index.dim() == 2:
            index = index.expand(frames.shape[0], -1, -1)
        rows = torch.arange(frames.shape[0], device=frames.device)[:, None, None]
        weights = torch.softmax(logits[rows, index], dim=2)
        return (weights * lengths[rows, index]).sum(dim=2), joints

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                context_index: torch.Tensor | None = None, return_parts: bool = False,
                augmented_context: torch.Tensor | None = None):
        b, t, j, f = input_shape(self, x)
        n_out = t - self.receptive_field + 1
        kp = x[..., :self.kp_features]
        scores = x[..., -1].permute(0, 2, 1) if self.visibility else None
        feats = self.trunk.features(kp.reshape(b, t, -1).permute(0, 2, 1), scores)
        directions = [self.trunk_shrink(feats[-1]).permute(0, 2, 1).reshape(b * n_out, -1)]
        window = self._window_features(feats[:-1], n_out) if self.stages else []
        for stage in self.stages:  # back-propagation blocked between sub-networks
            d, window = stage(directions[-1].detach(), [w.detach() for w in window])
            directions.append(d)
        directions = [F.normalize(d.reshape(b, n_out, -1, 3), dim=-1) for d in directions]
        if context is None:
            frames = torch.arange(self.receptive_field, device=x.device)
            context, context_index = kp, torch.arange(n_out, device=x.device)[:, None] + frames  # own windows
        lengths, frame_joints = self._lengths(context[..., :self.kp_features], context_index, n_out)
        pose = compose_bones(lengths.detach(), directions[-1], self.child, self.parent)
        if return_parts:
            parts = {"pose": pose, "directions": directions, "lengths": lengths, "context_joints": frame_joints}
            if augmented_context is not None:  # Chen's AUG: (B', L, J, F) frames of re-boned sequences
                parts["augmented_lengths"] = self._lengths(augmented_context[..., :self.kp_features], None, 1)[0][:, 0]
            return parts
        return pose
