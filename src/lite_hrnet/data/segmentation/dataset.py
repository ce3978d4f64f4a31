"""The Cityscapes data set in its real layout, for semantic segmentation.

    root/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    root/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

labelIds are mapped to the 19 trainIds (ignore = 255) with the official table. Bad input:
a missing label file fails at construction, naming it; label ids outside the table and an
image/label size mismatch raise ``ValueError`` naming the file when the sample is read; an
image or label PNG that cannot be decoded is skipped with a ``CorruptImageWarning`` (the
sample comes back as ``None`` and ``data.loaders.collate_skipping`` counts it), so a run
never dies inside a worker.
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
from ..images import CorruptImageWarning, ImageReadError, read_image, read_rgb

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
SPLITS = ("train", "val", "test")

Transform = Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, torch.Tensor]]


def read_label_ids(path: Path) -> np.ndarray:
    """(H, W) labelIds as stored; ``ImageReadError`` if the file cannot be decoded, and a
    ``ValueError`` naming the file if it is not a single-channel image."""
    label = read_image(path)
    if label.ndim != 2:
        raise ValueError(f"{path}: a labelIds image must have one channel, got shape {label.shape}")
    return label


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

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        image_path = self.images[index]
        try:
            image = read_rgb(image_path)
            label_ids = read_label_ids(self.labels[index]) if self.with_labels else None
        except ImageReadError as e:
            warnings.warn(f"{e}; sample {index} skipped", CorruptImageWarning, stacklevel=2)
            return None
        if label_ids is not None:
            label_path = self.labels[index]
            if label_ids.shape != image.shape[:2]:
                raise ValueError(
                    f"{label_path}: label size {label_ids.shape} (H, W) differs from image "
                    f"{image_path} size {image.shape[:2]}"
                )
            label = label_ids_to_train_ids(label_ids, label_path)
        else:
            label = np.full(image.shape[:2], 255, dtype=np.uint8)
        image_t, label_t = self.transform(image, label)
        return {"image": image_t, "label": label_t, "index": index}
