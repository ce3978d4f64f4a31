"""Top-down geometry: box <-> (center, scale) and the crop affine, as the official code does.

Conventions: points are [x, y] in pixels; ``scale`` is the box [w, h] divided by 200
(``PIXEL_STD``), and ``output_size`` is [w, h].
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

PIXEL_STD = 200.0


def box_to_center_scale(
    box_xywh: Sequence[float], aspect_ratio: float, padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """COCO box [x, y, w, h] -> center (2,) and scale (2,) with the input's w/h aspect ratio.

    The shorter side grows to the aspect ratio, then both grow by ``padding``.
    """
    x, y, w, h = (float(v) for v in box_xywh)
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    scale = np.array([w / PIXEL_STD, h / PIXEL_STD], dtype=np.float32) * padding
    return center, scale


def _rotate(point: np.ndarray, angle_rad: float) -> np.ndarray:
    sn, cs = np.sin(angle_rad), np.cos(angle_rad)
    return np.array([point[0] * cs - point[1] * sn, point[0] * sn + point[1] * cs])


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.array([-d[1], d[0]])


def get_affine_transform(
    center: np.ndarray,
    scale: np.ndarray,
    rotation: float,
    output_size: Sequence[int],
    inverse: bool = False,
) -> np.ndarray:
    """(2, 3) matrix mapping the rotated box onto an ``output_size`` [w, h] crop.

    Built from three point pairs, exactly as the official ``get_affine_transform``:
    the center goes to the crop center and the box width to the crop width.
    """
    src_w = scale[0] * PIXEL_STD
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    rot = np.deg2rad(rotation)
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center
    src[1] = center + _rotate(np.array([0.0, src_w * -0.5]), rot)
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + np.array([0.0, dst_w * -0.5])
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    if inverse:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a (2, 3) affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def heatmap_to_image(
    coords: np.ndarray, center: np.ndarray, scale: np.ndarray, heatmap_size: Sequence[int]
) -> np.ndarray:
    """Heatmap coordinates (K, 2) back to the image: the official ``transform_preds``.

    This is the inverse of the unrotated crop affine at heatmap resolution [w, h].
    """
    box = scale * PIXEL_STD
    factor = box / np.asarray(heatmap_size, dtype=np.float64)
    return coords * factor + center - box * 0.5
