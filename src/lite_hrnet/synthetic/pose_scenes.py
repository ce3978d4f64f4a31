"""Synthetic person data sets written in the real COCO keypoint and MPII formats.

Each image holds several overlapping figures on a cluttered, textured background, some
cut by the border and some behind foreground objects. From one rendering come both the
COCO annotation (17 joints with visibility 0/1/2, box, area, polygons, num_keypoints) and
the MPII records (16 joints, center/scale, head boxes for PCKh). Everything is a pure
function of the seed, so two machines write identical files.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing.context import BaseContext
from pathlib import Path

import cv2
import numpy as np
import scipy.io
from tqdm import tqdm

from ..checks import check
from ..meta.keypoints import COCO, MPII
from .figures import Figure, Shape, draw_shape, sample_figure
from .files import write_file, write_image
from .marker import ensure_generated

IMAGE_SIZE = (640, 480)  # [w, h], the common COCO image size
# The marker of the sets that versions before the common marker wrote.
LEGACY_MARKER = ".complete.json"
_OCCLUDER_ID = 255


# Bump when the renderer changes, so that cached data sets are written again.
GENERATOR_VERSION = 3


@dataclass
class PoseSceneConfig:
    """What the generator writes (also ``data.synthetic`` of the pose data configs); stored
    in the set's marker, so that a change writes the set again."""

    seed: int = 0
    num_train_images: int = 1500
    num_val_images: int = 200
    max_people: int = 4
    min_height: float = 100.0  # person height in pixels, drawn log-uniformly
    max_height: float = 400.0
    jpeg_quality: int = 90

    def validate(self) -> None:
        for key in ("num_train_images", "num_val_images", "max_people"):
            check(getattr(self, key) >= 1, f"data.synthetic.{key}", "must be >= 1")
        check(0 < self.min_height <= self.max_height, "data.synthetic.min_height",
              "0 < min_height <= max_height")  # fmt: skip


@dataclass
class RenderedPerson:
    figure: Figure
    coco_visibility: np.ndarray  # (17,) 0, 1, 2
    mpii_visible: np.ndarray  # (16,) bool: labelled (inside the image)
    mask: np.ndarray  # (H, W) bool, visible pixels


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    coarse = rng.uniform(0, 255, (int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3))
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, rng.uniform(5, 30), (h // 8, w // 8, 3))
    image += cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR)
    for _ in range(int(rng.integers(6, 25))):
        _clutter(rng, image, w, h)
    return image


def _clutter(rng: np.random.Generator, image: np.ndarray, w: int, h: int) -> Shape:
    """A random rectangle, disc or limb-like bar; returns it so occluders can be masked."""
    color = tuple(rng.uniform(0, 255, 3).tolist())
    kind = rng.integers(0, 3)
    c = rng.uniform([0, 0], [w, h])
    if kind == 0:
        half = rng.uniform(10, 80, 2)
        angle = rng.uniform(0, np.pi)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        box = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half
        shape = Shape(c + box @ rot.T, 0, color)
    elif kind == 1:
        shape = Shape(c[None], rng.uniform(5, 40), color)
    else:
        end = c + rng.normal(0, 60, 2)
        shape = Shape(np.stack([c, end]), rng.uniform(3, 18), color)
    draw_shape(image, shape, color)
    return shape


def render_scene(
    rng: np.random.Generator, cfg: PoseSceneConfig
) -> tuple[np.ndarray, list[RenderedPerson]]:
    """Draw one image (H, W, 3) uint8 RGB and its people, in drawing order."""
    w, h = IMAGE_SIZE
    image = _background(rng, w, h)
    ids = np.zeros((h, w), np.uint8)
    figures = []
    for pid in range(1, int(rng.integers(1, cfg.max_people + 1)) + 1):
        height = float(np.exp(rng.uniform(np.log(cfg.min_height), np.log(cfg.max_height))))
        pelvis = rng.uniform([-0.05 * w, 0.2 * h], [1.05 * w, 0.95 * h])
        fig = sample_figure(rng, pelvis, height)
        for shape in fig.shapes:
            draw_shape(image, shape, shape.color)
            draw_shape(ids, shape, pid, antialias=False)
        figures.append(fig)
    for _ in range(int(rng.poisson(0.7))):  # foreground objects in front of people
        draw_shape(ids, _clutter(rng, image, w, h), _OCCLUDER_ID, antialias=False)
    image += rng.normal(0, rng.uniform(2, 8), image.shape)
    people = []
    for pid, fig in enumerate(figures, start=1):
        fig.coco = np.round(fig.coco, 2)  # the precision written, so "inside" stays true
        inside = _inside(fig.coco, w, h)
        xy = np.clip(fig.coco, 0, [w - 1, h - 1]).astype(int)
        own = ids[xy[:, 1], xy[:, 0]] == pid
        vis = np.where(inside, np.where(own & ~fig.self_occluded, 2, 1), 0)
        vis[rng.random(len(vis)) < 0.03] = 0  # annotators skip a few joints
        people.append(RenderedPerson(fig, vis, _inside(fig.mpii, w, h), ids == pid))
    return np.clip(image, 0, 255).astype(np.uint8), people


