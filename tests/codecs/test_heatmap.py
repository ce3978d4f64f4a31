import numpy as np
import pytest

from lite_hrnet.codecs.heatmap import (
    argmax_keypoints,
    decode_heatmaps,
    encode_heatmaps,
    sigma_for_heatmap,
)


def _gaussian(x: float, y: float, w: int = 48, h: int = 64, sigma: float = 2.0) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    return np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_sigma_follows_resolution():
    assert sigma_for_heatmap(64) == 2 and sigma_for_heatmap(96) == 3


def test_encode_places_unit_peak_at_rounded_position():
    joints = np.array([[41.0, 97.0], [10.3, 20.6]])
    target, weight = encode_heatmaps(joints, np.ones(2), (192, 256), (48, 64), 2.0)
    assert target.shape == (2, 64, 48) and weight.tolist() == [1, 1]
    # int(x / 4 + 0.5): 41 -> 10, 97 -> 24; 10.3 -> 3, 20.6 -> 5
    assert np.unravel_index(target[0].argmax(), target[0].shape) == (24, 10)
    assert np.unravel_index(target[1].argmax(), target[1].shape) == (5, 3)
    assert target.max() == pytest.approx(1.0)
    # radius 3 sigma: nothing beyond 6 pixels from the peak
    assert target[0, 24, 17] == 0 and target[0, 24, 16] > 0


def test_encode_zero_weight_for_invisible_and_outside():
    joints = np.array([[10.0, 10.0], [-60.0, 10.0], [10.0, 10.0]])
    target, weight = encode_heatmaps(joints, np.array([1, 1, 0]), (192, 256), (48, 64), 2.0)
    assert weight.tolist() == [1, 0, 0]
    assert target[1].max() == 0 and target[2].max() == 0


def test_encode_decode_round_trip():
    rng = np.random.default_rng(0)
    joints = rng.uniform(8, 180, size=(17, 2))
    target, _ = encode_heatmaps(joints, np.ones(17), (192, 256), (48, 64), 2.0)
    coords, scores = decode_heatmaps(target[None])
    # The encoder quantises to the heatmap grid (stride 4): half a cell at most.
    assert np.abs(coords[0] * 4 - joints).max() <= 2.0 + 1e-4
    assert np.allclose(scores, 1.0)


@pytest.mark.parametrize("x, y", [(20.3, 30.7), (11.6, 40.2), (30.5, 12.25)])
def test_subpixel_decoding(x, y):
    heatmap = _gaussian(x, y)[None, None]
    quarter, _ = decode_heatmaps(heatmap)
    dark, _ = decode_heatmaps(heatmap, dark=True)
    assert np.abs(quarter[0, 0] - [x, y]).max() <= 0.25 + 1e-6
    # DARK recovers the sub-pixel mode of a Gaussian almost exactly.
    assert np.abs(dark[0, 0] - [x, y]).max() < 0.05


def test_argmax_zeroes_non_positive_peaks():
    heatmaps = -np.ones((1, 2, 8, 8), np.float32)
    heatmaps[0, 0, 3, 5] = 1
    coords, scores = argmax_keypoints(heatmaps)
    assert coords[0, 0].tolist() == [5, 3] and coords[0, 1].tolist() == [0, 0]
    assert scores[0].tolist() == [1, -1]
