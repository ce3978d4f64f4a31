"""Drawing predictions over images (numpy RGB in, numpy RGB out): skeletons for pose,
colour masks for segmentation."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import cv2
import numpy as np

from ..meta.cityscapes import colorize
from ..meta.keypoints import KeypointSet

_PALETTE = np.array(
    [[255, 128, 0], [51, 153, 255], [0, 255, 0], [255, 51, 255], [255, 255, 0], [0, 255, 255]]
)


def draw_skeletons(
    image: np.ndarray,
    keypoints: np.ndarray,
    keypoint_set: KeypointSet,
    threshold: float = 0.3,
    colors: Sequence[int] | None = None,
) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 RGB with people (N, K, 3) [x, y, score] drawn.

    Joints and limbs whose scores are below ``threshold`` are left out. ``colors`` (N,):
    each person's colour number (e.g. a track id, so that a person keeps a colour over a
    video); default: their order.
    """
    out = np.ascontiguousarray(image).copy()
    scale = max(1, round(max(out.shape[:2]) / 400))
    for person_index, person in enumerate(np.asarray(keypoints)):
        number = person_index if colors is None else int(colors[person_index])
        color = _PALETTE[number % len(_PALETTE)].tolist()
        for a, b in keypoint_set.skeleton:
            if min(person[a, 2], person[b, 2]) >= threshold:
                pa = tuple(round(float(v)) for v in person[a, :2])
                pb = tuple(round(float(v)) for v in person[b, :2])
                cv2.line(out, pa, pb, color, 2 * scale, cv2.LINE_AA)
        for x, y, s in person:
            if s >= threshold:
                cv2.circle(
                    out,
                    (round(float(x)), round(float(y))),
                    3 * scale,
                    (255, 255, 255),
                    -1,
                    cv2.LINE_AA,
                )
    return out


def overlay(
    image: np.ndarray,
    class_map: np.ndarray,
    alpha: float = 0.5,
    palette: np.ndarray | None = None,
) -> np.ndarray:
    """``image`` (H, W, 3) uint8 RGB blended with the colours of ``class_map`` (H, W):
    ``palette`` (K, 3) uint8 RGB, one colour per class (default: Cityscapes' trainId
    colours); values without a colour are black."""
    if palette is None:
        colours = colorize(class_map)
    else:
        lut = np.zeros((256, 3), dtype=np.uint8)
        lut[: len(palette)] = palette
        colours = lut[np.asarray(class_map, dtype=np.uint8)]
    blended = image * (1 - alpha) + colours * alpha
    return blended.round().astype(np.uint8)


def save_image(path: str, image: np.ndarray) -> None:
    """Write an image as it is (e.g. (H, W) uint8 label ids; PNG or JPEG by extension).
    Encoded here and written by Python, so that a failed write (a full disk) is an OSError
    naming the file and the problem; ``cv2.imwrite`` only returns False."""
    ok, encoded = cv2.imencode(os.path.splitext(str(path))[1] or ".png", image)
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as {path}")
    try:
        with open(path, "wb") as f:
            f.write(encoded.tobytes())
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(path)  # no truncated image left behind
        raise OSError(error.errno, error.strerror, str(path)) from None


def save_rgb(path: str, image: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 RGB image (PNG or JPEG by extension)."""
    save_image(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