def _inside(points: np.ndarray, w: int, h: int) -> np.ndarray:
    return (points[:, 0] >= 0) & (points[:, 0] < w) & (points[:, 1] >= 0) & (points[:, 1] < h)


def _coco_annotation(person: RenderedPerson, ann_id: int, image_id: int) -> dict | None:
    mask = person.mask.astype(np.uint8)
    area = int(mask.sum())
    if area == 0:
        return None
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = [
        cv2.approxPolyDP(c, 1.0, True).reshape(-1).astype(float).tolist()
        for c in contours
        if len(c) >= 3
    ]
    x, y, bw, bh = cv2.boundingRect(mask)
    vis = person.coco_visibility
    keypoints = np.zeros((COCO.num_joints, 3))
    keypoints[vis > 0, :2] = person.figure.coco[vis > 0]
    keypoints[:, 2] = vis
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": 0,
        "area": float(area),
        "bbox": [float(x), float(y), float(bw), float(bh)],
        "segmentation": [p for p in polygons if len(p) >= 6],
        "keypoints": keypoints.reshape(-1).tolist(),
        "num_keypoints": int((vis > 0).sum()),
    }


def _mpii_record(person: RenderedPerson, file_name: str) -> dict | None:
    labelled = person.mpii_visible
    if labelled.sum() < 8:  # MPII annotates people who are mostly in view
        return None
    joints = person.figure.mpii
    extent = joints[labelled]
    center = (extent.min(0) + extent.max(0)) / 2
    scale = (joints[:, 1].max() - joints[:, 1].min()) / 200.0
    return {
        "image": file_name,
        "center": np.round(center + 1, 2).tolist(),
        "scale": round(float(max(scale, 0.2)), 4),
        # MPII files are 1-based (MATLAB), the center too; unlabelled joints are [-1, -1].
        "joints": np.where(labelled[:, None], joints + 1, -1.0).round(2).tolist(),
        "joints_vis": labelled.astype(int).tolist(),
        "head_box": (person.figure.head_box + 1).tolist(),
    }


def _render_one(args: tuple[PoseSceneConfig, int, int, Path, str]) -> tuple[list, list]:
    cfg, split_id, index, image_dir, file_name = args
    rng = np.random.default_rng([cfg.seed, split_id, index])
    image, people = render_scene(rng, cfg)
    write_image(
        image_dir / file_name,
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality],
    )
    image_id = split_id * 1_000_000 + index + 1
    coco = [_coco_annotation(p, image_id * 10 + i, image_id) for i, p in enumerate(people)]
    mpii = [_mpii_record(p, file_name) for p in people]
    return [a for a in coco if a], [r for r in mpii if r]


