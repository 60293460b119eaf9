"""Dabral et al.'s TP-Net (ECCV 2018, Sect. 4.2): fully connected temporal refinement of lifted poses.

CausalRefiner is the online TP-Net (the past N poses and the current one), used by the ROS
lifter through :mod:`pose3d_ros.lifting.refinement`; BidirectionalRefiner is the semi-online variant,
which refines the centre pose of a window of N/2 past and N/2 future poses. The optional
skeleton fitting is :func:`pose3d_ros.constraints.rescale_bones`. Both are registered in
:data:`pose3d_ros.networks.ARCHITECTURES`, so the one model loader rebuilds them from a card.
"""
from __future__ import annotations

import torch
from torch import nn


class CausalRefiner(nn.Module):
    """(B, window, J, 3) past root-relative poses, the current one last -> (B, J, 3).

    Input: the current pose and the past poses relative to it, flattened (TP-Net); output:
    a correction of the current pose, root-relative.
    """

    def __init__(self, window: int = 16, hidden: int = 512, num_joints: int = 17) -> None:
        super().__init__()
        self.window, self.num_joints = window, num_joints
        size = window * num_joints * 3
        self.net = nn.Sequential(nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, num_joints * 3))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    @property
    def receptive_field(self) -> int:
        return self.window

    def forward(self, poses: torch.Tensor) -> torch.Tensor:
        current = poses[:, -1]
        x = torch.cat([poses[:, :-1] - current[:, None], current[:, None]], dim=1)
        out = current + self.net(x.flatten(1)).view(-1, self.num_joints, 3)
        return out - out[:, :1]


class BidirectionalRefiner(CausalRefiner):
    """(B, window, J, 3) root-relative poses -> the refined centre pose (B, J, 3); ``window`` odd."""

    causal = False

    def __init__(self, window: int = 21, hidden: int = 512, num_joints: int = 17) -> None:
        if window % 2 == 0:
            raise ValueError(f"the window must be odd (the refined pose in its centre), got {window}")
        super().__init__(window, hidden, num_joints)

    def forward(self, poses: torch.Tensor) -> torch.Tensor:
        c = self.window // 2
        centre = poses[:, c]
        others = torch.cat([poses[:, :c], poses[:, c + 1:]], dim=1) - centre[:, None]
        out = centre + self.net(torch.cat([others, centre[:, None]], dim=1).flatten(1)).view(-1, self.num_joints, 3)
        return out - out[:, :1]

