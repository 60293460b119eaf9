"""Wang et al., "Motion Guided 3D Pose Estimation from Videos": the U-shaped graph network (UGCN).

ST-GCN blocks (spatial graph convolution over the skeleton with the three-subset partition
by hop distance to the root, then a temporal convolution, batch norm, dropout, ReLU) in three
stages: 9 down-sampling blocks (stride 2 at blocks 2, 4, 6, 8), 4 up-sampling blocks each
followed by nearest up-sampling and a shortcut from the down stage at the same resolution,
and a merging stage that brings every up-stage scale back to full length and sums them;
a graph-convolution regressor gives the 3D joints. Sequence to sequence: (B, T, J, F) ->
(B, T, J, 3) with T a multiple of 2 ** downsample (training windows of ``window`` = 96
frames; offline evaluation slides that window). The paper's channel widths (its Fig. 4) are
not in our copy: every block has ``channels`` channels.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..skeleton import H36M17
from .shape_check import input_shape


def hop_partition(parents: tuple[int, ...]) -> np.ndarray:
    """(3, J, J) normalised adjacency: for centre joint j and neighbour i (itself, its parent,
    its children) subset 0 if hops(i) == hops(j), 1 if i is farther from the root, 2 if nearer;
    each row of a subset divided by its number of members (Eq. 9-10)."""
    j = len(parents)
    hops = np.zeros(j, dtype=int)
    for k, p in enumerate(parents):  # parents come before children
        hops[k] = 0 if p < 0 else hops[p] + 1
    a = np.zeros((3, j, j))
    for centre in range(j):
        neighbours = [centre] + [k for k, p in enumerate(parents) if p == centre]
        neighbours += [parents[centre]] if parents[centre] >= 0 else []
        for i in neighbours:
            a[0 if hops[i] == hops[centre] else 1 if hops[i] > hops[centre] else 2, centre, i] = 1.0
    counts = a.sum(axis=2, keepdims=True)
    return a / np.maximum(counts, 1.0)


class GraphConv(nn.Module):
    """Spatial graph convolution: one 1x1 convolution per subset, aggregated by the adjacency."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("adjacency", adjacency, persistent=False)  # rebuilt from the parents
        self.conv = nn.Conv2d(c_in, c_out * adjacency.shape[0], 1)
        self.c_out = c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T, J)
        b, _, t, j = x.shape
        z = self.conv(x).view(b, self.adjacency.shape[0], self.c_out, t, j)
        return torch.einsum("bkcti,kji->bctj", z, self.adjacency)


class STGCNBlock(nn.Module):
    """Graph convolution, BN, ReLU, temporal convolution (stride), BN, dropout, residual, ReLU."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, kernel: int = 5, stride: int = 1,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.gcn = GraphConv(c_in, c_out, adjacency)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.tcn = nn.Conv2d(c_out, c_out, (kernel, 1), (stride, 1), (kernel // 2, 0))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.drop = nn.Dropout(dropout)
        self.residual = (nn.Identity() if c_in == c_out and stride == 1 else
                         nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(self.bn2(self.tcn(F.relu(self.bn1(self.gcn(x))))))
        return F.relu(y + self.residual(x))


class UGCN(nn.Module):
    """U-shaped ST-GCN; ``downsample`` pairs of down/up-sampling (0-4, Table 3), ``merge``
    and ``spatial_graph`` switch the merging stage and the skeleton graph (Table 4)."""

    causal = False

    def __init__(self, num_joints_in: int = 17, in_features: int = 2, num_joints_out: int = 17,
                 parents: tuple[int, ...] = H36M17.parents,
                 channels: int = 128, kernel: int = 5, dropout: float = 0.5, window: int = 96,
                 downsample: int = 4, merge: bool = True, spatial_graph: bool = True) -> None:
        super().__init__()
        if num_joints_in != num_joints_out or len(parents) != num_joints_out:
            raise ValueError("UGCN maps each joint of the graph to itself: J_in == J_out == len(parents)")
        if not 0 <= downsample <= 4 or window % 2 ** downsample:
            raise ValueError(f"window {window} must be a multiple of 2 ** downsample ({downsample} in 0..4)")
        self.num_joints_in, self.in_features, self.num_joints_out = num_joints_in, in_features, num_joints_out
        self.window, self.downsample, self.merge = window, downsample, merge
        a = hop_partition(tuple(parents)) if spatial_graph else np.eye(num_joints_in)[None]
        adjacency = torch.tensor(a, dtype=torch.float32)
        strides = [2 if k in (1, 3, 5, 7)[:downsample] else 1 for k in range(9)]
        self.down = nn.ModuleList(
            STGCNBlock(in_features if k == 0 else channels, channels, adjacency, kernel, s, dropout)
            for k, s in enumerate(strides))
        self.up = nn.ModuleList(STGCNBlock(channels, channels, adjacency, kernel, 1, dropout) for _ in range(4))
        self.merge_convs = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(4)) if merge else None
        self.regressor = GraphConv(channels, 3, adjacency)
        # The shortcuts and the merged scales add up to large features: at PyTorch's default
        # initialisation the first poses are metres off and training crawls (one batch fitted
        # for 300 steps: 128 mm; with the regressor started near the zero pose: 31 mm).
        with torch.no_grad():
            self.regressor.conv.weight.mul_(0.01)
            self.regressor.conv.bias.zero_()

    @property
    def receptive_field(self) -> int:
        """Every output frame sees the whole training window."""
        return self.window

    @property
    def sequence_window(self) -> int:
        return self.window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, j, f = input_shape(self, x)
        if t % 2 ** self.downsample:
            raise ValueError(f"expected T a multiple of {2 ** self.downsample}, got {tuple(x.shape)}")
        x = x.permute(0, 3, 1, 2)  # (B, F, T, J)
        levels = []  # the down stage's output at each resolution: after blocks 1, 3, 5, 7, 9
        for k, block in enumerate(self.down):
            x = block(x)
            if k % 2 == 0:
                levels.append(x)
        scales = []
        for k, block in enumerate(self.up):
            x = block(x)
            shortcut = levels[3 - k]
            if x.shape[2] < shortcut.shape[2]:
                x = x.repeat_interleave(2, dim=2)  # f_up(t) = f(floor(t / 2)), Eq. 11
            x = x + shortcut
            scales.append(x)
        if self.merge:
            x = sum(conv(s.repeat_interleave(t // s.shape[2], dim=2)) for conv, s in zip(self.merge_convs, scales))
        return self.regressor(x).permute(0, 2, 3, 1)
