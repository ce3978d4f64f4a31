"""The Cityscapes data set in its real layout, for semantic segmentation.

    root/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    root/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

labelIds are mapped to the 19 trainIds (ignore = 255) with the official table. Bad input:
what the PNG headers tell is checked at construction, with an error naming the file: a
missing label file, a label that is not 8-bit single-channel (an RGB or 16-bit file), an
image/label size mismatch. What only decoding tells (label ids outside the table, a file
that cannot be decoded or whose header lies) skips the sample with a
``CorruptImageWarning`` naming the file (the sample comes back as ``None`` and
``data.loaders.collate_skipping`` counts it), so a run never dies inside a worker.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ...meta.cityscapes import label_ids_to_train_ids
from ..images import (
    PNG_GREY,
    CorruptImageWarning,
    ImageReadError,
    read_image,
    read_png_header,
    read_rgb,
)

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
SPLITS = ("train", "val", "test")

Transform = Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, torch.Tensor]]


class LabelError(ValueError):
    """A decoded label that cannot be used (its ids, channels or size); names the file."""


def read_label_ids(path: Path) -> np.ndarray:
    """(H, W) labelIds as stored; ``ImageReadError`` if the file cannot be decoded, and a
    ``ValueError`` naming the file if it is not a single-channel image."""
    label = read_image(path)
    if label.ndim != 2:
        raise ValueError(f"{path}: a labelIds image must have one channel, got shape {label.shape}")
    return label


def check_label_header(image_path: Path, label_path: Path) -> None:
    """From the PNG headers alone: the label is 8-bit single-channel and has the image's
    size; ``ValueError`` naming the file otherwise. Files that are not PNGs are left to the
    read, which skips them."""
    label = read_png_header(label_path)
    if label is None:
        return
    if label.color_type != PNG_GREY or label.bit_depth != 8:
        kind = (
            "single-channel" if label.color_type == PNG_GREY else f"colour type {label.color_type}"
        )
        raise ValueError(
            f"{label_path}: a labelIds PNG must be 8-bit single-channel, this one is "
            f"{label.bit_depth}-bit {kind}"
        )
    image = read_png_header(image_path)
    if image is not None and (image.height, image.width) != (label.height, label.width):
        raise ValueError(
            f"{label_path}: label size {(label.height, label.width)} (H, W) differs from image "
            f"{image_path} size {(image.height, image.width)}"
        )


def label_path_for(image_path: Path, root: Path) -> Path:
    """The ``gtFine`` labelIds path of a ``leftImg8bit`` image path under ``root``."""
    rel = image_path.relative_to(root / "leftImg8bit")
    stem = image_path.name[: -len(IMAGE_SUFFIX)]
    return root / "gtFine" / rel.parent / f"{stem}{LABEL_SUFFIX}"


class CityscapesDataset(Dataset):
    """Samples ``{"image": (3, H, W) float32, "label": (H, W) int64, "index": int}``, or None.

    Args:
        root: the folder holding ``leftImg8bit/`` and ``gtFine/``.
        split: "train", "val" or "test".
        transform: ``(image (H, W, 3) uint8 RGB, label (H, W) uint8 trainIds) -> tensors``,
            e.g. ``build_train_transform()``; required.
        with_labels: read ``gtFine`` labels (default: all splits but "test"). Without labels
            the sample's label is all ignore.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: Transform | None = None,
        with_labels: bool | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split: {split!r} is not one of {SPLITS}")
        if transform is None:
            raise ValueError("transform: required (build_train_transform / build_eval_transform)")
        self.root = Path(root)
        self.split = split
        self.transform = transform
        self.with_labels = split != "test" if with_labels is None else with_labels
        image_dir = self.root / "leftImg8bit" / split
        if not image_dir.is_dir():
            raise FileNotFoundError(f"Cityscapes images not found: {image_dir} is not a folder")
        self.images = sorted(image_dir.glob(f"*/*{IMAGE_SUFFIX}"))
        if not self.images:
            raise FileNotFoundError(f"no */*{IMAGE_SUFFIX} files under {image_dir}")
        self.labels: list[Path] = []
        if self.with_labels:
            self.labels = [label_path_for(p, self.root) for p in self.images]
            missing = [(i, lab) for i, lab in zip(self.images, self.labels) if not lab.is_file()]
            if missing:
                image, label = missing[0]
                raise FileNotFoundError(
                    f"{len(missing)} of {len(self.images)} images in {image_dir} have no label "
                    f"file; first: {label} (for {image})"
                )
            for image, label in zip(self.images, self.labels):
                check_label_header(image, label)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        image_path = self.images[index]
        try:
            image = read_rgb(image_path)
            if self.with_labels:
                label = self._read_label(self.labels[index], image_path, image.shape[:2])
            else:
                label = np.full(image.shape[:2], 255, dtype=np.uint8)
        except (ImageReadError, LabelError) as e:
            warnings.warn(f"{e}; sample {index} skipped", CorruptImageWarning, stacklevel=2)
            return None
        image_t, label_t = self.transform(image, label)
        return {"image": image_t, "label": label_t, "index": index}

    @staticmethod
    def _read_label(label_path: Path, image_path: Path, size: tuple[int, int]) -> np.ndarray:
        """(H, W) uint8 trainIds of a label that must match the image ``size`` (H, W)."""
        try:
            label_ids = read_label_ids(label_path)
            if label_ids.shape != size:
                raise ValueError(
                    f"{label_path}: label size {label_ids.shape} (H, W) differs from image "
                    f"{image_path} size {size}"
                )
            return label_ids_to_train_ids(label_ids, label_path)
        except ValueError as e:
            raise LabelError(str(e)) from None
