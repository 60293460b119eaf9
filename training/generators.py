"""Chunked batches for temporal models: one forward pass yields ``chunk`` outputs per sample.

All sequences are edge-padded once and concatenated into single tensors, so a batch is a
single gather: no Python loop over samples.
"""
from __future__ import annotations

import numpy as np
import torch

from pose3d_ros.skeleton import SkeletonLayout


class ChunkedDataset:
    """Padded, concatenated inputs (normalised 2D) and targets (root-relative 3D)."""

    def __init__(self, inputs: list[np.ndarray], targets: list[np.ndarray], receptive_field: int,
                 causal: bool, chunk: int, roots: list[np.ndarray] | None = None,
                 points: list[np.ndarray] | None = None) -> None:
        pad_left = receptive_field - 1 if causal else receptive_field // 2
        pad_right = receptive_field - 1 - pad_left
        self.chunk, self.span, self.pad_left = chunk, chunk + receptive_field - 1, pad_left
        def pad(x: np.ndarray) -> np.ndarray:  # frames repeated at both ends: the rows a chunk reads
            return np.pad(x, ((pad_left, pad_right), (0, 0), (0, 0)), mode="edge")

        padded, starts_in, starts_out, offset_in, offset_out = [], [], [], 0, 0
        frame, seq_in, seq_out, seq_len = [], [], [], []
        for x in inputs:
            padded.append(pad(x))
            # Output chunks [s, s + chunk) of each sequence; the last one is shifted to fit.
            n = len(x)
            s = np.arange(0, n - chunk + 1, chunk)  # empty for sequences shorter than a chunk
            if len(s) and s[-1] != n - chunk:
                s = np.append(s, n - chunk)
            starts_in.append(offset_in + s)
            starts_out.append(offset_out + s)
            frame.append(s)
            seq_in.append(np.full(len(s), offset_in + pad_left))
            seq_out.append(np.full(len(s), offset_out))
            seq_len.append(np.full(len(s), n))
            offset_in += len(padded[-1])
            offset_out += n
        self.inputs = torch.from_numpy(np.concatenate(padded).astype(np.float32))
        self.targets = torch.from_numpy(np.concatenate(targets).astype(np.float32))
        # Camera-frame root positions (N, 1, 3) per output frame, for losses that need absolute 3D.
        self.roots = None if roots is None else torch.from_numpy(np.concatenate(roots).astype(np.float32))
        # Camera-frame 3D (N, J, 3) per input row, padded like the inputs (virtual cameras re-project it).
        self.points = None if points is None else torch.from_numpy(
            np.concatenate([pad(p) for p in points]).astype(np.float32))
        self.starts_in = np.concatenate(starts_in)
        self.starts_out = np.concatenate(starts_out)
        # Per chunk: its first frame within its sequence, and where that sequence starts and how long it is.
        self.chunk_frame, self.seq_in = np.concatenate(frame), np.concatenate(seq_in)
        self.seq_out, self.seq_len = np.concatenate(seq_out), np.concatenate(seq_len)
        self.repeats: np.ndarray | None = None  # per chunk, how often an epoch draws it (None: once)

    def __len__(self) -> int:
        return len(self.starts_in)

    def to(self, device: torch.device | str) -> "ChunkedDataset":
        """Keep the whole dataset on ``device`` (a GPU: batches are gathered there)."""
        self.inputs, self.targets = self.inputs.to(device), self.targets.to(device)
        self.roots = None if self.roots is None else self.roots.to(device)
        self.points = None if self.points is None else self.points.to(device)
        return self

    def batches(self, batch_size: int, rng: np.random.Generator, rank: int = 0, world: int = 1,
                return_index: bool = False):
        """Yield (inputs (B, chunk + rf - 1, J, F), targets (B, chunk, J, 3)) in random order,
        and the chunk indices with ``return_index``; with ``world`` > 1 processes, this rank's
        share of one common order. Chunks with ``repeats`` come that many times."""
        pool = np.arange(len(self)) if self.repeats is None else np.repeat(np.arange(len(self)), self.repeats)
        order = rng.permutation(pool)[rank::world]
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            yield (self.inputs[self._input_rows(idx)], self.targets[self._output_rows(idx)]) + \
                ((idx,) if return_index else ())

    def oversample(self, chosen: np.ndarray, factor: int) -> None:
        """Draw the chunks where ``chosen`` (a bool per output frame of ``targets``) holds for any of
        their output frames ``factor`` times per epoch."""
        hit = chosen[self._output_rows(np.arange(len(self))).cpu().numpy()].any(axis=1)
        self.repeats = np.where(hit, factor, 1)

    def _input_rows(self, idx: np.ndarray) -> torch.Tensor:
        """Rows of ``inputs`` (and ``points``) read by the chunks ``idx``: (B, chunk + rf - 1)."""
        device = self.inputs.device
        return torch.from_numpy(self.starts_in[idx]).to(device)[:, None] + torch.arange(self.span, device=device)

    def _output_rows(self, idx: np.ndarray) -> torch.Tensor:
        """Rows of ``targets`` (and ``roots``) holding the output frames of the chunks ``idx``: (B, chunk)."""
        device = self.targets.device
        return torch.from_numpy(self.starts_out[idx]).to(device)[:, None] + torch.arange(self.chunk, device=device)

    def absolute(self, idx: np.ndarray) -> torch.Tensor:
        """Camera-frame 3D (B, chunk, J, 3) of the output frames of the chunks ``idx`` (needs ``roots``)."""
        if self.roots is None:
            raise ValueError("this dataset was built without root positions")
        rows = self._output_rows(idx)
        return self.targets[rows] + self.roots[rows]

    def windows(self, idx: np.ndarray) -> torch.Tensor:
        """Camera-frame 3D (B, chunk + rf - 1, J, 3) of the input frames of the chunks ``idx`` (needs ``points``)."""
        if self.points is None:
            raise ValueError("this dataset was built without 3D points")
        return self.points[self._input_rows(idx)]

    def context(self, idx: np.ndarray, frames: int, causal: bool, rng: np.random.Generator):
        """For each chunk in ``idx``, ``frames`` frames drawn uniformly from its whole sequence
        (``causal``: from the frames up to the chunk's first one): (inputs (B, L, J, F), targets (B, L, J, 3))."""
        high = np.where(causal, self.chunk_frame[idx] + 1, self.seq_len[idx])
        pick = np.floor(rng.random((len(idx), frames)) * high[:, None]).astype(np.int64)
        device = self.inputs.device
        return (self.inputs[torch.from_numpy(self.seq_in[idx][:, None] + pick).to(device)],
                self.targets[torch.from_numpy(self.seq_out[idx][:, None] + pick).to(device)])


def flip_pose(x: torch.Tensor, layout: SkeletonLayout) -> torch.Tensor:
    """Horizontal flip about the principal point: negate x and swap left and right joints
    (a single joint, the trajectory target, is only negated)."""
    x = x[..., layout.flip_permutation(), :].clone() if x.shape[-2] == layout.num_joints else x.clone()
    x[..., 0] *= -1
    return x
