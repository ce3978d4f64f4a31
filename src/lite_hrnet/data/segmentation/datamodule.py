"""The segmentation data configs and DataModules: images + masks folders with the user's
class table (``SegmentationDataConfig``, ``SegmentationDataModule``), and Cityscapes as one
such layout with its official table (``CityscapesDataConfig``, ``CityscapesDataModule``).

No Hydra here: ``lite_hrnet.config`` registers the configs as schemas. Real data and the
synthetic street scenes go through the same reader and the same transforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...checks import check
from ...meta.cityscapes import CLASS_TABLE as CITYSCAPES_CLASSES
from ...meta.cityscapes import label_id_to_train_id_lut
from ...meta.class_table import ClassTable
from ...synthetic.street_scenes import (
    StreetSceneConfig,
    ensure_synthetic_cityscapes,
    ensure_synthetic_street_folder,
)
from ..loaders import SplitDataModule, check_loader_options
from .dataset import CITYSCAPES_TABLE, IMAGE_SUFFIX, LABEL_SUFFIX, SegmentationFolderDataset
from .masks import class_lookup
from .transforms import SegmentationTransformConfig, build_eval_transform, build_train_transform

# Tables whose names, colours and stored ids come from lite_hrnet.meta, not the config.
LABEL_TABLES = ("cityscapes",)


@dataclass
class SegmentationDataConfig(SegmentationTransformConfig):
    """Images and masks in folders under ``root``, paired by name (mmsegmentation's custom
    data set), with the user's class table; HRNet's augmentation and the loaders.

    Layout: ``image_dir``/``mask_dir`` (with ``{split}``), files ``<stem><image_suffix>``
    and ``<stem><mask_suffix>``; ``split_list`` (with ``{split}``): a file of stems, else
    every image of the folder. Training runs on ``train_split``; validation and test on
    ``val_split``.

    Classes: ``classes`` names them (mask value k is class k); ``palette`` gives one
    [R, G, B] per class (default: Pascal VOC's colour map); ``ignore_index`` (from the
    transform config) marks pixels without a class; ``reduce_zero_label`` ignores mask value
    0 and makes values 1..K the classes (ADE20K). ``label_table`` "cityscapes" takes names,
    colours and the labelIds -> trainIds map from the official table instead.
    """

    root: str = "data/segmentation"
    image_dir: str = "images/{split}"
    mask_dir: str = "masks/{split}"
    image_suffix: str = ".jpg"
    mask_suffix: str = ".png"
    split_list: str | None = None
    classes: list[str] | None = None
    palette: list[list[int]] | None = None
    reduce_zero_label: bool = False
    label_table: str | None = None
    batch_size: int = 12  # per process
    val_batch_size: int = 1  # images of one split share a size
    num_workers: int = 4
    pin_memory: bool = True
    train_split: str = "train"
    val_split: str = "val"
    synthetic: StreetSceneConfig | None = None  # generate this data set under root first

    def __post_init__(self) -> None:
        if isinstance(self.synthetic, dict):
            self.synthetic = StreetSceneConfig(**self.synthetic)

    def validate(self) -> None:
        super().validate()
        check_loader_options(self)
        if self.synthetic is not None:
            self.synthetic.validate()
        for key in ("image_suffix", "mask_suffix"):
            check(bool(getattr(self, key)), f"data.{key}", "must not be empty")
        if self.label_table is not None:
            check(self.label_table in LABEL_TABLES, "data.label_table",
                  f"one of {LABEL_TABLES} or null, got {self.label_table!r}")  # fmt: skip
            table = self.label_table
            for key in ("classes", "palette"):
                check(getattr(self, key) is None, f"data.{key}",
                      f"the {table} table has its own; leave data.{key} out")  # fmt: skip
            check(not self.reduce_zero_label, "data.reduce_zero_label",
                  f"the {table} table maps its ids itself")  # fmt: skip
            ignored = CITYSCAPES_CLASSES.ignore_index
            check(self.ignore_index == ignored, "data.ignore_index",
                  f"the {table} table ignores {ignored}")  # fmt: skip
        else:
            check(bool(self.classes), "data.classes",
                  "the class names, e.g. data.classes=[background,cat,dog] (mask value k is "
                  "class k; with data.reduce_zero_label value k + 1)")  # fmt: skip
        if self.reduce_zero_label and self.classes:
            check(len(self.classes) <= 254 and self.ignore_index != 0,
                  "data.reduce_zero_label",
                  "masks store classes as 1..K: at most 254 classes, ignore_index not 0",
            )  # fmt: skip
        self.class_table()  # names, palette and ignore_index fit together

    def class_table(self) -> ClassTable:
        """The data set's classes: names, palette, ignore value, stored id per class."""
        if self.label_table == "cityscapes":
            return CITYSCAPES_CLASSES
        classes = self.classes or []
        label_ids = [k + 1 for k in range(len(classes))] if self.reduce_zero_label else None
        return ClassTable.build(
            classes, self.palette, self.ignore_index, label_ids, field="data.classes"
        )

    def lookup(self) -> np.ndarray:
        """(256,) int16 stored mask value -> class index or ignore, -1 for no class."""
        if self.label_table == "cityscapes":
            return label_id_to_train_id_lut()
        return class_lookup(len(self.classes or []), self.ignore_index, self.reduce_zero_label)

    def describe_table(self) -> str:
        """The valid mask values, for errors that name the fields to change."""
        if self.label_table == "cityscapes":
            return CITYSCAPES_TABLE
        k = len(self.classes or [])
        values = f"1..{k}, 0 ignored" if self.reduce_zero_label else f"0..{k - 1}"
        return (
            f"data.classes has {k} classes: mask values {values}, data.ignore_index "
            f"{self.ignore_index}; data.reduce_zero_label={str(self.reduce_zero_label).lower()}"
        )


