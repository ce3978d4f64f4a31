"""The One-Euro filter (Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based
Low-pass Filter for Noisy Input in Interactive Systems", CHI 2012) for keypoints over time.

A low-pass filter whose cut-off frequency rises with the speed of the signal: a joint at
rest is smoothed hard (little jitter), a joint that moves fast is smoothed little (little
lag). With a time step ``dt`` (seconds) and the paper's formulas:

    alpha(fc)  = 1 / (1 + tau / dt),   tau = 1 / (2 pi fc)
    dx_i       = (x_i - x_hat_{i-1}) / dt
    dx_hat_i   = alpha(d_cutoff) dx_i + (1 - alpha(d_cutoff)) dx_hat_{i-1}
    fc         = min_cutoff + beta |dx_hat_i|
    x_hat_i    = alpha(fc) x_i + (1 - alpha(fc)) x_hat_{i-1}

Here a point's speed is the length of its velocity vector, so that both coordinates of a
joint share one cut-off (a joint moving diagonally is smoothed as one moving straight).
Coordinates are image pixels, so ``beta`` is per pixel/second.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Hz: the cut-off of a joint at rest. Lower: less jitter, more lag when it starts moving.
MIN_CUTOFF = 1.0
# Hz per pixel/second: how fast the cut-off rises with speed. At 0.05 a joint moving at
# 200 px/s (a walking person 300 px tall) is filtered at 11 Hz, near the raw signal.
BETA = 0.05
# Hz: the cut-off of the speed estimate itself (the paper's value).
D_CUTOFF = 1.0


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of points (..., 2) (any leading shape, e.g. (K, 2) joints), one
    value per call with its time stamp in seconds. The first call returns its input."""

    def __init__(
        self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA, d_cutoff: float = D_CUTOFF
    ) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(
                f"min_cutoff {min_cutoff} and d_cutoff {d_cutoff} must be > 0, beta {beta} >= 0"
            )
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value: np.ndarray | None = None  # the last output (..., 2)
        self.speed: np.ndarray | None = None  # the filtered velocity (..., 2), per second
        self.time_s: float | None = None

    def __call__(self, points: np.ndarray, time_s: float) -> np.ndarray:
        x = np.asarray(points, np.float64)
        if self.value is None or self.time_s is None:
            self.value, self.speed, self.time_s = x.copy(), np.zeros_like(x), float(time_s)
            return x.copy()
        if x.shape != self.value.shape:
            raise ValueError(f"points {x.shape} after points {self.value.shape}")
        dt = float(time_s) - self.time_s
        if not dt > 0:
            raise ValueError(f"time stamps must increase: {time_s} s after {self.time_s} s")
        a_d = _alpha(self.d_cutoff, dt)
        self.speed = self.speed + a_d * ((x - self.value) / dt - self.speed)
        cutoff = self.min_cutoff + self.beta * np.linalg.norm(self.speed, axis=-1, keepdims=True)
        a = _alpha(cutoff, dt)
        self.value = self.value + a * (
            x - self.value
        )  # = a x + (1 - a) x_hat: a constant stays put
        self.time_s = float(time_s)
        return self.value.copy()


class KeypointSmoother:
    """One ``OneEuroFilter`` per track id over the people of a video: ``update(keypoints,
    track_ids, time_s)`` returns the keypoints (N, K, 3) with x, y smoothed and the scores
    as they were. A track absent from a frame loses its filter (it starts afresh when the
    id comes back: after a gap, the old state says nothing about the new place)."""

    def __init__(
        self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA, d_cutoff: float = D_CUTOFF
    ) -> None:
        OneEuroFilter(min_cutoff, beta, d_cutoff)  # checks the settings now
        self.settings = (min_cutoff, beta, d_cutoff)
        self.filters: dict[int, OneEuroFilter] = {}

    def update(self, keypoints: np.ndarray, track_ids: Iterable[int], time_s: float) -> np.ndarray:
        keypoints = np.asarray(keypoints, np.float64)
        ids = [int(i) for i in track_ids]
        if len(ids) != len(keypoints) or len(set(ids)) != len(ids):
            raise ValueError(
                f"track ids {ids} must be distinct, one per person of {len(keypoints)}"
            )
        out = keypoints.copy()
        self.filters = {i: self.filters.get(i) or OneEuroFilter(*self.settings) for i in ids}
        for n, track_id in enumerate(ids):
            out[n, :, :2] = self.filters[track_id](keypoints[n, :, :2], time_s)
        return out

    def reset(self) -> None:
        self.filters = {}
