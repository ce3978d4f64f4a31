"""``CityscapesDataModule``: Cityscapes train/val loaders for semantic segmentation.

Plain arguments only (the Hydra configs live in ``conf/``). Real Cityscapes and the
synthetic street scenes go through this same reader and the same transforms.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader

from .dataset import CityscapesDataset, collate_segmentation
from .transforms import build_eval_transform, build_train_transform


class CityscapesDataModule(LightningDataModule):
    """Train on ``train_split`` with HRNet's augmentation, validate and test on ``val_split``.

    Args:
        root: folder with ``leftImg8bit/`` and ``gtFine/``.
        batch_size: training batch size per process.
        val_batch_size: evaluation batch size (images of one split share a size).
        num_workers: DataLoader workers; they stay alive across epochs and pin memory.
        crop_size: training crop (H, W); the paper uses (512, 1024).
        scale_range: random scale range before cropping; the paper uses (0.5, 2.0).
        base_size: resize whole images to (H, W) first, for training and for the network
            input at evaluation (the half-resolution setting: (512, 1024)); the labels
            used for scoring keep their size.
        flip_prob, color_jitter, hue_jitter, jitter_prob: see ``build_train_transform``.
    """

    def __init__(
        self,
        root: str | Path,
        batch_size: int = 8,
        val_batch_size: int = 1,
        num_workers: int = 4,
        crop_size: Sequence[int] = (512, 1024),
        scale_range: Sequence[float] = (0.5, 2.0),
        base_size: Sequence[int] | None = None,
        flip_prob: float = 0.5,
        color_jitter: float = 0.3,
        hue_jitter: float = 0.05,
        jitter_prob: float = 0.8,
        train_split: str = "train",
        val_split: str = "val",
        pin_memory: bool = True,
    ) -> None:
        super().__init__()
        if batch_size < 1 or val_batch_size < 1:
            raise ValueError(f"batch sizes must be >= 1, got {batch_size} and {val_batch_size}")
        if num_workers < 0:
            raise ValueError(f"num_workers: must be >= 0, got {num_workers}")
        self.root = Path(root)
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.train_split = train_split
        self.val_split = val_split
        self.base_size = None if base_size is None else tuple(base_size)
        self.train_transform = build_train_transform(
            crop_size, scale_range, base_size, flip_prob, color_jitter, hue_jitter, jitter_prob
        )
        self.eval_transform = build_eval_transform(base_size)
        self.train_set: CityscapesDataset | None = None
        self.val_set: CityscapesDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = CityscapesDataset(self.root, self.train_split, self.train_transform)
        if stage in (None, "fit", "validate", "test") and self.val_set is None:
            self.val_set = CityscapesDataset(self.root, self.val_split, self.eval_transform)

    def _loader(self, dataset: CityscapesDataset, batch_size: int, train: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=train,
            drop_last=train,
            num_workers=self.num_workers,
            # Pinning only helps host-to-GPU copies (and warns without a GPU).
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            collate_fn=collate_segmentation,
        )

    def train_dataloader(self) -> DataLoader:
        self.setup("fit")
        return self._loader(self.train_set, self.batch_size, train=True)

    def val_dataloader(self) -> DataLoader:
        self.setup("validate")
        return self._loader(self.val_set, self.val_batch_size, train=False)

    def test_dataloader(self) -> DataLoader:
        self.setup("test")
        return self._loader(self.val_set, self.val_batch_size, train=False)
