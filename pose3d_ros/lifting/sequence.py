"""Lifting whole recorded sequences at once (offline): any lifter, causal or symmetric.

:func:`predict_sequence` runs a model over a sequence of normalised 2D keypoints (edge
padding and one forward pass for temporal convolutions, overlapping windows for
sequence-to-sequence models); training's evaluation uses it, and so does
:func:`lift_recording`, which places the poses in the camera frame for recorded data.
"""
from __future__ import annotations

import numpy as np
import torch

from ..geometry import CameraIntrinsics, normalize_with_intrinsics
from ..networks.cards import LoadedModel
from .inputs import lifter_input, root_translation

SLIDING_STEP = 5  # frames between the windows of a sequence-to-sequence model (Wang et al.)


def context_index(frames: int, samples: int, causal: bool, rng: np.random.Generator) -> np.ndarray:
    """(frames, samples) frame indices drawn uniformly for each frame from the whole sequence
    or, ``causal``, from the frames up to it (the anatomy-aware bone-length samples)."""
    high = np.arange(1, frames + 1) if causal else np.full(frames, frames)
    return np.floor(rng.random((frames, samples)) * high[:, None]).astype(np.int64)


def _sliding_windows(model: torch.nn.Module, x: torch.Tensor, window: int, step: int = SLIDING_STEP,
                     batch: int = 64) -> torch.Tensor:
    """A sequence-to-sequence model over windows ``step`` frames apart, overlaps averaged."""
    n = x.shape[0]
    if n < window:
        x = torch.cat([x, x[-1:].expand(window - n, *x.shape[1:])])
    starts = list(range(0, x.shape[0] - window + 1, step))
    if starts[-1] != x.shape[0] - window:
        starts.append(x.shape[0] - window)
    total, count = None, torch.zeros(x.shape[0], 1, 1, device=x.device)
    for i in range(0, len(starts), batch):
        s = torch.tensor(starts[i:i + batch], device=x.device)
        out = model(x[s[:, None] + torch.arange(window, device=x.device)]).float()
        total = torch.zeros(x.shape[0], *out.shape[2:], device=x.device) if total is None else total
        for k, start in enumerate(starts[i:i + batch]):
            total[start:start + window] += out[k]
            count[start:start + window] += 1
    return (total / count)[:n]


@torch.no_grad()
def predict_sequence(model: torch.nn.Module, inputs: np.ndarray, receptive_field: int,
                     causal: bool, relative: bool = True, seed: int = 0) -> np.ndarray:
    """Predictions for every frame of a sequence (edge padding, one forward; sliding windows
    for sequence-to-sequence models; bone-length samples drawn with ``seed`` for models that
    need context), made root-relative unless ``relative`` is False (the trajectory model).
    2D inputs to a lifter with a confidence channel count every joint as seen."""
    if inputs.shape[-1] < getattr(model, "in_features", 2):
        inputs = lifter_input(inputs, None, model.in_features)
    device = next(model.parameters()).device
    x = torch.from_numpy(inputs.astype(np.float32)).to(device)
    window = getattr(model, "sequence_window", None)
    if window:
        out = _sliding_windows(model, x, window)
    else:
        pad_left = receptive_field - 1 if causal else receptive_field // 2
        padded = torch.cat([x[:1].expand(pad_left, *x.shape[1:]), x,
                            x[-1:].expand(receptive_field - 1 - pad_left, *x.shape[1:])])
        kwargs = {}
        if getattr(model, "needs_context", False):
            index = context_index(len(inputs), model.context_frames, causal, np.random.default_rng(seed))
            kwargs = {"context": x[None], "context_index": torch.from_numpy(index).to(device)[None]}
        out = model(padded[None], **kwargs)[0].float()
    out = out.cpu().numpy()
    return out - out[:, :1] if relative else out


def lift_recording(loaded: LoadedModel, keypoints: np.ndarray, confidence: np.ndarray,
                   intrinsics: CameraIntrinsics) -> tuple[np.ndarray, np.ndarray]:
    """One person's whole recording, (N, 17, 2) pixels and (N, 17) confidences, lifted with
    ``loaded`` (a symmetric model sees past and future frames): (joints (N, 17, 3) in the
    camera's optical frame, metres, root-relative where the root could not be placed;
    root translations (N, 3), NaN where not)."""
    if loaded.card.input_normalization != "intrinsics":
        raise ValueError(f"{loaded.path.name} takes {loaded.card.input_normalization} inputs; "
                         "recordings need a lifter trained on focal-normalised keypoints")
    uv = normalize_with_intrinsics(keypoints, intrinsics)
    loaded.model.eval()
    inputs = lifter_input(uv, confidence, getattr(loaded.model, "in_features", 2))
    rel = predict_sequence(loaded.model, inputs, loaded.receptive_field, loaded.causal).astype(np.float64)
    translations = np.full((len(rel), 3), np.nan)
    for i, (pose, frame_uv, conf) in enumerate(zip(rel, uv, confidence)):
        t = root_translation(pose, frame_uv.astype(np.float64), conf)
        if t is not None:
            translations[i] = t
    joints = rel + np.where(np.isfinite(translations), translations, 0.0)[:, None]
    return joints, translations
