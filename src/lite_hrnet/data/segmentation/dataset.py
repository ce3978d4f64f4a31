"""Images and masks in folders, paired by name, for semantic segmentation (mmsegmentation's
custom data set), and Cityscapes as one such layout.

    root/<image_dir>/[<sub>/]<stem><image_suffix>
    root/<mask_dir>/[<sub>/]<stem><mask_suffix>

``image_dir`` and ``mask_dir`` may hold ``{split}``. Images are found under ``image_dir``
(sub-folders included), or listed in a split file (one ``[<sub>/]<stem>`` per line, as
Pascal VOC's ``ImageSets/Segmentation/train.txt``). A mask's stored values (palette PNGs:
their indices) become class indices through a lookup (``masks.class_lookup``, or
Cityscapes' labelIds -> trainIds table).

Bad input: what the headers tell is checked at construction, with an error naming the
file: a missing mask, a mask that holds colours (an RGB PNG) or 16-bit values, a mask whose
size differs from its image's. What only decoding tells (values outside the class table, a
file that cannot be decoded or whose header lies) skips the sample with a
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

from ...meta.cityscapes import IGNORE_INDEX, label_id_to_train_id_lut
from ..images import CorruptImageWarning, ImageReadError, read_rgb
from .masks import check_mask_header, image_size, read_mask, to_class_map

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
SPLITS = ("train", "val", "test")

Transform = Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, torch.Tensor]]


class LabelError(ValueError):
    """A decoded mask that cannot be used (its values, channels or size); names the file."""


class SegmentationFolderDataset(Dataset):
    """Samples ``{"image": (3, H, W) float32, "label": (H, W) int64, "index": int}``, or None.

    Args:
        root: the data set's folder.
        split: the split's name, put into ``{split}`` of the folders and the list.
        transform: ``(image (H, W, 3) uint8 RGB, label (H, W) uint8 class map) -> tensors``,
            e.g. ``build_train_transform()``; required.
        image_dir, mask_dir: folders under ``root``, with ``{split}``.
        image_suffix, mask_suffix: what follows the stem in the file names.
        split_list: a file under ``root`` (with ``{split}``) listing the split's stems;
            None: every ``*<image_suffix>`` under ``image_dir``.
        lookup: (256,) stored mask value -> class index or ``ignore_index``, -1 for values
            that are not in the class table (``masks.class_lookup``).
        ignore_index: the class map's value for pixels without a class.
        table: what the valid mask values are, for errors (e.g. "data.classes: 3 classes").
        with_labels: read masks (default). Without, the sample's label is all ignore.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        transform: Transform | None,
        *,
        image_dir: str = "images/{split}",
        mask_dir: str = "masks/{split}",
        image_suffix: str = ".jpg",
        mask_suffix: str = ".png",
        split_list: str | None = None,
        lookup: np.ndarray,
        ignore_index: int = 255,
        table: str = "",
        with_labels: bool = True,
    ) -> None:
        if transform is None:
            raise ValueError("transform: required (build_train_transform / build_eval_transform)")
        self.root = Path(root)
        self.split = split
        self.transform = transform
        self.with_labels = with_labels
        self.lookup = lookup
        self.ignore_index = ignore_index
        self.table = table
        image_folder = self.root / image_dir.format(split=split)
        mask_folder = self.root / mask_dir.format(split=split)
        if not image_folder.is_dir():
            raise FileNotFoundError(f"images not found: {image_folder} is not a folder")
        if split_list is None:
            self.images = sorted(image_folder.rglob(f"*{image_suffix}"))
            if not self.images:
                raise FileNotFoundError(f"no *{image_suffix} files under {image_folder}")
        else:
            self.images = _listed_images(
                self.root / split_list.format(split=split), image_folder, image_suffix
            )
        self.labels: list[Path] = []
        if self.with_labels:
            self.labels = [
                mask_folder / p.relative_to(image_folder).parent
                / f"{p.name[: -len(image_suffix)]}{mask_suffix}"
                for p in self.images
            ]  # fmt: skip
            missing = [(i, m) for i, m in zip(self.images, self.labels) if not m.is_file()]
            if missing:
                image, mask = missing[0]
                raise FileNotFoundError(
                    f"{len(missing)} of {len(self.images)} images in {image_folder} have no mask "
                    f"file; first: {mask} (for {image})"
                )
            for image, mask in zip(self.images, self.labels):
                _check_pair(image, mask)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        image_path = self.images[index]
        try:
            image = read_rgb(image_path)
            if self.with_labels:
                label = self._read_label(self.labels[index], image_path, image.shape[:2])
            else:
                label = np.full(image.shape[:2], self.ignore_index, dtype=np.uint8)
        except (ImageReadError, LabelError) as e:
            warnings.warn(f"{e}; sample {index} skipped", CorruptImageWarning, stacklevel=2)
            return None
        image_t, label_t = self.transform(image, label)
        return {"image": image_t, "label": label_t, "index": index}

    def _read_label(self, mask_path: Path, image_path: Path, size: tuple[int, int]) -> np.ndarray:
        """(H, W) uint8 class map of a mask that must match the image ``size`` (H, W)."""
        try:
            values = read_mask(mask_path)
            if values.shape != size:
                raise ValueError(
                    f"{mask_path}: label size {values.shape} (H, W) differs from image "
                    f"{image_path} size {size}"
                )
            return to_class_map(values, self.lookup, mask_path, self.table)
        except ValueError as e:
            raise LabelError(str(e)) from None