@dataclass
class CityscapesDataConfig(SegmentationDataConfig):
    """A Cityscapes-layout folder (``leftImg8bit/``, ``gtFine/``; real, or the synthetic
    street scenes generated into it on first use): labelIds -> the official trainIds."""

    root: str = "data/cityscapes"
    image_dir: str = "leftImg8bit/{split}"
    mask_dir: str = "gtFine/{split}"
    image_suffix: str = IMAGE_SUFFIX
    mask_suffix: str = LABEL_SUFFIX
    label_table: str | None = "cityscapes"


class SegmentationDataModule(SplitDataModule):
    """Train on ``train_split`` with HRNet's augmentation, validate and test on
    ``val_split`` (the labels keep their size; ``base_size`` resizes only the input). With
    ``synthetic``, the street scenes are written under ``root`` in the images + masks
    layout first."""

    config_class = SegmentationDataConfig

    @property
    def class_table(self) -> ClassTable:
        return self.cfg.class_table()

    def generate(self) -> None:
        ensure_synthetic_street_folder(self.root, self.cfg.synthetic)

    def build_dataset(self, split: str) -> SegmentationFolderDataset:
        cfg = self.cfg
        if split == "train":
            folder, transform = cfg.train_split, build_train_transform(cfg)
        else:
            folder, transform = cfg.val_split, build_eval_transform(cfg.base_size)
        return SegmentationFolderDataset(
            self.root,
            folder,
            transform,
            image_dir=cfg.image_dir,
            mask_dir=cfg.mask_dir,
            image_suffix=cfg.image_suffix,
            mask_suffix=cfg.mask_suffix,
            split_list=cfg.split_list,
            lookup=cfg.lookup(),
            ignore_index=cfg.ignore_index,
            table=cfg.describe_table(),
        )


class CityscapesDataModule(SegmentationDataModule):
    """``SegmentationDataModule`` with Cityscapes' layout and table by default; its
    synthetic set is written in the Cityscapes layout."""

    config_class = CityscapesDataConfig

    def generate(self) -> None:
        ensure_synthetic_cityscapes(self.root, self.cfg.synthetic)


def segmentation_datamodule(config: SegmentationDataConfig) -> SegmentationDataModule:
    """The DataModule of a data config: Cityscapes' for a ``CityscapesDataConfig``."""
    if isinstance(config, CityscapesDataConfig):
        return CityscapesDataModule(config=config)
    return SegmentationDataModule(config=config)
