"""Test-time crops of a top-down pose model: boxes grown to the codec's aspect ratio as
(center, scale), and the affine crop of one person, normalised for the network."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .geometry import box_to_center_scale, get_affine_transform
from .heatmap_codec import HeatmapCodec
from .image import normalize_image


def crop_for_inference(
    image: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: Sequence[int]
) -> np.ndarray:
    """The test-time crop: (H, W, 3) uint8 RGB -> (3, h, w) normalised, ``input_size`` (h, w)."""
    h, w = input_size
    matrix = get_affine_transform(center, scale, 0.0, (w, h))
    return normalize_image(cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR))


def boxes_to_centers_scales(
    boxes_xywh: np.ndarray, codec: HeatmapCodec
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) [x, y, w, h] -> centers (N, 2), scales (N, 2), grown to the aspect
    ratio of the codec's input."""
    pairs = [box_to_center_scale(b, codec.aspect_ratio) for b in boxes_xywh]
    if not pairs:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def crop_people(
    image: np.ndarray, boxes_xywh: np.ndarray, codec: HeatmapCodec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The crops (N, 3, h, w) float32 of ``image`` (H, W, 3) uint8 RGB at the people's boxes
    (N, 4) [x, y, w, h], at the codec's input size, with their centers and scales (N, 2)."""
    centers, scales = boxes_to_centers_scales(boxes_xywh, codec)
    h, w = codec.input_hw
    if len(centers) == 0:
        return np.zeros((0, 3, h, w), np.float32), centers, scales
    crops = [crop_for_inference(image, c, s, (h, w)) for c, s in zip(centers, scales)]
    return np.stack(crops), centers, scales
