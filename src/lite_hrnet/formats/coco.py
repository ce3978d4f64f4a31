"""The COCO keypoint annotation format: a checked file indexed by pycocotools."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from .json_files import read_json


def load_coco(ann_file: str | os.PathLike[str]):
    """A pycocotools ``COCO`` index over a checked keypoint annotation file."""
    from pycocotools.coco import COCO

    ann_file = Path(ann_file)
    data = read_json(ann_file, "COCO annotation file")
    if not isinstance(data, dict) or not {"images", "annotations"} <= data.keys():
        raise ValueError(
            f"COCO annotation file {ann_file} must be an object with 'images' and "
            f"'annotations' lists"
        )
    for i, image in enumerate(data["images"]):
        missing = {"id", "file_name", "width", "height"} - set(image)
        if missing:
            raise ValueError(f"{ann_file}: images[{i}] lacks {sorted(missing)}")
    data.setdefault("categories", [{"id": 1, "name": "person"}])
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
    return coco
