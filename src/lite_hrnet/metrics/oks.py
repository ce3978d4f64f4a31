"""Object keypoint similarity and OKS-NMS (numpy)."""

from __future__ import annotations

import numpy as np


def oks_iou(
    g: np.ndarray, d: np.ndarray, area_g: float, area_d: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """OKS of one instance ``g`` (K, 3) against ``d`` (N, K, 3), as the official ``oks_iou``.

    Uses the mean of the two areas as the scale. Returns (N,).
    """
    variances = (np.asarray(sigmas) * 2) ** 2
    dx = d[:, :, 0] - g[None, :, 0]
    dy = d[:, :, 1] - g[None, :, 1]
    area = (area_g + np.asarray(area_d)[:, None]) / 2 + np.spacing(1)
    e = (dx**2 + dy**2) / variances / area / 2
    return np.exp(-e).mean(axis=1)


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    threshold: float,
) -> list[int]:
    """Greedy NMS by OKS: keypoints (N, K, 3), scores (N,), areas (N,) -> kept indices."""
    order = np.argsort(scores, kind="stable")[::-1]
    keep = []
    while order.size > 0:
        i = int(order[0])
        keep.append(i)
        overlap = oks_iou(keypoints[i], keypoints[order[1:]], areas[i], areas[order[1:]], sigmas)
        order = order[np.where(overlap <= threshold)[0] + 1]
    return keep
