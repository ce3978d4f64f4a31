"""A synthetic non-human keypoint set in the COCO format: a robot gripper arm of 9 joints.

Each image holds one to ``max_objects`` arms on the cluttered backgrounds of the person
scenes. An arm stands on a base plate (``base_left``, ``base_right``), rises through
``shoulder``, ``elbow`` and ``wrist`` (joints on its axis, without a mirror partner) and
ends in a gripper (``left_finger``/``right_finger`` and their tips). The categories entry
gives the names and a 1-based skeleton; nothing else (no sigmas, no flip pairs: they are
derived from the names). Everything is a pure function of the seed.

Layout under ``root``: ``annotations/{train,val}.json``, ``images/{train,val}/*.jpg``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..checks import check
from .figures import Shape, draw_shape
from .marker import ensure_generated
from .pose_scenes import _background

GENERATOR_VERSION = 1
IMAGE_SIZE = (320, 240)  # [w, h]
JOINTS = (
    "base_left",
    "base_right",
    "shoulder",
    "elbow",
    "wrist",
    "left_finger",
    "right_finger",
    "left_tip",
    "right_tip",
)
SKELETON = ((0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (4, 5), (4, 6), (5, 7), (6, 8))


@dataclass
class ObjectSceneConfig:
    """What the arm generator writes; stored in the set's marker."""

    seed: int = 0
    num_train_images: int = 600
    num_val_images: int = 100
    max_objects: int = 2
    min_size: float = 60.0  # arm height in pixels, drawn log-uniformly
    max_size: float = 160.0
    jpeg_quality: int = 90

    def validate(self) -> None:
        for key in ("num_train_images", "num_val_images", "max_objects"):
            check(getattr(self, key) >= 1, f"data.synthetic_objects.{key}", "must be >= 1")
        check(0 < self.min_size <= self.max_size, "data.synthetic_objects.min_size",
              "0 < min_size <= max_size")  # fmt: skip


def _unit(angle: float) -> np.ndarray:
    """Angle 0 points up (-y); positive angles turn toward +x."""
    return np.array([np.sin(angle), -np.cos(angle)])


def sample_arm(rng: np.random.Generator, base: np.ndarray, size: float) -> tuple[np.ndarray, list]:
    """Joints (9, 2) of a random arm standing at ``base``, ``size`` pixels tall, and its
    shapes in drawing order."""
    tilt = float(rng.normal(0, 0.35))
    up, side = _unit(tilt), _unit(tilt + np.pi / 2)  # side: toward the arm's left in image
    half = 0.28 * size * rng.uniform(0.8, 1.2)
    base_l, base_r = base - side * half, base + side * half
    shoulder = base + up * 0.18 * size
    a1 = tilt + rng.uniform(-1.0, 1.0)
    elbow = shoulder + _unit(a1) * 0.42 * size
    a2 = a1 + rng.uniform(-1.8, 1.8)
    wrist = elbow + _unit(a2) * 0.34 * size
    open_ = rng.uniform(0.25, 0.7)
    finger = 0.12 * size
    f_l = wrist + _unit(a2 - np.pi / 2) * 0.06 * size
    f_r = wrist + _unit(a2 + np.pi / 2) * 0.06 * size
    tip_l = f_l + _unit(a2 - open_) * finger
    tip_r = f_r + _unit(a2 + open_) * finger
    joints = np.stack([base_l, base_r, shoulder, elbow, wrist, f_l, f_r, tip_l, tip_r])
    body = rng.uniform(40, 255, 3)
    dark = body * 0.45
    w = 0.07 * size
    plate = np.stack([base_l, base_r, shoulder + side * 0.1 * size, shoulder - side * 0.1 * size])
    # Both fingers look alike: left and right follow from the arm's geometry only, so a
    # mirrored image with swapped labels is another valid arm.
    fingers = (230.0, 120.0, 40.0)
    shapes = [
        Shape(plate, 0, tuple(dark)),
        Shape(np.stack([shoulder, elbow]), w, tuple(body)),
        Shape(np.stack([elbow, wrist]), 0.8 * w, tuple(body * 0.85)),
        Shape(np.stack([f_l, f_r]), 0.5 * w, tuple(dark)),
        Shape(np.stack([f_l, tip_l]), 0.4 * w, fingers),
        Shape(np.stack([f_r, tip_r]), 0.4 * w, fingers),
        Shape(elbow[None], 0.7 * w, (240.0, 240.0, 240.0)),
        Shape(wrist[None], 0.55 * w, (20.0, 20.0, 20.0)),
    ]
    return joints, shapes