def _listed_images(list_file: Path, image_folder: Path, image_suffix: str) -> list[Path]:
    """The images a split file lists (one stem per line; blank lines skipped), each of
    which must exist; errors name the list file and the line."""
    if not list_file.is_file():
        raise FileNotFoundError(f"split list not found: {list_file}")
    images = []
    for number, line in enumerate(list_file.read_text().splitlines(), start=1):
        stem = line.strip()
        if not stem:
            continue
        path = image_folder / f"{stem}{image_suffix}"
        if not path.is_file():
            raise FileNotFoundError(f"{list_file}:{number}: {stem!r} has no image {path}")
        images.append(path)
    if not images:
        raise ValueError(f"{list_file}: lists no images")
    return images


def _check_pair(image_path: Path, mask_path: Path) -> None:
    """From the headers alone: the mask holds indices and has the image's size."""
    check_mask_header(mask_path)
    mask_size, size = image_size(mask_path), image_size(image_path)
    if mask_size is not None and size is not None and mask_size != size:
        raise ValueError(
            f"{mask_path}: label size {mask_size} (H, W) differs from image {image_path} "
            f"size {size}"
        )


def label_path_for(image_path: Path, root: Path) -> Path:
    """The ``gtFine`` labelIds path of a ``leftImg8bit`` image path under ``root``."""
    rel = image_path.relative_to(root / "leftImg8bit")
    stem = image_path.name[: -len(IMAGE_SUFFIX)]
    return root / "gtFine" / rel.parent / f"{stem}{LABEL_SUFFIX}"


CITYSCAPES_TABLE = "labelIds of the Cityscapes table, 0..33"


class CityscapesDataset(SegmentationFolderDataset):
    """The Cityscapes layout, labelIds mapped to the 19 trainIds (ignore = 255):

        root/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
        root/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png

    ``split``: "train", "val" or "test"; ``with_labels`` defaults to all splits but "test".
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
        super().__init__(
            root,
            split,
            transform,
            image_dir="leftImg8bit/{split}",
            mask_dir="gtFine/{split}",
            image_suffix=IMAGE_SUFFIX,
            mask_suffix=LABEL_SUFFIX,
            lookup=label_id_to_train_id_lut(),
            ignore_index=IGNORE_INDEX,
            table=CITYSCAPES_TABLE,
            with_labels=split != "test" if with_labels is None else with_labels,
        )
