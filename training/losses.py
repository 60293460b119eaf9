"""Training losses of the seed papers, one definition each, and the config-built objective.

Poses are torch tensors (..., J, 3) in metres. Every loss returns a scalar mean.

- position: ``mpjpe`` (VideoPose3D), ``squared_position`` (Wang et al. Eq. 5, Xu et al.
  L_fin), ``trajectory`` (1/z-weighted root error of VideoPose3D's trajectory model)
- motion: ``motion`` (Wang et al. Eq. 4: pairwise motion encoding by subtraction, inner and
  cross product over interval sets; subtraction with interval 1 is the derivative loss)
- structure: ``joint_shift`` (Chen et al. Eq. 2), ``bone_direction`` (Chen Eq. 3, MSE),
  ``bone_length`` (Chen Eq. 4, MSE; ``augmented_bone_length``: the same on the sequences of
  Chen's bone-length augmentation), ``bone_length_l1`` and ``bone_direction_cosine``
  (Xu et al. Eq. 6), ``illegal_angle`` (Dabral et al. Eq. 1), ``symmetry`` (Dabral Eq. 2),
  ``bone_ratio`` (the geometric loss of Zhou et al. 2017 that Dabral et al. use)
- 2D and completion: ``projection`` (Xu Eq. 3-4 plus constancy over time),
  ``confidence_2d`` (Xu Eq. 1; the objective's ``temporal_2d`` with confidence 1, as our
  detections carry none), ``completion`` (Xu Eq. 7)

:func:`build_objective` turns a config's ``train.losses`` ({name: weight} or
{name: {weight: w, ...options}}) into a callable over a model's named outputs ("parts").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from pose3d_ros.constraints import HINGES
from pose3d_ros.networks.articulated import hard_joint_indices
from pose3d_ros.skeleton import SkeletonLayout

# ---------------------------------------------------------------------------- skeleton helpers


def bone_vectors(pose: torch.Tensor, layout: SkeletonLayout) -> torch.Tensor:
    """(..., J, 3) -> (..., J - 1, 3) child minus parent, in ``layout.bones`` order."""
    return pose[..., list(layout.bone_children), :] - pose[..., list(layout.bone_parents), :]


def bone_lengths(pose: torch.Tensor, layout: SkeletonLayout) -> torch.Tensor:
    """(..., J, 3) -> (..., J - 1)."""
    return torch.linalg.norm(bone_vectors(pose, layout), dim=-1)


def non_adjacent_pairs(layout: SkeletonLayout) -> list[tuple[int, int]]:
    """Joint pairs (k1 < k2) not directly connected by a bone: Chen et al.'s set P."""
    bones = {tuple(sorted(b)) for b in layout.bones}
    j = layout.num_joints
    return [(a, b) for a in range(j) for b in range(a + 1, j) if (a, b) not in bones]


# Zhou et al. 2017's bone groups (arms, legs, shoulders, hips): bones named by their child joint.
RATIO_GROUPS = {"arms": ("elbow", "wrist"), "legs": ("knee", "ankle"), "shoulders": ("shoulder",),
                "hips": ("hip",)}


def ratio_groups(layout: SkeletonLayout) -> list[list[int]]:
    """Bone indices of each group of :data:`RATIO_GROUPS` present in ``layout``."""
    groups = []
    for suffixes in RATIO_GROUPS.values():
        idx = [i for i, c in enumerate(layout.bone_children) if layout.joint_names[c].split("_", 1)[-1] in suffixes]
        if len(idx) > 1:
            groups.append(idx)
    return groups


# ------------------------------------------------------------------------------- position


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance per joint."""
    return torch.linalg.norm(pred - target, dim=-1).mean()


def squared_position(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared distance per joint (Wang et al. L_p, Xu et al. L_fin)."""
    return ((pred - target) ** 2).sum(dim=-1).mean()


