"""The One-Euro filter against the paper's formulas written out per number, on noisy
paths with a known truth, a step and a constant; the per-track keypoint smoother."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lite_hrnet.inference.smoothing import KeypointSmoother, OneEuroFilter

FPS = 30.0


def _paper_filter(xs: list[float], ts: list[float], min_cutoff: float, beta: float) -> list[float]:
    """Casiez et al.'s algorithm for one number per time step, as printed (d_cutoff 1 Hz)."""

    def alpha(cutoff: float, dt: float) -> float:
        return 1 / (1 + 1 / (2 * math.pi * cutoff) / dt)

    x_hat, dx_hat, out = xs[0], 0.0, [xs[0]]
    for i in range(1, len(xs)):
        dt = ts[i] - ts[i - 1]
        a_d = alpha(1.0, dt)
        dx_hat = a_d * (xs[i] - x_hat) / dt + (1 - a_d) * dx_hat
        a = alpha(min_cutoff + beta * abs(dx_hat), dt)
        x_hat = a * xs[i] + (1 - a) * x_hat
        out.append(x_hat)
    return out


def test_the_filter_is_the_papers_for_one_number_with_uneven_time_steps() -> None:
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.uniform(0.01, 0.06, 60)).tolist()
    xs = (np.cumsum(rng.normal(0, 3, 60)) + rng.normal(0, 1, 60)).tolist()
    f = OneEuroFilter(min_cutoff=0.7, beta=0.02, d_cutoff=1.0)
    ours = [float(f(np.array([[x]]), t)[0, 0]) for x, t in zip(xs, ts)]
    np.testing.assert_allclose(ours, _paper_filter(xs, ts, 0.7, 0.02), rtol=1e-12)


def _path(t: np.ndarray, speed: float) -> np.ndarray:
    """(T, 2, 2): two joints of a person walking to the right at ``speed`` pixels a second,
    swaying a little (or standing, at speed 0)."""
    sway = 6 * np.sin(2 * np.pi * 0.5 * t) if speed else 0 * t
    joint = np.stack([100 + speed * t + sway, 200 + 3 * np.cos(t)], -1)
    return np.stack([joint, joint + np.array([5.0, 40.0])], 1)


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(-1).mean()))


@pytest.mark.parametrize(("speed", "at_most"), [(0.0, 0.55), (15.0, 0.7)])
@pytest.mark.parametrize("seed", [0, 1])
def test_smoothing_a_noisy_track_brings_it_closer_to_the_true_path(
    speed: float, at_most: float, seed: int
) -> None:
    t = np.arange(0, 4, 1 / FPS)
    truth = _path(t, speed)
    noisy = truth + np.random.default_rng(seed).normal(0, 2.0, truth.shape)
    f = OneEuroFilter()
    smoothed = np.stack([f(p, s) for p, s in zip(noisy, t)])
    settled = slice(15, None)  # after the first half second
    raw, ours = _rms(noisy[settled], truth[settled]), _rms(smoothed[settled], truth[settled])
    assert ours < at_most * raw, (ours, raw)


def test_a_step_is_followed_within_a_bounded_lag_without_overshoot() -> None:
    t = np.arange(0, 2, 1 / FPS)
    x = np.where(t >= 0.5, 100.0, 0.0)[:, None, None] * np.ones((1, 3, 2))
    f = OneEuroFilter()
    out = np.stack([f(p, s) for p, s in zip(x, t)])[:, 0, 0]
    after = out[t >= 0.5]
    assert after[0] > 0 and (np.diff(out) >= -1e-9).all() and out.max() <= 100 + 1e-9
    frames_to_90 = int(np.argmax(after >= 90))
    assert 0 < frames_to_90 <= 2, after[:8]  # within 1/15 s at 30 frames per second


def test_a_constant_stays_constant_and_the_first_value_passes_through() -> None:
    f = OneEuroFilter()
    points = np.array([[12.5, 40.0], [3.0, -7.0]])
    for i in range(20):
        np.testing.assert_array_equal(f(points, i / FPS), points)


def test_a_fast_joint_is_smoothed_less_than_a_slow_one() -> None:
    """The speed sets each joint's cut-off: with beta > 0 a joint that moves fast lags less."""
    t = np.arange(0, 1, 1 / FPS)
    x = np.stack([np.stack([20 * t, 0 * t], -1), np.stack([400 * t, 0 * t], -1)], 1)
    lags = {}
    for beta in (0.0, 0.05):
        f = OneEuroFilter(beta=beta)
        out = np.stack([f(p, s) for p, s in zip(x, t)])
        lags[beta] = (x - out)[-1, :, 0] / x[-1, :, 0]  # lag as a share of the distance
    assert lags[0.05][1] < 0.5 * lags[0.0][1]
    assert lags[0.05][1] < lags[0.05][0]


def test_bad_settings_and_time_stamps_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="min_cutoff 0"):
        OneEuroFilter(min_cutoff=0)
    f = OneEuroFilter()
    f(np.zeros((17, 2)), 1.0)
    with pytest.raises(ValueError, match="time stamps must increase"):
        f(np.zeros((17, 2)), 1.0)
    with pytest.raises(ValueError, match=r"points \(16, 2\) after points \(17, 2\)"):
        f(np.zeros((16, 2)), 2.0)


def _people(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.concatenate([rng.uniform(0, 100, (n, 17, 2)), rng.uniform(0, 1, (n, 17, 1))], -1)


def test_the_keypoint_smoother_keeps_one_filter_per_track_and_leaves_scores_alone() -> None:
    rng = np.random.default_rng(0)
    smoother = KeypointSmoother()
    first = _people(rng, 2)
    np.testing.assert_array_equal(smoother.update(first, [7, 3], 0.0), first)
    second = _people(rng, 2)
    # the same people handed over in the other order: each is smoothed with its own past
    swapped = smoother.update(second[::-1], [3, 7], 1 / FPS)
    alone = KeypointSmoother()
    alone.update(first[:1], [7], 0.0)
    np.testing.assert_allclose(swapped[1], alone.update(second[:1], [7], 1 / FPS)[0])
    np.testing.assert_array_equal(swapped[..., 2], second[::-1, :, 2])
    assert not np.allclose(swapped[..., :2], second[::-1, :, :2])  # x, y did change


def test_filters_of_tracks_that_vanished_are_dropped() -> None:
    rng = np.random.default_rng(0)
    smoother = KeypointSmoother()
    smoother.update(_people(rng, 3), [1, 2, 3], 0.0)
    smoother.update(_people(rng, 1), [2], 1 / FPS)
    assert set(smoother.filters) == {2}
    back = _people(rng, 1)
    np.testing.assert_array_equal(smoother.update(back, [1], 2 / FPS), back)  # starts afresh
    with pytest.raises(ValueError, match="must be distinct"):
        smoother.update(_people(rng, 2), [4, 4], 3 / FPS)
