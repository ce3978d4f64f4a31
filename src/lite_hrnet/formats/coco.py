"""The COCO keypoint annotation format: a checked file indexed by pycocotools.

Every entry's types are checked before pycocotools sees the file, so a wrong value is an
error that names the file, the entry and the field instead of a ``TypeError`` inside
pycocotools or a NaN deep in a DataLoader worker. Duplicate image or annotation ids are
errors too: pycocotools keeps the last entry of an id, which crops people from the wrong
file and scores predictions against the wrong person.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .json_files import read_json

_SHOWN = 5


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite_numbers(values: Any, length: int | None = None) -> bool:
    """Whether ``values`` is a list of finite numbers (of ``length`` entries if given)."""
    return (
        isinstance(values, list)
        and (length is None or len(values) == length)
        and all(_is_number(v) for v in values)
        and math.isfinite(math.fsum(values))
    )


def _duplicates(ids: Sequence[Any]) -> list[Any]:
    return [value for value, count in Counter(ids).items() if count > 1]


def _check_images(ann_file: Path, images: Any) -> None:
    if not isinstance(images, list):
        raise ValueError(f"COCO annotation file {ann_file}: 'images' must be a list")
    for i, image in enumerate(images):
        if not isinstance(image, dict):
            raise ValueError(f"{ann_file}: images[{i}] must be an object, got {image!r:.60}")
        missing = {"id", "file_name", "width", "height"} - set(image)
        if missing:
            raise ValueError(f"{ann_file}: images[{i}] lacks {sorted(missing)}")
        needs = {
            "an integer 'id'": _is_int(image["id"]),
            "a string 'file_name'": isinstance(image["file_name"], str),
            "a positive 'width'": _is_number(image["width"]) and image["width"] > 0,
            "a positive 'height'": _is_number(image["height"]) and image["height"] > 0,
        }
        failed = [need for need, ok in needs.items() if not ok]
        if failed:
            raise ValueError(f"{ann_file}: images[{i}] needs {failed[0]}: {image!r:.120}")
    duplicated = _duplicates([image["id"] for image in images])
    if duplicated:
        raise ValueError(
            f"{ann_file}: {len(duplicated)} image ids are used more than once, e.g. "
            f"{duplicated[:_SHOWN]}; every image needs its own id"
        )


def _check_annotations(ann_file: Path, annotations: Any) -> None:
    if not isinstance(annotations, list):
        raise ValueError(f"COCO annotation file {ann_file}: 'annotations' must be a list")
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            raise ValueError(f"{ann_file}: annotations[{i}] must be an object, got {ann!r:.60}")
        missing = {"id", "image_id"} - set(ann)
        if missing:
            raise ValueError(f"{ann_file}: annotations[{i}] lacks {sorted(missing)}")
        name = f"{ann_file}: annotation {ann['id']!r} (annotations[{i}])"
        for key in ("id", "image_id", "category_id"):
            if key in ann and not _is_int(ann[key]):
                raise ValueError(f"{name}: '{key}' must be an integer, got {ann[key]!r:.40}")
        for key in ("area", "iscrowd"):
            if key in ann and not (_is_number(ann[key]) and math.isfinite(ann[key])):
                raise ValueError(f"{name}: '{key}' must be a finite number, got {ann[key]!r:.40}")
        if "bbox" in ann and not _is_finite_numbers(ann["bbox"], 4):
            raise ValueError(f"{name}: 'bbox' must be 4 finite numbers, got {ann['bbox']!r:.80}")
        keypoints = ann.get("keypoints")
        if keypoints is not None and not (
            _is_finite_numbers(keypoints) and len(keypoints) % 3 == 0
        ):
            raise ValueError(
                f"{name}: 'keypoints' must be finite numbers, [x, y, v] per joint, "
                f"got {keypoints!r:.80}"
            )
        count = ann.get("num_keypoints")
        if count is not None and not (_is_int(count) and count >= 0):
            raise ValueError(f"{name}: 'num_keypoints' must be an integer >= 0, got {count!r:.40}")
        if count is None and keypoints is not None:
            # COCOeval reads it for every person; as mmpose, count the labelled joints.
            ann["num_keypoints"] = sum(v > 0 for v in keypoints[2::3])
    duplicated = _duplicates([ann["id"] for ann in annotations])
    if duplicated:
        raise ValueError(
            f"{ann_file}: {len(duplicated)} annotation ids are used more than once, e.g. "
            f"{duplicated[:_SHOWN]}; every annotation needs its own id"
        )


def count_scorable(coco) -> int:
    """The instances ``COCOeval`` scores in a keypoint file: non-crowd ones with
    ``num_keypoints`` > 0 (it ignores the others), of any category."""
    return sum(
        1
        for ann in coco.anns.values()
        if not ann.get("iscrowd", 0) and ann.get("num_keypoints", 0) > 0
    )


def check_scorable(coco_gt, ann_file: str | os.PathLike[str]) -> None:
    """A ``ValueError`` when ``COCOeval`` would score nobody in ``ann_file`` (every number
    -1): no non-crowd person has ``num_keypoints`` > 0."""
    if count_scorable(coco_gt) == 0:
        raise ValueError(
            f"{ann_file}: nothing to score: no non-crowd person has num_keypoints > 0, and "
            "COCOeval ignores the others (every COCO number would be -1); set num_keypoints "
            "to the number of keypoints with v > 0"
        )


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
    _check_images(ann_file, data["images"])
    _check_annotations(ann_file, data["annotations"])
    data.setdefault("categories", [{"id": 1, "name": "person"}])
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
    return coco


def keypoint_categories(
    data: dict, ann_file: str | os.PathLike[str], pick: Sequence[int | str] | None = None
) -> list[dict]:
    """The categories of a COCO file's keypoint instances, as ``{"id", "name", ...}`` dicts.

    Without ``pick``: every category that lists keypoint names or has annotations with
    keypoints (a file without ``categories`` gets one unnamed entry per category id its
    annotations use). ``pick`` names categories by id or name. Raises ``ValueError``
    naming the file and the field.
    """
    categories = data.get("categories")
    annotations = data.get("annotations") or []
    if categories is None:
        ids = sorted({a.get("category_id", 1) for a in annotations if isinstance(a, dict)})
        categories = [{"id": i, "name": str(i)} for i in ids or [1]]
    if not isinstance(categories, list):
        raise ValueError(f"{ann_file}: 'categories' must be a list")
    for i, cat in enumerate(categories):
        if not isinstance(cat, dict) or not _is_int(cat.get("id")):
            raise ValueError(f"{ann_file}: categories[{i}] needs an integer 'id', got {cat!r:.80}")
    with_keypoints = {
        a.get("category_id", 1)
        for a in annotations
        if isinstance(a, dict) and isinstance(a.get("keypoints"), list) and a["keypoints"]
    }
    if pick is None:
        chosen = [c for c in categories if c.get("keypoints") or c["id"] in with_keypoints]
        if not chosen:
            raise ValueError(
                f"{ann_file}: no category lists 'keypoints' names and no annotation holds "
                "'keypoints'; this is not a keypoint file"
            )
        return chosen
    chosen = []
    for wanted in pick:
        found = [c for c in categories if wanted in (c["id"], c.get("name"))]
        if not found:
            known = ", ".join(f"{c['id']} ({c.get('name', '?')})" for c in categories)
            raise ValueError(f"{ann_file}: no category {wanted!r} in 'categories'; it has {known}")
        chosen += [c for c in found if c not in chosen]
    return chosen