def trajectory(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root position error weighted by 1 / depth (VideoPose3D's trajectory model)."""
    return (torch.linalg.norm(pred - target, dim=-1) / target[..., 2]).mean()


# --------------------------------------------------------------------------------- motion

MOTION_OPERATORS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "subtraction": lambda a, b: a - b,
    "inner": lambda a, b: (a * b).sum(dim=-1, keepdim=True),
    "cross": lambda a, b: torch.linalg.cross(a, b, dim=-1),
}


def motion_encoding(poses: torch.Tensor, interval: int, operator: str) -> torch.Tensor:
    """Wang et al. Eq. 3: m_{t,j} = s_{t,j} * s_{t+interval,j} over time (axis -3)."""
    a, b = poses[..., :-interval, :, :], poses[..., interval:, :, :]
    return MOTION_OPERATORS[operator](a, b)


def motion(pred: torch.Tensor, target: torch.Tensor, intervals: tuple[int, ...] = (12,),
           operators: tuple[str, ...] = ("cross",)) -> torch.Tensor:
    """Wang et al. Eq. 4: L1 distance between the pairwise motion encodings of prediction and
    ground truth (B, T, J, 3), averaged over moments and joints, summed over the interval set
    and operators. Intervals not shorter than T contribute nothing."""
    total = pred.new_zeros(())
    for op in operators:
        for tau in intervals:
            if tau < pred.shape[-3]:
                total = total + (motion_encoding(pred, tau, op) - motion_encoding(target, tau, op)).abs().sum(-1).mean()
    return total


# ------------------------------------------------------------------------------ structure


def joint_shift(pred: torch.Tensor, target: torch.Tensor, pairs: list[tuple[int, int]]) -> torch.Tensor:
    """Chen et al. Eq. 2: distance between predicted and true relative shifts of joint pairs."""
    a, b = zip(*pairs)
    shift_p = pred[..., list(b), :] - pred[..., list(a), :]
    shift_t = target[..., list(b), :] - target[..., list(a), :]
    return torch.linalg.norm(shift_p - shift_t, dim=-1).mean()


def bone_direction(pred_dirs: torch.Tensor, target: torch.Tensor, layout: SkeletonLayout) -> torch.Tensor:
    """Chen et al. Eq. 3: squared error of the (..., J - 1, 3) unit bone directions."""
    return ((pred_dirs - F.normalize(bone_vectors(target, layout), dim=-1)) ** 2).sum(-1).mean()


def bone_direction_cosine(pred_dirs: torch.Tensor, target: torch.Tensor, layout: SkeletonLayout) -> torch.Tensor:
    """Xu et al.: 1 - cosine between predicted and true bone directions."""
    return (1.0 - F.cosine_similarity(pred_dirs, bone_vectors(target, layout), dim=-1)).mean()


def bone_length(pred_lengths: torch.Tensor, target: torch.Tensor, layout: SkeletonLayout) -> torch.Tensor:
    """Chen et al. Eq. 4: squared error of the (..., J - 1) bone lengths."""
    return ((pred_lengths - bone_lengths(target, layout)) ** 2).mean()


def bone_length_l1(pred_lengths: torch.Tensor, target: torch.Tensor, layout: SkeletonLayout) -> torch.Tensor:
    """Xu et al.: absolute error of the bone lengths."""
    return (pred_lengths - bone_lengths(target, layout)).abs().mean()


def _hinge_indices() -> tuple[list[int], ...]:
    return tuple(list(c) for c in zip(*[h[1] for h in HINGES]))


def bend_measures(pose: torch.Tensor) -> torch.Tensor:
    """Per H36M-17 hinge in ``constraints.HINGES`` order (r_elbow, l_elbow, r_knee, l_knee):
    the component of the distal bone along the legal side of the unit normal of the plane
    (collar-bone, upper arm) or (pelvis-hip, thigh); negative when bent the wrong way. (..., 4)"""
    root, proximal, hinge, distal = _hinge_indices()
    sign = pose.new_tensor([h[2] for h in HINGES])
    a = pose[..., proximal, :] - pose[..., root, :]
    b = pose[..., hinge, :] - pose[..., proximal, :]
    n = F.normalize(torch.linalg.cross(a, b, dim=-1), dim=-1, eps=1e-9)
    return sign * (n * (pose[..., distal, :] - pose[..., hinge, :])).sum(-1)


def illegal_angle(pred: torch.Tensor) -> torch.Tensor:
    """Dabral et al. Eq. 1 on H36M-17 poses: E = min(legal-side component, 0) per elbow and
    knee, penalised as -E exp(-E) (zero when legal, growing exponentially with the violation).
    Deviation, stated: the plane normal is normalised, so E is a length in metres."""
    e = torch.clamp(bend_measures(pred), max=0.0)
    return (-e * torch.exp(-e)).sum(-1).mean()


def symmetry(pred: torch.Tensor, layout: SkeletonLayout) -> torch.Tensor:
    """Dabral et al. Eq. 2: summed |length(right bone) - length(left bone)| over the limb pairs."""
    left, right = zip(*layout.left_right_bones)
    lengths = bone_lengths(pred, layout)
    return (lengths[..., list(right)] - lengths[..., list(left)]).abs().sum(-1).mean()


def bone_ratio(pred: torch.Tensor, layout: SkeletonLayout, reference_lengths: torch.Tensor) -> torch.Tensor:
    """Zhou et al. 2017's geometric loss: within each group of :func:`ratio_groups`, the
    variance of the ratios length / reference length (the training set's mean lengths)."""
    ratios = bone_lengths(pred, layout) / reference_lengths.to(pred)
    total = pred.new_zeros(())
    for group in ratio_groups(layout):
        r = ratios[..., group]
        total = total + ((r - r.mean(-1, keepdim=True)) ** 2).mean(-1).mean()
    return total


# ------------------------------------------------------------------------ 2D and completion


def _fit_line(x: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares a = f x + c over the last axis (joints): slope and intercept."""
    xm, am = x.mean(-1, keepdim=True), a.mean(-1, keepdim=True)
    f = ((x - xm) * (a - am)).sum(-1) / ((x - xm) ** 2).sum(-1).clamp_min(1e-12)
    return f, am[..., 0] - f * xm[..., 0]


def projection_parameters(points_2d: torch.Tensor, points_3d: torch.Tensor) -> torch.Tensor:
    """Xu et al. Eq. 3: per-frame least-squares focal lengths and centres (..., 4) =
    (f_x, c_x, f_y, c_y) of u = f x / z + c from (..., J, 2) pixels and (..., J, 3) camera-frame points."""
    xz = points_3d[..., :2] / points_3d[..., 2:3]
    fx, cx = _fit_line(xz[..., 0], points_2d[..., 0])
    fy, cy = _fit_line(xz[..., 1], points_2d[..., 1])
    return torch.stack([fx, cx, fy, cy], dim=-1)


def projection(refined_2d: torch.Tensor, target_2d: torch.Tensor, points_3d: torch.Tensor,
               constancy: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Xu et al. Eq. 4 for (B, T, J, ·) clips: L1 between the (f, c) fitted to the refined and
    to the true 2D, plus ``constancy`` times the L1 between the refined fits of each frame and
    of a randomly chosen frame of the same clip (they should be constant over time)."""
    est = projection_parameters(refined_2d, points_3d)
    loss = (est - projection_parameters(target_2d, points_3d)).abs().sum(-1).mean()
    if constancy and est.shape[-2] > 1:
        other = torch.randint(0, est.shape[-2], est.shape[-2:-1], generator=generator)
        loss = loss + constancy * (est - est[..., other.to(est.device), :]).abs().sum(-1).mean()
    return loss


def confidence_2d(refined_2d: torch.Tensor, target_2d: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """Xu et al. Eq. 1: 2D distance weighted by the detector's confidence (..., J)."""
    return (confidence * torch.linalg.norm(refined_2d - target_2d, dim=-1)).mean()


def completion(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Xu et al. Eq. 7: squared error of positions, first and second temporal differences (axis -3)."""
    loss = squared_position(pred, target)
    for order in (1, 2):
        if pred.shape[-3] > order:
            loss = loss + squared_position(torch.diff(pred, n=order, dim=-3), torch.diff(target, n=order, dim=-3))
    return loss


# ------------------------------------------------------------------------------ objective


@dataclass
class Batch:
    """What the losses may compare a model's parts against."""

    targets: torch.Tensor  # (B, N, J, 3) root-relative (or root positions for trajectories)
    context_targets: torch.Tensor | None = None  # (B, L, J, 3): sampled frames (anatomy-aware)
    augmented_targets: torch.Tensor | None = None  # (B', L, J, 3): frames of re-boned sequences (Chen's AUG)
    target_2d: torch.Tensor | None = None  # (B, N, J, 2): true 2D of the output frames, as the inputs are normalised
    points_3d: torch.Tensor | None = None  # (B, N, J, 3): camera-frame 3D of the output frames


# name -> (part of the model output it reads, function of (part, batch, ctx) -> scalar)
_Term = Callable[[object, Batch, "LossContext"], torch.Tensor]


@dataclass
class LossContext:
    layout: SkeletonLayout
    options: dict = field(default_factory=dict)
    reference_lengths: torch.Tensor | None = None


def _per_part(fn):
    """Apply to one tensor or average over a list of tensors (one per sub-network)."""
    def term(part, batch: Batch, ctx: LossContext) -> torch.Tensor:
        parts = part if isinstance(part, (list, tuple)) else [part]
        return sum(fn(p, batch, ctx) for p in parts) / len(parts)
    return term


def _hard_joints(part, batch: Batch, ctx: LossContext) -> torch.Tensor:
    """Tang et al. Eq. 2: MPJPE over the hard joints only (``joints`` option, else elbows,
    wrists, knees and ankles of the layout)."""
    idx = list(ctx.options.get("joints") or hard_joint_indices(ctx.layout))
    return mpjpe(part[..., idx, :], batch.targets[..., idx, :])


LOSSES: dict[str, tuple[str, _Term]] = {
    "mpjpe": ("pose", lambda p, b, c: mpjpe(p, b.targets)),
    "squared_position": ("pose", lambda p, b, c: squared_position(p, b.targets)),
    "trajectory": ("pose", lambda p, b, c: trajectory(p, b.targets)),
    "motion": ("pose", lambda p, b, c: motion(p, b.targets, **c.options)),
    "joint_shift": ("pose", lambda p, b, c: joint_shift(p, b.targets, non_adjacent_pairs(c.layout))),
    "illegal_angle": ("pose", lambda p, b, c: illegal_angle(p)),
    "symmetry": ("pose", lambda p, b, c: symmetry(p, c.layout)),
    "bone_ratio": ("pose", lambda p, b, c: bone_ratio(p, c.layout, c.reference_lengths)),
    "completion": ("pose", lambda p, b, c: completion(p, b.targets)),
    "projection": ("refined_2d", lambda p, b, c: projection(p, b.target_2d, b.points_3d, **c.options)),
    "temporal_2d": ("refined_2d", lambda p, b, c: confidence_2d(p, b.target_2d, torch.ones_like(p[..., 0]))),
    "bone_direction": ("directions", _per_part(lambda p, b, c: bone_direction(p, b.targets, c.layout))),
    "bone_direction_cosine": ("directions", _per_part(lambda p, b, c: bone_direction_cosine(p, b.targets, c.layout))),
    "bone_length": ("lengths", lambda p, b, c: bone_length(p, b.targets, c.layout)),
    "bone_length_l1": ("lengths", lambda p, b, c: bone_length_l1(p, b.targets, c.layout)),
    "augmented_bone_length": ("augmented_lengths",
                              lambda p, b, c: bone_length(p[:, None], b.augmented_targets, c.layout)),
    "context_mpjpe": ("context_joints", lambda p, b, c: mpjpe(p, b.context_targets)),
    "composed_squared_position": ("composed", lambda p, b, c: squared_position(p, b.targets)),
    "basic_mpjpe": ("basic", lambda p, b, c: mpjpe(p, b.targets)),
    "hard_joint_mpjpe": ("pose", _hard_joints),
}


# The options a loss takes besides its weight (keyword arguments of its function, which holds their defaults).
LOSS_OPTIONS: dict[str, tuple[str, ...]] = {"motion": ("intervals", "operators"), "projection": ("constancy",),
                                            "hard_joint_mpjpe": ("joints",)}


def loss_options(name: str, value) -> tuple[float, dict]:
    """(weight, options) of one ``train.losses`` entry: a weight, or {weight: w, option: value};
    an unknown loss or option raises naming it."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; known: {sorted(LOSSES)}")
    options = dict(value) if isinstance(value, dict) else {"weight": value}
    weight = float(options.pop("weight", 1.0))
    unknown = sorted(set(options) - set(LOSS_OPTIONS.get(name, ())))
    if unknown:
        raise ValueError(f"loss {name!r} has no option {unknown[0]!r}; it takes "
                         f"{['weight', *LOSS_OPTIONS.get(name, ())]}")
    return weight, options


class Objective:
    """Weighted sum of named losses over a model's parts; ``terms`` holds each value."""

    def __init__(self, spec: dict, layout: SkeletonLayout, reference_lengths: torch.Tensor | None = None) -> None:
        self.terms: list[tuple[str, float, LossContext]] = []
        for name, value in spec.items():
            weight, options = loss_options(name, value)
            if name == "bone_ratio" and reference_lengths is None:
                raise ValueError("bone_ratio needs the training set's mean bone lengths")
            self.terms.append((name, weight, LossContext(layout, options, reference_lengths)))

    def __call__(self, parts: dict, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        total, values = batch.targets.new_zeros(()), {}
        for name, weight, ctx in self.terms:
            key, fn = LOSSES[name]
            if key not in parts:
                raise ValueError(f"loss {name!r} needs the model output {key!r}; it gives {sorted(parts)}")
            value = fn(parts[key], batch, ctx)
            values[name] = float(value.detach())
            total = total + weight * value
        return total, values


def build_objective(spec: dict | None, layout: SkeletonLayout, trajectory_target: bool = False,
                    reference_lengths: torch.Tensor | None = None) -> Objective:
    """The config's ``train.losses``; without one, MPJPE (or the trajectory loss for root targets)."""
    if not spec:
        spec = {"trajectory": 1.0} if trajectory_target else {"mpjpe": 1.0}
    return Objective(spec, layout, reference_lengths)
