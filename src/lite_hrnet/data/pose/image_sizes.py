"""Image files against the size their annotation states.

Keypoints and boxes are in the pixels of the image the annotation was made on. An image
resized since (a folder shrunk to 320x240 while the JSON says 640x480) would crop the
wrong place and score against the wrong coordinates without a word. So the size in each
file's header is compared with the annotation's ``width`` and ``height`` at set-up: people
of an image that differs are skipped and counted (one warning per file), and a split whose
every checked image differs is an error. ``TopDownDataset`` compares the decoded image
too, which catches what a header does not tell (an EXIF rotation, a file replaced later).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..images import read_image_size
from .records import PoseInstance


def _spread(items: list, count: int | None) -> list:
    """``count`` items evenly spread over ``items`` (all of them for None)."""
    if count is None or len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def drop_resized_images(
    instances: Sequence[PoseInstance],
    ann_file: str | os.PathLike[str],
    checked: int | None = None,
) -> list[PoseInstance]:
    """``instances`` without those whose image file's [W, H] differs from the annotation's
    (``PoseInstance.image_size``), with one warning naming some. ``checked`` images, evenly
    spread, are read (None: every one; a cheap start for a large train split, whose other
    images the decoded-size check of ``TopDownDataset`` covers). Raises ``ValueError``
    when every checked image differs."""
    by_image: dict[str, tuple[int, int]] = {}
    for inst in instances:
        if inst.image_size is not None:
            by_image.setdefault(inst.image_path, inst.image_size)
    differ: dict[str, str] = {}
    paths = _spread(sorted(by_image), checked)
    for path in paths:
        size = read_image_size(path)
        if size is not None and tuple(size) != tuple(by_image[path]):
            w, h = by_image[path]
            differ[path] = f"{Path(path).name} is {size[0]}x{size[1]}, annotated {w}x{h}"
    if not differ:
        return list(instances)
    shown = "; ".join(list(differ.values())[:3])
    if len(differ) == len(paths):
        raise ValueError(
            f"{ann_file}: every one of the {len(paths)} images checked has another size than "
            f"its annotation states (e.g. {shown}); were the images resized? Keypoints are "
            "in the annotated pixels"
        )
    kept = [inst for inst in instances if inst.image_path not in differ]
    warnings.warn(
        f"{ann_file}: images whose size differs from the annotation's width and height, "
        f"their {len(instances) - len(kept)} people skipped: {len(differ)} of {len(paths)} "
        f"checked (e.g. {shown})",
        stacklevel=2,
    )
    return kept
