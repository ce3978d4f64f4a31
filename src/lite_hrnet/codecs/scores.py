"""A person's score from its keypoints' scores: the official rescoring (HRNet, mmpose's
top-down COCO evaluation), shared by the COCO metric and the inference classes."""

from __future__ import annotations

import numpy as np

# Keypoints scoring at most this leave the mean out (mmpose's ``vis_thr``).
KEYPOINT_SCORE_THRESHOLD = 0.2


def rescore(
    keypoint_scores: np.ndarray, box_score: float = 1.0, threshold: float = KEYPOINT_SCORE_THRESHOLD
) -> float:
    """Instance score = box score x mean of the keypoint scores (K,) above ``threshold``
    (0 when none is)."""
    valid = keypoint_scores[keypoint_scores > threshold]
    return float(box_score * (valid.mean() if valid.size else 0.0))
