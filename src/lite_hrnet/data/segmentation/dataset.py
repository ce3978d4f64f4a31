"""The Cityscapes data set in its real layout, for semantic segmentation.

    root/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    root/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

labelIds are mapped to the 19 trainIds (ignore = 255) with the official table. Bad input:
a missing label file fails at construction, naming it; label ids outside the table and an
image/label size mismatch raise ``ValueError`` naming the file when the sample is read; an
image or label PNG that cannot be decoded is skipped with a warning (the sample comes back
as ``None`` and ``collate_segmentation`` counts it), so a run never dies inside a worker.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from ...meta.cityscapes import label_ids_to_train_ids

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
SPLITS = ("train", "val", "test")

Transform = Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, torch.Tensor]]


class CorruptImageWarning(UserWarning):
    """An image or label file could not be decoded; its sample was skipped."""


def read_rgb(path: Path) -> np.ndarray | None:
    """(H, W, 3) uint8 RGB, or None if the file cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_label_ids(path: Path) -> np.ndarray | None:
    """(H, W) labelIds as stored, or None if the file cannot be decoded.

    Raises ``ValueError`` naming the file if it is not a single-channel image.
    """
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None:
        return None
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
        image = read_rgb(image_path)
        if image is None:
            return _skip(image_path)
        if self.with_labels:
            label_path = self.labels[index]
            label_ids = read_label_ids(label_path)
            if label_ids is None:
                return _skip(label_path)
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


def _skip(path: Path) -> None:
    warnings.warn(f"{path}: cannot be decoded; sample skipped", CorruptImageWarning, stacklevel=3)
    return None


def collate_segmentation(samples: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Batch the decodable samples and count the skipped ones.

    Returns ``{"image": (B, 3, H, W), "label": (B, H, W), "index": (B,), "num_skipped": int}``;
    when every sample of the batch was skipped, only ``num_skipped``.
    """
    kept = [s for s in samples if s is not None]
    batch: dict[str, Any] = default_collate(kept) if kept else {}
    batch["num_skipped"] = len(samples) - len(kept)
    return batch
