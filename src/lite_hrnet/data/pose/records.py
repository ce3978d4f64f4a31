"""Person instances read from COCO keypoint files, COCO detection files and MPII JSON.

Each reader checks its file and names it in every error. Problems that affect single
entries (a missing image, a keypoint outside its image) are skipped or repaired, counted
and reported in one warning per file, so a large data set never stops on one bad entry.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...codecs.geometry import box_to_center_scale
from ...formats.coco import load_coco
from ...formats.json_files import read_json
from ...formats.mpii import load_mpii_ground_truth
from ...meta.keypoints import KeypointSet


@dataclass
class PoseInstance:
    """One instance to crop: joints (K, 2) [x, y] in image pixels, visible (K,) 0/1, its
    box [x, y, w, h] where the file gives one (PCK and NME measure errors by it), and
    ``image_size`` [W, H] as the annotation states it (None: not stated, as in MPII)."""

    image_path: str
    image_id: int
    joints: np.ndarray
    visible: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    score: float = 1.0
    image_size: tuple[int, int] | None = None
    bbox: np.ndarray | None = None


def list_images(image_dir: str | os.PathLike[str]) -> set[str]:
    """File names in an image folder (one listing is far cheaper than a stat per image)."""
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise FileNotFoundError(f"image folder not found: {image_dir}")
    return set(os.listdir(image_dir))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _warn_skipped(path: Path, count: int, total: int, what: str, examples: Iterable[str]) -> None:
    if count:
        shown = ", ".join(list(examples)[:3])
        warnings.warn(f"{path}: {what}: {count} of {total} (e.g. {shown})", stacklevel=3)


def coco_ground_truth_instances(
    ann_file: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    keypoint_set: KeypointSet,
    aspect_ratio: float,
    coco=None,
    category_ids: Collection[int] = (1,),
    scored: bool = False,
) -> list[PoseInstance]:
    """Non-crowd instances of ``category_ids`` with at least one labelled joint, boxes
    cleaned as officially.

    Boxes are clipped to the image; as in the official code, an annotation needs a positive
    ``area`` (the box's when the file gives none) and a clipped box with x2 >= x1 and
    y2 >= y1 (a 1-pixel-wide box is kept). Labelled keypoints that lie outside their image
    are treated as unlabelled (counted, one warning). An annotation whose keypoints are not
    3K numbers for the K joints of ``keypoint_set`` is an error naming it. People whose
    ``num_keypoints`` differs from their visibility flags are counted in one warning; in a
    ``scored`` split (validation, test) those with ``num_keypoints`` 0, whom ``COCOeval``
    ignores, are left out too, so that the crops are the people the metric scores, and a
    split with none left is an error.
    """
    ann_file = Path(ann_file)
    coco = coco or load_coco(ann_file)
    present = list_images(image_dir)
    k = keypoint_set.num_joints
    instances: list[PoseInstance] = []
    missing_images: list[str] = []
    outside = 0
    disagree: list[str] = []
    unscored: list[str] = []
    for image_id in sorted(coco.getImgIds()):
        info = coco.imgs[image_id]
        width, height = info["width"], info["height"]
        anns = coco.imgToAnns.get(image_id, [])
        if not anns:
            continue
        if info["file_name"] not in present:
            missing_images.append(info["file_name"])
            continue
        for ann in anns:
            if ann.get("category_id", 1) not in category_ids or ann.get("iscrowd", 0):
                continue
            kpts = np.asarray(ann.get("keypoints", []), np.float32)
            if kpts.size != 3 * k or "bbox" not in ann or len(ann["bbox"]) != 4:
                raise ValueError(
                    f"{ann_file}: annotation {ann.get('id')} needs {3 * k} keypoint values in "
                    f"'keypoints' ([x, y, v] for each of the {k} joints of keypoint set "
                    f"{keypoint_set.name!r}) and a 4-number 'bbox', got {kpts.size} and "
                    f"{ann.get('bbox')}"
                )
            kpts = kpts.reshape(k, 3)
            labelled = int((kpts[:, 2] > 0).sum())
            if ann.get("num_keypoints", labelled) != labelled:
                disagree.append(str(ann.get("id")))
            if scored and labelled and ann.get("num_keypoints", labelled) == 0:
                unscored.append(str(ann.get("id")))
                continue
            x, y, w, h = ann["bbox"]
            x1, y1 = max(0.0, x), max(0.0, y)
            x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
            y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
            if ann.get("area", w * h) <= 0 or x2 < x1 or y2 < y1:
                continue
            visible = (kpts[:, 2] > 0).astype(np.float32)
            off = (visible > 0) & (
                (kpts[:, 0] < 0) | (kpts[:, 0] >= width) | (kpts[:, 1] < 0) | (kpts[:, 1] >= height)
            )
            outside += int(off.sum())
            visible[off] = 0
            if visible.sum() == 0:
                continue
            center, scale = box_to_center_scale([x1, y1, x2 - x1, y2 - y1], aspect_ratio)
            instances.append(
                PoseInstance(
                    str(Path(image_dir) / info["file_name"]),
                    int(image_id),
                    kpts[:, :2] * visible[:, None],
                    visible,
                    center,
                    scale,
                    image_size=(round(width), round(height)),
                    bbox=np.array(ann["bbox"], np.float32),
                )
            )
    _warn_skipped(
        ann_file,
        len(missing_images),
        len(coco.imgs),
        "images listed but not on disk, their people are skipped",
        missing_images,
    )
    _check_num_keypoints(ann_file, len(coco.anns), disagree, unscored, len(instances))
    if outside:
        warnings.warn(
            f"{ann_file}: {outside} labelled keypoints lie outside their image and are "
            "treated as unlabelled",
            stacklevel=2,
        )
    return instances


def _check_num_keypoints(
    ann_file: Path, total: int, disagree: list[str], unscored: list[str], kept: int
) -> None:
    """The warning (and, with nobody left to score, the error) about people whose
    ``num_keypoints`` disagrees with their visibility flags."""
    if unscored and not kept:
        raise ValueError(
            f"{ann_file}: nothing to score: the {len(unscored)} people with labelled "
            "keypoints all have num_keypoints=0, which COCOeval ignores (every COCO number "
            "would be -1); set num_keypoints to the number of keypoints with v > 0"
        )
    left_out = (
        f"; the {len(unscored)} with num_keypoints=0, whom COCOeval ignores, are left out"
        if unscored
        else ""
    )
    _warn_skipped(
        ann_file,
        len(disagree),
        total,
        "annotations whose num_keypoints differs from their visibility flags (v > 0), "
        f"the reader trains on the flags{left_out}; annotation ids",
        disagree,
    )


def coco_detection_instances(
    det_file: str | os.PathLike[str],
    coco,
    image_dir: str | os.PathLike[str],
    num_joints: int,
    aspect_ratio: float,
    min_score: float = 0.0,
) -> list[PoseInstance]:
    """Person boxes from a COCO results file ({image_id, category_id, bbox, score} list).

    An entry of the wrong shape or types (a bbox that is not 4 numbers, a score that is not
    a number) is an error naming the file and the entry. Boxes a detector can emit but that
    crop nothing (NaN or infinite numbers, zero width or height) are skipped, counted and
    named in one warning; so are boxes for images not in ``coco`` or not on disk.
    """
    det_file = Path(det_file)
    dets = read_json(det_file, "detection file")
    if not isinstance(dets, list):
        raise ValueError(f"detection file {det_file} must be a JSON list of detections")
    present = list_images(image_dir)
    instances: list[PoseInstance] = []
    unknown: list[str] = []
    degenerate: list[str] = []
    persons = 0
    for i, det in enumerate(dets):
        if not isinstance(det, dict) or not {"image_id", "bbox", "score"} <= det.keys():
            raise ValueError(f"{det_file}: entry {i} needs image_id, bbox and score: {det!r:.80}")
        bbox, score = det["bbox"], det["score"]
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(_is_number(v) for v in bbox)
            or not _is_number(score)
            or not isinstance(det["image_id"], int)
        ):
            raise ValueError(
                f"{det_file}: entry {i} needs an integer image_id, a bbox of 4 numbers "
                f"[x, y, w, h] and a numeric score, got {det!r:.120}"
            )
        if det.get("category_id", 1) != 1:
            continue
        persons += 1
        if not (np.isfinite(bbox).all() and np.isfinite(score)) or bbox[2] <= 0 or bbox[3] <= 0:
            degenerate.append(f"entry {i}")
            continue
        if score < min_score:
            continue
        info = coco.imgs.get(det["image_id"])
        if info is None or info["file_name"] not in present:
            unknown.append(str(det["image_id"]))
            continue
        center, scale = box_to_center_scale(bbox, aspect_ratio)
        instances.append(
            PoseInstance(
                str(Path(image_dir) / info["file_name"]),
                int(det["image_id"]),
                np.zeros((num_joints, 2), np.float32),
                np.zeros(num_joints, np.float32),
                center,
                scale,
                float(score),
                image_size=(round(info["width"]), round(info["height"])),
            )
        )
    _warn_skipped(
        det_file,
        len(degenerate),
        persons,
        "person boxes with NaN or infinite numbers or no area, skipped",
        degenerate,
    )
    if persons == 0:
        raise ValueError(f"detection file {det_file} holds no person boxes (category_id 1)")
    _warn_skipped(
        det_file,
        len(unknown),
        persons,
        "boxes for images that are not in the annotation file or not on disk, skipped",
        unknown,
    )
    return instances


def mpii_instances(
    json_file: str | os.PathLike[str], image_dir: str | os.PathLike[str], num_joints: int = 16
) -> list[PoseInstance]:
    """Records of the common MPII JSON conversion, in file order (the evaluation order).

    As in the official loader, the center moves down by 15 * scale pixels, the scale grows
    by 1.25, and the 1-based MATLAB coordinates (joints and center alike) become 0-based.
    An instance's ``image_id`` is its record number, the column of ``mpii_gt_val.mat``
    that PCKh scores it against.
    """
    json_file = Path(json_file)
    records = read_json(json_file, "MPII annotation file")
    if not isinstance(records, list):
        raise ValueError(f"MPII annotation file {json_file} must be a JSON list of records")
    present = list_images(image_dir)
    instances = []
    missing: list[str] = []
    for i, rec in enumerate(records):
        try:
            joints = np.asarray(rec["joints"], np.float32).reshape(num_joints, 2) - 1
            visible = np.asarray(rec["joints_vis"], np.float32).reshape(num_joints)
            center = np.asarray(rec["center"], np.float32).reshape(2)
            s = float(rec["scale"])
            image = rec["image"]
            if not isinstance(image, str):
                raise TypeError(f"the image must be a file name, got {image!r:.40}")
            if not (np.isfinite(joints).all() and np.isfinite(center).all() and s > 0):
                raise ValueError("NaN or infinite joints or center, or a scale that is not > 0")
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"{json_file}: record {i} needs image, center, scale, {num_joints} joints and "
                f"joints_vis ({type(e).__name__}: {e})"
            ) from None
        if image not in present:
            missing.append(image)
            continue
        if center[0] != -1:
            center[1] += 15 * s
            s *= 1.25
        center = center - 1
        instances.append(
            PoseInstance(
                str(Path(image_dir) / image),
                i,
                joints * (visible > 0)[:, None],
                visible,
                center,
                np.array([s, s], np.float32),
            )
        )
    _warn_skipped(
        json_file,
        len(missing),
        len(records),
        "records whose image is not on disk, skipped",
        missing,
    )
    return instances


def check_mpii_ground_truth(
    json_file: str | os.PathLike[str],
    gt_file: str | os.PathLike[str],
    instances: Sequence[PoseInstance],
    tolerance: float = 2.0,
) -> None:
    """Check at set-up that ``mpii_gt_val.mat`` reads and belongs to ``json_file``: one
    column per JSON record, in the same order, with the same joints.

    A record disagrees when the median distance of the joints labelled in both files
    exceeds ``tolerance`` pixels. Most records disagreeing (another order, another split)
    is an error; a few are named in a warning. Raises ``ValueError`` naming both files.
    """
    json_file, gt_file = Path(json_file), Path(gt_file)
    gt = load_mpii_ground_truth(gt_file)
    n = gt["pos_gt_src"].shape[2]
    records = read_json(json_file, "MPII annotation file")
    if not isinstance(records, list) or len(records) != n:
        raise ValueError(
            f"{gt_file} holds {n} records but {json_file} holds "
            f"{len(records) if isinstance(records, list) else 'no list of'} records; PCKh "
            "needs the ground truth of the same records in the same order"
        )
    disagree = []
    for inst in instances:
        column = inst.image_id
        labelled = (inst.visible > 0) & (gt["jnt_missing"][:, column] == 0)
        if not labelled.any():
            continue
        error = np.linalg.norm(
            inst.joints[labelled] + 1 - gt["pos_gt_src"][labelled, :, column], axis=1
        )
        if np.median(error) > tolerance:
            disagree.append(column)
    if len(disagree) > len(instances) / 2:
        raise ValueError(
            f"{gt_file} does not match {json_file}: the joints of {len(disagree)} of "
            f"{len(instances)} records differ (e.g. records {disagree[:3]}); the records are "
            "in another order or from another split"
        )
    if disagree:
        warnings.warn(
            f"{gt_file}: the joints of {len(disagree)} of {len(instances)} records differ from "
            f"{json_file} (records {disagree[:3]})",
            stacklevel=2,
        )
