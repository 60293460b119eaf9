"""Causal smoothing with bounded lag: the One-Euro filter (Casiez et al., CHI 2012), and a
low-passed velocity estimate.

A first-order low-pass filter whose cut-off frequency rises with the signal's speed: slow
movements are smoothed hard (little jitter), fast ones pass with little lag. Each element
of the array is filtered on its own; the output depends on past and present samples only.
"""
from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """min_cutoff (Hz): smoothing at rest; beta: how fast the cut-off rises with speed
    (per unit of the signal per second); d_cutoff (Hz): smoothing of the speed estimate."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"One-Euro filter needs min_cutoff > 0, d_cutoff > 0, beta >= 0 "
                             f"(got {min_cutoff}, {d_cutoff}, {beta})")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None
        self.stamp: float | None = None

    def __call__(self, x: np.ndarray, stamp: float) -> np.ndarray:
        """Filter the sample ``x`` taken at ``stamp`` (seconds); restarts when time does not advance."""
        x = np.asarray(x, dtype=np.float64)
        if self.value is None or self.stamp is None or not stamp > self.stamp or self.value.shape != x.shape:
            self.value, self.speed, self.stamp = x.copy(), np.zeros_like(x), stamp
            return x.copy()
        dt = stamp - self.stamp
        speed = (x - self.value) / dt
        self.speed = self.speed + _alpha(self.d_cutoff, dt) * (speed - self.speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self.speed)
        self.value = self.value + _alpha(cutoff, dt) * (x - self.value)
        self.stamp = stamp
        return self.value.copy()


class VelocityFilter:
    """The velocity of a sampled signal: its finite differences, low-passed at ``cutoff`` Hz
    (first order, causal: a lag of about 1 / (2 pi cutoff) s). NaN until a second sample;
    restarts when time does not advance or the shape changes."""

    def __init__(self, cutoff: float = 2.0) -> None:
        if cutoff <= 0:
            raise ValueError(f"velocity filter needs a cut-off > 0 Hz, got {cutoff}")
        self.cutoff = cutoff
        self.last: np.ndarray | None = None
        self.stamp: float | None = None
        self.velocity: np.ndarray | None = None

    def __call__(self, x: np.ndarray, stamp: float) -> np.ndarray:
        """The velocity (units of ``x`` per second) after the sample ``x`` taken at ``stamp``."""
        x = np.asarray(x, dtype=np.float64)
        if self.last is None or self.stamp is None or not stamp > self.stamp or self.last.shape != x.shape:
            self.last, self.stamp, self.velocity = x.copy(), stamp, None
            return np.full_like(x, np.nan)
        dt = stamp - self.stamp
        raw = (x - self.last) / dt
        if self.velocity is None:
            self.velocity = raw
        else:
            self.velocity = self.velocity + _alpha(self.cutoff, dt) * (raw - self.velocity)
        self.last, self.stamp = x.copy(), stamp
        return self.velocity.copy()
