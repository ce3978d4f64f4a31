"""The network input: one normalisation for every image of every task."""

from __future__ import annotations

import numpy as np

from ..meta.imagenet import IMAGENET_MEAN, IMAGENET_STD

_MEAN = np.array(IMAGENET_MEAN, np.float32)
_STD = np.array(IMAGENET_STD, np.float32)


def normalize_image(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32: scaled to [0, 1], then ImageNet mean/std
    per channel, as the official pipelines do."""
    x = image.astype(np.float32) * (1 / 255.0)
    x = (x - _MEAN) / _STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))
