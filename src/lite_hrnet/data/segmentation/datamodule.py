"""The segmentation data config and ``CityscapesDataModule``: Cityscapes train/val loaders.

No Hydra here: ``lite_hrnet.config`` registers the config as a schema. Real Cityscapes and
the synthetic street scenes go through this same reader and the same transforms.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...synthetic.street_scenes import StreetSceneConfig, ensure_synthetic_cityscapes
from ..loaders import SplitDataModule, check_loader_options
from .dataset import CityscapesDataset
from .transforms import SegmentationTransformConfig, build_eval_transform, build_train_transform


@dataclass
class SegmentationDataConfig(SegmentationTransformConfig):
    """A Cityscapes-layout folder (``leftImg8bit/``, ``gtFine/``; real, or the synthetic
    street scenes generated into it on first use), HRNet's augmentation and the loaders.
    Training runs on ``train_split``; validation and test on ``val_split``."""

    root: str = "data/cityscapes"
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


class CityscapesDataModule(SplitDataModule):
    """Train on ``train_split`` with HRNet's augmentation, validate and test on
    ``val_split`` (the labels keep their size; ``base_size`` resizes only the input)."""

    config_class = SegmentationDataConfig

    def generate(self) -> None:
        ensure_synthetic_cityscapes(self.root, self.cfg.synthetic)

    def build_dataset(self, split: str) -> CityscapesDataset:
        if split == "train":
            return CityscapesDataset(
                self.root, self.cfg.train_split, build_train_transform(self.cfg)
            )
        return CityscapesDataset(
            self.root, self.cfg.val_split, build_eval_transform(self.cfg.base_size)
        )