def _render_split(
    cfg: PoseSceneConfig,
    split_id: int,
    count: int,
    image_dir: Path,
    name: Callable[[int], str],
    desc: str,
    workers: int,
) -> Iterable[tuple[int, str, list, list]]:
    image_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(cfg, split_id, i, image_dir, name(i)) for i in range(count)]
    with ProcessPoolExecutor(
        workers,
        mp_context=worker_context(),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        results = pool.map(_render_one, jobs, chunksize=16)
        # tqdm around the zip, not inside it: zip stops before the bar counts the last one
        for (_, _, i, _, file_name), (coco, mpii) in tqdm(
            zip(jobs, results), total=count, desc=desc, unit="img"
        ):
            yield split_id * 1_000_000 + i + 1, file_name, coco, mpii


def worker_context() -> BaseContext:
    """The start method of a generator pool: one whose workers are children of the pool's
    owner, so that the parent-death signal and the check in ``_die_with_parent`` hold.

    Fork where the process-wide method is fork (the default on Linux up to Python 3.13;
    fast, and what the workers were written for). Spawn otherwise: under forkserver, which
    a sweep sets (``cli/train.py``) and Python 3.14 makes the default, the workers would be
    children of the fork server, and forking instead would copy a process that may hold an
    earlier sweep job's threads.
    """
    method = multiprocessing.get_start_method(allow_none=True)
    method = method or multiprocessing.get_all_start_methods()[0]  # the platform's default
    return multiprocessing.get_context("fork" if method == "fork" else "spawn")


def _die_with_parent(parent: int) -> None:
    """A pool worker ends with the process that started it, also when that one is killed
    (SIGKILL leaves the pool no time to stop them): Linux's parent-death signal.

    ``parent`` is the pool's owner, the worker's parent under ``worker_context()``.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def ensure_synthetic_coco(root: str | os.PathLike[str], cfg: PoseSceneConfig | None = None) -> Path:
    """Write a synthetic COCO keypoints set under ``root`` unless it is already there
    (``marker.ensure_generated``).

    Layout: ``annotations/person_keypoints_{train,val}2017.json`` and
    ``{train,val}2017/<id>.jpg``, exactly as COCO 2017.
    """
    cfg = cfg or PoseSceneConfig()
    cfg.validate()

    def write(root: Path) -> None:
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        w, h = IMAGE_SIZE
        for split_id, split, count in (
            (1, "train", cfg.num_train_images),
            (2, "val", cfg.num_val_images),
        ):
            images, annotations = [], []
            rendered = _render_split(
                cfg,
                split_id,
                count,
                root / f"{split}2017",
                lambda i, s=split_id: f"{s * 1_000_000 + i + 1:012d}.jpg",
                f"synthetic COCO {split}",
                _workers(),
            )
            for image_id, file_name, coco, _ in rendered:
                images.append({"id": image_id, "file_name": file_name, "width": w, "height": h})
                annotations.extend(coco)
            info = {"description": "lite-hrnet synthetic persons", **asdict(cfg)}
            _write_json(
                root / "annotations" / f"person_keypoints_{split}2017.json",
                {
                    "info": {**info, "version": GENERATOR_VERSION},
                    "images": images,
                    "annotations": annotations,
                    "categories": [_coco_category()],
                },
            )

    return ensure_generated(
        root,
        "pose_scenes/coco",
        GENERATOR_VERSION,
        cfg,
        ("annotations", "train2017", "val2017"),
        write,
        legacy_markers=(LEGACY_MARKER,),
    )


def ensure_synthetic_mpii(root: str | os.PathLike[str], cfg: PoseSceneConfig | None = None) -> Path:
    """Write a synthetic MPII set under ``root`` unless it is already there
    (``marker.ensure_generated``).

    Layout: ``images/*.jpg``, ``annotations/mpii_{train,val}.json`` (the common JSON
    conversion) and ``annotations/mpii_gt_val.mat`` with the head boxes for PCKh.
    """
    cfg = cfg or PoseSceneConfig()
    cfg.validate()

    def write(root: Path) -> None:
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        for split_id, split, count in (
            (1, "train", cfg.num_train_images),
            (2, "val", cfg.num_val_images),
        ):
            records = []
            rendered = _render_split(
                cfg,
                split_id,
                count,
                root / "images",
                lambda i, s=split_id: f"{s:03d}{i:06d}.jpg",
                f"synthetic MPII {split}",
                _workers(),
            )
            for _, _, _, mpii in rendered:
                records.extend(mpii)
            head_boxes = [r.pop("head_box") for r in records]
            _write_json(root / "annotations" / f"mpii_{split}.json", records)
            if split == "val":
                _write_mpii_gt(root / "annotations" / "mpii_gt_val.mat", records, head_boxes)

    return ensure_generated(
        root,
        "pose_scenes/mpii",
        GENERATOR_VERSION,
        cfg,
        ("annotations", "images"),
        write,
        legacy_markers=(LEGACY_MARKER,),
    )


def _write_mpii_gt(path: Path, records: list[dict], head_boxes: list[list[float]]) -> None:
    """The official evaluation file: positions (16, 2, N), missing (16, N), heads (2, 2, N)."""
    joints = np.array([r["joints"] for r in records], np.float64)
    joints = joints.reshape(-1, MPII.num_joints, 2)
    missing = 1 - np.array([r["joints_vis"] for r in records]).reshape(-1, MPII.num_joints)
    boxes = np.array(head_boxes, np.float64).reshape(-1, 2, 2)
    scipy.io.savemat(
        path,
        {
            "dataset_joints": np.array([[[n]] for n in MPII.joint_names], dtype=object),
            "jnt_missing": missing.T,
            "pos_gt_src": joints.transpose(1, 2, 0),
            "headboxes_src": boxes.transpose(1, 2, 0),
        },
    )


def _coco_category() -> dict:
    return {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(COCO.joint_names),
        "skeleton": [[a + 1, b + 1] for a, b in COCO.skeleton],
    }


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    write_file(tmp, json.dumps(data).encode())
    tmp.replace(path)