def render_objects(rng: np.random.Generator, cfg: ObjectSceneConfig) -> tuple[np.ndarray, list]:
    """One image (H, W, 3) uint8 RGB and, per arm, (joints (9, 2), visibility (9,), bbox)."""
    w, h = IMAGE_SIZE
    image = _background(rng, w, h)
    arms = []
    for _ in range(int(rng.integers(1, cfg.max_objects + 1))):
        size = float(np.exp(rng.uniform(np.log(cfg.min_size), np.log(cfg.max_size))))
        base = rng.uniform([0.1 * w, 0.45 * h], [0.9 * w, 0.98 * h])
        joints, shapes = sample_arm(rng, base, size)
        for shape in shapes:
            draw_shape(image, shape, shape.color)
        arms.append(np.round(joints, 2))
    image += rng.normal(0, rng.uniform(2, 8), image.shape)
    out = []
    for joints in arms:
        inside = (joints[:, 0] >= 0) & (joints[:, 0] < w) & (joints[:, 1] >= 0) & (joints[:, 1] < h)
        if inside.sum() < 3:
            continue
        vis = np.where(inside, 2, 0)
        pts = joints[inside]
        x1, y1 = np.clip(pts.min(0) - 4, 0, None)  # the box: the joints and a margin
        x2, y2 = np.minimum(pts.max(0) + 4, [w - 1, h - 1])
        out.append((joints, vis, [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]))
    return np.clip(image, 0, 255).astype(np.uint8), out


def category() -> dict:
    """The COCO categories entry of the arm: names and a 1-based skeleton."""
    return {
        "id": 1,
        "name": "gripper_arm",
        "supercategory": "robot",
        "keypoints": list(JOINTS),
        "skeleton": [[a + 1, b + 1] for a, b in SKELETON],
    }


def ensure_synthetic_objects(
    root: str | os.PathLike[str], cfg: ObjectSceneConfig | None = None
) -> Path:
    """Write the synthetic arm set under ``root`` unless it is already there."""
    cfg = cfg or ObjectSceneConfig()
    cfg.validate()

    def write(root: Path) -> None:
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        w, h = IMAGE_SIZE
        for split_id, split, count in ((1, "train", cfg.num_train_images),
                                       (2, "val", cfg.num_val_images)):  # fmt: skip
            folder = root / "images" / split
            folder.mkdir(parents=True, exist_ok=True)
            images, annotations = [], []
            for i in range(count):
                rng = np.random.default_rng([cfg.seed, split_id, i])
                image, arms = render_objects(rng, cfg)
                image_id = split_id * 1_000_000 + i + 1
                name = f"{image_id:012d}.jpg"
                cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])  # fmt: skip
                images.append({"id": image_id, "file_name": name, "width": w, "height": h})
                for j, (joints, vis, bbox) in enumerate(arms):
                    kpts = np.concatenate([joints * (vis > 0)[:, None], vis[:, None]], 1)
                    annotations.append(
                        {
                            "id": image_id * 10 + j,
                            "image_id": image_id,
                            "category_id": 1,
                            "iscrowd": 0,
                            "bbox": bbox,
                            "area": bbox[2] * bbox[3],
                            "keypoints": kpts.reshape(-1).tolist(),
                            "num_keypoints": int((vis > 0).sum()),
                        }
                    )
            data = {
                "info": {"description": "lite-hrnet synthetic gripper arms", **asdict(cfg)},
                "images": images,
                "annotations": annotations,
                "categories": [category()],
            }
            (root / "annotations" / f"{split}.json").write_text(json.dumps(data))

    return ensure_generated(
        root, "object_scenes/coco", GENERATOR_VERSION, cfg, ("annotations", "images"), write
    )
