"""Frame-by-frame evaluation of a causal TemporalConvModel (and of single-frame lifters).

Running the network on the whole receptive field for every new frame recomputes every
layer on frames it has already seen (81 frames in, 1 pose out). Here each layer keeps a
ring of the inputs its dilated kernel still needs, so a frame costs one column per layer.
BatchNorm (eval mode) is folded into the convolutions. A new track's rings are filled with
the steady state of its first frame, which equals the edge padding of the offline
evaluation; outputs equal the model's up to float rounding.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..networks.tcn import TemporalConvModel


@dataclass
class _Layer:
    weight: torch.Tensor  # (C_out, width * C_in), taps oldest first
    bias: torch.Tensor  # (C_out,)
    width: int
    dilation: int
    pointwise: tuple[torch.Tensor, torch.Tensor] | None  # residual block's 1x1 conv (folded)

    def __post_init__(self) -> None:
        self.span = (self.width - 1) * self.dilation + 1
        # taps[newest]: ring indices of the kernel's inputs, oldest first, when ``newest`` is the latest entry
        self.taps = [torch.tensor([(newest - k * self.dilation) % self.span for k in range(self.width - 1, -1, -1)],
                                  device=self.weight.device) for newest in range(self.span)]


@dataclass
class StreamState:
    """One track's rings (one per layer, (span, C_in)) and the index of the newest entry."""

    rings: list[torch.Tensor]
    pos: int = 0


def _fold(conv: torch.nn.Conv1d, bn: torch.nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight * scale[:, None, None]  # (C_out, C_in, width)
    return w.permute(0, 2, 1).reshape(w.shape[0], -1), bn.bias - bn.running_mean * scale


class StreamingTemporalConv:
    """A causal TemporalConvModel evaluated one frame at a time for many tracks."""

    def __init__(self, model: TemporalConvModel, device: str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        if not model.causal:
            raise ValueError("streaming evaluation needs a causal model")
        self.device, self.dtype = device, dtype
        self.num_joints_out = model.num_joints_out
        cast = dict(device=device, dtype=dtype)
        with torch.no_grad():
            w, b = _fold(model.expand_conv, model.expand_bn)
            self.layers = [_Layer(w.to(**cast), b.to(**cast), model.filter_widths[0], 1, None)]
            dilation = model.filter_widths[0]
            for i, width in enumerate(model.filter_widths[1:]):
                w, b = _fold(model.layers_conv[2 * i], model.layers_bn[2 * i])
                pw, pb = _fold(model.layers_conv[2 * i + 1], model.layers_bn[2 * i + 1])
                self.layers.append(_Layer(w.to(**cast), b.to(**cast), width, dilation,
                                          (pw.to(**cast), pb.to(**cast))))
                dilation *= width
            self.shrink_w = model.shrink.weight[:, :, 0].to(**cast)
            self.shrink_b = model.shrink.bias.to(**cast)

    def init_state(self, frame: torch.Tensor) -> StreamState:
        """The state after an endless run of ``frame`` (J * F,): the edge padding."""
        x = frame.to(self.device, self.dtype)
        rings = []
        for layer in self.layers:
            rings.append(x.expand(layer.span, -1).clone())
            x = self._apply(layer, x.expand(layer.width, -1).reshape(1, -1), x[None])[0]
        return StreamState(rings)

    def step(self, states: list[StreamState], frames: torch.Tensor) -> torch.Tensor:
        """Push one frame per track (B, J * F); returns the current poses (B, J_out, 3)."""
        x = frames.to(self.device, self.dtype)
        for i, layer in enumerate(self.layers):
            taps = []
            for s, xi in zip(states, x):
                ring = s.rings[i]
                newest = (s.pos + 1) % layer.span
                ring[newest] = xi
                taps.append(ring.index_select(0, layer.taps[newest]).view(-1))
            x = self._apply(layer, torch.stack(taps), x)
        for s in states:
            s.pos += 1
        out = x @ self.shrink_w.T + self.shrink_b
        return out.view(len(states), self.num_joints_out, 3)

    @staticmethod
    def _apply(layer: _Layer, taps: torch.Tensor, newest: torch.Tensor) -> torch.Tensor:
        h = torch.relu(taps @ layer.weight.T + layer.bias)
        if layer.pointwise is None:
            return h
        pw, pb = layer.pointwise
        return newest + torch.relu(h @ pw.T + pb)


class FramewiseStream:
    """A single-frame lifter (receptive field 1, e.g. the articulated network) behind
    StreamingTemporalConv's interface: nothing to remember between frames."""

    def __init__(self, model: torch.nn.Module, device: str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        if getattr(model, "receptive_field", None) != 1:
            raise ValueError("framewise evaluation needs a single-frame model")
        self.device, self.dtype = device, dtype
        self.model = model.to(device=device, dtype=dtype).eval()
        self.shape = (model.num_joints_in, model.in_features)

    def init_state(self, frame: torch.Tensor) -> StreamState:
        return StreamState([])

    def step(self, states: list[StreamState], frames: torch.Tensor) -> torch.Tensor:
        """One frame per track (B, J * F) -> the poses (B, J_out, 3)."""
        x = frames.to(self.device, self.dtype).view(len(states), 1, *self.shape)
        with torch.no_grad():
            return self.model(x)[:, 0]
