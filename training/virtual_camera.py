"""Virtual cameras for the wild: the training poses seen from cameras Human3.6M never had.

Human3.6M films five actors from four cameras at chest height, 3 to 6 m away, with one lens.
A robot's camera looks down or up at people (elevation), may be tilted (roll), meets them
from 1.5 to 10 m anywhere in a landscape or portrait image, through webcam or phone lenses,
and its detector guesses the joints that leave the image. Per training sample this module
draws such a camera (one static camera for a temporal lifter's whole input window),
re-expresses the 3D in it, projects the 2D input (focal-normalised) and adds a real detector's
errors: Gaussian pixel noise, rare gross outliers, and joints outside the image replaced by
noisy guesses near the border. For a gravity-levelled lifter (``level``) the windows are in
level frames and the virtual camera's tilt is known, as a robot knows its camera's: its rays
and the 3D come back to the level frame, so the lifter sees where people are against gravity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class VirtualCameraSpec:
    """Ranges of the virtual cameras (the issue's robot setting by default)."""

    probability: float = 0.5  # share of the samples seen through a virtual camera
    # Pitch added to the recording camera's own (Human3.6M's look 10.5-16 degrees down): positive looks down.
    elevation_deg: tuple[float, float] = (-30.0, 50.0)
    roll_deg: tuple[float, float] = (-10.0, 10.0)
    distance_m: tuple[float, float] = (1.5, 10.0)
    hfov_deg: tuple[float, float] = (45.0, 100.0)  # webcams and phones
    portrait: float = 0.25  # share of portrait (9:16) images; landscape (16:9) otherwise
    noise_px: tuple[float, float] = (1.0, 6.0)  # per-sample pixel noise at 1280 px image width
    outlier: float = 0.01  # share of joints replaced by a gross error (up to 15 % of the image)

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0 or not 0.0 <= self.portrait <= 1.0:
            raise ValueError("probability and portrait are shares in [0, 1]")
        if self.distance_m[0] <= 0.5 or self.hfov_deg[0] <= 0 or self.hfov_deg[1] >= 170:
            raise ValueError("virtual cameras need distances above 0.5 m and fields of view in (0, 170) degrees")


def _uniform(lo_hi: tuple[float, float], n: int, g: torch.Generator, device) -> torch.Tensor:
    lo, hi = lo_hi
    return lo + (hi - lo) * torch.rand(n, generator=g, device=device)


def _rotation_x(a: torch.Tensor) -> torch.Tensor:
    c, s, z, o = torch.cos(a), torch.sin(a), torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(-1, 3, 3)


def _rotation_z(a: torch.Tensor) -> torch.Tensor:
    c, s, z, o = torch.cos(a), torch.sin(a), torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(-1, 3, 3)


def virtual_views(windows: torch.Tensor, spec: VirtualCameraSpec, g: torch.Generator | None = None,
                  level: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Windows of 3D poses (B, T, J, 3) in their camera's optical frame (T = 1: one frame, which
    may be root-relative) -> (2D inputs (B, T, J, 2) focal-normalised, the windows seen from the
    virtual cameras (B, T, J, 3), and which samples were re-viewed (B,) bool). A window is seen
    from one static camera: the person's motion over its frames is kept, turned about the mean
    root position. Samples not drawn keep their 3D and get no input (zeros): the caller keeps its
    own 2D for them. ``g``: the random generator (None: torch's). ``level``: the windows are in
    level frames (y along gravity) and the 2D and 3D come back to them: rays of the level camera
    at the virtual camera's centre; a sample with a ray more than 75 degrees off that camera's axis
    (a steep camera near its nadir) is not re-viewed."""
    b, device = len(windows), windows.device
    chosen = torch.rand(b, generator=g, device=device) < spec.probability
    # A camera pitched down by e sees the world rotated by R_x(e): ahead appears higher, and the
    # head of a standing person comes nearer than the feet.
    pitch = torch.deg2rad(_uniform(spec.elevation_deg, b, g, device))
    roll = torch.deg2rad(_uniform(spec.roll_deg, b, g, device))
    rotation = _rotation_z(roll) @ _rotation_x(pitch)
    anchor = windows[:, :, :1].mean(dim=1, keepdim=True)  # (B, 1, 1, 3)
    posed = (windows - anchor) @ rotation.transpose(1, 2)[:, None]
    # Image: landscape 16:9 or portrait 9:16, half-width tan from the field of view.
    half_w = torch.tan(0.5 * torch.deg2rad(_uniform(spec.hfov_deg, b, g, device)))
    portrait = torch.rand(b, generator=g, device=device) < spec.portrait
    half = torch.stack([half_w, half_w * torch.where(portrait, 16.0 / 9.0, 9.0 / 16.0)], -1)  # (B, 2) in x/z, y/z
    # Root somewhere in the image's central part at a random distance (log-uniform: near people are rarer).
    lo, hi = (math.log(v) for v in spec.distance_m)
    depth = torch.exp(lo + (hi - lo) * torch.rand(b, generator=g, device=device))
    centre = (2 * torch.rand(b, 2, generator=g, device=device) - 1) * 0.6 * half
    root = torch.cat([centre * depth[:, None], depth[:, None]], -1)
    points = posed + root[:, None, None, :]
    uv = points[..., :2] / points[..., 2:].clamp(min=0.1)
    # A real detector's errors, in pixels of a 1280-px-wide image, on every frame.
    half = half[:, None, None, :]  # (B, 1, 1, 2)
    px = 2 * half[..., :1] / 1280.0  # focal-normalised units per pixel
    sigma = _uniform(spec.noise_px, b, g, device)[:, None, None, None] * px
    uv = uv + sigma * torch.randn(uv.shape, generator=g, device=device)
    outliers = torch.rand(uv.shape[:-1], generator=g, device=device) < spec.outlier
    jump = 0.3 * half * (2 * torch.rand(uv.shape, generator=g, device=device) - 1)
    uv = torch.where(outliers[..., None], uv + jump, uv)
    # Joints out of the image: a guess inside it near the border, as a detector's low-confidence guess.
    inside = 0.95 * half
    guess = uv.clamp(min=-inside, max=inside) + 0.02 * half * torch.randn(uv.shape, generator=g, device=device)
    uv = torch.where(uv.abs() > half, guess, uv)
    if level:
        rays = torch.cat([uv, torch.ones_like(uv[..., :1])], -1) @ rotation[:, None]  # R^T per ray
        steep = rays[..., 2] <= math.cos(math.radians(75.0)) * rays.norm(dim=-1)
        chosen = chosen & ~steep.flatten(1).any(dim=1)
        uv = rays[..., :2] / rays[..., 2:].clamp(min=0.1)
        points = points @ rotation[:, None]
    keep = chosen[:, None, None, None]
    return torch.where(keep, uv, torch.zeros_like(uv)), torch.where(keep, points, windows), chosen
