"""MSRA Gaussian heatmaps: the official target encoding and the argmax / DARK decoding.

Heatmaps are (K, h, w) per sample or (B, K, h, w) per batch; keypoints are [x, y] in
heatmap pixels unless a function says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def sigma_for_heatmap(heatmap_height: int) -> float:
    """The recipe's sigma: 2 for a 64-pixel-high heatmap (256x192), 3 for 96 (384x288)."""
    return heatmap_height / 32.0


def encode_heatmaps(
    joints: np.ndarray,
    visible: np.ndarray,
    image_size: Sequence[int],
    heatmap_size: Sequence[int],
    sigma: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Joints (K, 2) in input pixels -> targets (K, h, w) and target weights (K,).

    ``image_size`` and ``heatmap_size`` are [w, h]. An unnormalised Gaussian (peak 1) sits
    at ``int(x / stride + 0.5)`` with radius ``3 sigma``. The weight is 0 for invisible
    joints and for Gaussians wholly outside the heatmap, as in the official code.
    """
    num_joints = joints.shape[0]
    hm_w, hm_h = int(heatmap_size[0]), int(heatmap_size[1])
    stride = np.asarray(image_size, np.float32) / np.asarray(heatmap_size, np.float32)
    target = np.zeros((num_joints, hm_h, hm_w), dtype=np.float32)
    weight = (np.asarray(visible) > 0).astype(np.float32)
    radius = sigma * 3
    size = int(2 * radius + 1)
    axis = np.arange(size, dtype=np.float32)
    mid = size // 2
    gaussian = np.exp(-((axis[None] - mid) ** 2 + (axis[:, None] - mid) ** 2) / (2 * sigma**2))
    for k in range(num_joints):
        if weight[k] == 0:
            continue
        # int() truncates toward zero, as the official code does for negative positions.
        mu_x = int(joints[k, 0] / stride[0] + 0.5)
        mu_y = int(joints[k, 1] / stride[1] + 0.5)
        left, top = int(mu_x - radius), int(mu_y - radius)
        right, bottom = int(mu_x + radius + 1), int(mu_y + radius + 1)
        if left >= hm_w or top >= hm_h or right < 0 or bottom < 0:
            weight[k] = 0
            continue
        gx0, gx1 = max(0, -left), min(right, hm_w) - left
        gy0, gy1 = max(0, -top), min(bottom, hm_h) - top
        x0, x1 = max(0, left), min(right, hm_w)
        y0, y1 = max(0, top), min(bottom, hm_h)
        target[k, y0:y1, x0:x1] = gaussian[gy0:gy1, gx0:gx1]
    return target, weight


def argmax_keypoints(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, K, h, w) -> integer peak locations (B, K, 2) as float and peak values (B, K).

    Locations with a non-positive peak are set to 0, as in the official ``get_max_preds``.
    """
    b, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, k, h * w)
    index = flat.argmax(axis=2)
    maxvals = np.take_along_axis(flat, index[..., None], axis=2)[..., 0]
    coords = np.stack([index % w, index // w], axis=-1).astype(np.float32)
    coords *= (maxvals > 0)[..., None]
    return coords, maxvals


def _quarter_offset(heatmaps: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Move each peak a quarter pixel toward its higher neighbour (official default)."""
    b, k, h, w = heatmaps.shape
    out = coords.copy()
    for i in range(b):
        for j in range(k):
            hm = heatmaps[i, j]
            px, py = int(coords[i, j, 0] + 0.5), int(coords[i, j, 1] + 0.5)
            if 1 < px < w - 1 and 1 < py < h - 1:
                diff = np.array([hm[py, px + 1] - hm[py, px - 1], hm[py + 1, px] - hm[py - 1, px]])
                out[i, j] += np.sign(diff) * 0.25
    return out


def _dark_refine(heatmaps: np.ndarray, coords: np.ndarray, kernel: int) -> np.ndarray:
    """DARK (Zhang et al. 2020): blur, log, then one Newton step on the Taylor expansion."""
    b, k, h, w = heatmaps.shape
    border = (kernel - 1) // 2
    smooth = np.empty_like(heatmaps, dtype=np.float32)
    for i in range(b):
        for j in range(k):
            peak = heatmaps[i, j].max()
            padded = np.zeros((h + 2 * border, w + 2 * border), dtype=np.float32)
            padded[border:-border, border:-border] = heatmaps[i, j]
            blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[border:-border, border:-border]
            smooth[i, j] = blurred * (peak / max(blurred.max(), np.finfo(np.float32).tiny))
    logs = np.log(np.clip(smooth, 0.001, 50))
    out = coords.astype(np.float64).copy()
    for i in range(b):
        for j in range(k):
            hm = logs[i, j]
            px, py = int(coords[i, j, 0]), int(coords[i, j, 1])
            if not (1 < px < w - 2 and 1 < py < h - 2):
                continue
            dx = 0.5 * (hm[py, px + 1] - hm[py, px - 1])
            dy = 0.5 * (hm[py + 1, px] - hm[py - 1, px])
            dxx = 0.25 * (hm[py, px + 2] - 2 * hm[py, px] + hm[py, px - 2])
            dxy = 0.25 * (
                hm[py + 1, px + 1] - hm[py - 1, px + 1] - hm[py + 1, px - 1] + hm[py - 1, px - 1]
            )
            dyy = 0.25 * (hm[py + 2, px] - 2 * hm[py, px] + hm[py - 2, px])
            det = dxx * dyy - dxy**2
            if det != 0:
                hessian = np.array([[dxx, dxy], [dxy, dyy]])
                out[i, j] -= np.linalg.solve(hessian, np.array([dx, dy]))
    return out.astype(np.float32)


def decode_heatmaps(
    heatmaps: np.ndarray, dark: bool = False, dark_kernel: int = 11
) -> tuple[np.ndarray, np.ndarray]:
    """(B, K, h, w) -> sub-pixel keypoints (B, K, 2) in heatmap pixels and scores (B, K).

    Default: argmax plus a quarter-pixel step (the paper's test setting). ``dark=True``
    uses DARK's distribution-aware refinement instead.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    coords, maxvals = argmax_keypoints(heatmaps)
    if dark:
        coords = _dark_refine(heatmaps, coords, dark_kernel)
    else:
        coords = _quarter_offset(heatmaps, coords)
    return coords, maxvals
