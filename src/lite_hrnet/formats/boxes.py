"""A person-boxes file for ``predict``: ``{"image file name": [[x, y, w, h], ...]}``.

Every entry is checked when the file is read: a box is 4 numbers [x, y, w, h] (a fifth, a
detector's score, is allowed and ignored), finite, and not a boolean or a string; anything
else is an error that names the file, the image and the box. Boxes are then clipped to
their image (``clip_boxes``); those left with no area are skipped and counted by the caller.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .json_files import read_json


def _is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_boxes_file(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The boxes (N, 4) float64 [x, y, w, h] in image pixels of each image name in ``path``.

    Raises ``ValueError`` naming the file and the entry for anything but a JSON object of
    lists of 4 (or 5) finite numbers.
    """
    path = Path(path)
    data = read_json(path, "boxes file")
    if not isinstance(data, dict):
        raise ValueError(
            f"boxes file {path} must be a JSON object mapping image names to "
            "[[x, y, w, h], ...] lists"
        )
    boxes: dict[str, np.ndarray] = {}
    for name, entries in data.items():
        if not isinstance(entries, list):
            raise ValueError(
                f"boxes file {path}: {name!r} must map to a list of [x, y, w, h] boxes, "
                f"got {entries!r:.80}"
            )
        for i, box in enumerate(entries):
            if not (
                isinstance(box, list)
                and len(box) in (4, 5)
                and all(_is_finite_number(v) for v in box)
            ):
                raise ValueError(
                    f"boxes file {path}: box {i} of {name!r} must be 4 finite numbers "
                    f"[x, y, w, h] (a fifth, a score, is allowed), got {box!r:.80}"
                )
        boxes[name] = np.asarray([box[:4] for box in entries], np.float64).reshape(-1, 4)
    return boxes


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, int, int]:
    """Boxes (N, 4) [x, y, w, h] clipped to a ``width`` x ``height`` image: (the boxes with
    an area left (M, 4), how many of those were changed, how many were dropped)."""
    x1 = np.clip(boxes[:, 0], 0, width)
    y1 = np.clip(boxes[:, 1], 0, height)
    x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
    y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
    kept = (x2 > x1) & (y2 > y1)
    clipped = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    changed = kept & ~np.all(np.isclose(clipped, boxes), axis=1)
    return clipped[kept], int(changed.sum()), int((~kept).sum())
