"""The input check every lifting network makes: (B, T, J_in, F) with the model's J_in and F."""
from __future__ import annotations

import torch
from torch import nn


def input_shape(model: nn.Module, x: torch.Tensor) -> tuple[int, int, int, int]:
    """(B, T, J, F) of ``x``; ValueError naming the expected shape unless J and F are the model's
    ``num_joints_in`` and ``in_features``."""
    b, t, j, f = x.shape
    if (j, f) != (model.num_joints_in, model.in_features):
        raise ValueError(f"expected (B, T, {model.num_joints_in}, {model.in_features}), got {tuple(x.shape)}")
    return b, t, j, f
