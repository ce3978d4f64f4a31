"""How every data set is batched and loaded: one skipping collate, one OpenCV thread per
worker, and the DataModule base that the pose and segmentation DataModules share.

A sample that cannot be read comes back as ``None`` (with a ``CorruptImageWarning`` naming
the file); ``collate_skipping`` drops it and counts it under ``"skipped"``, which the task
modules log as ``<stage>/skipped``. One bad file never stops a run.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from ..checks import check, config_with

SKIPPED = "skipped"


def collate_skipping(batch: list[dict[str, Any] | None]) -> dict[str, Any]:
    """``default_collate`` over the readable samples; ``"skipped"`` counts the others (an
    int64 scalar tensor). A batch of only unreadable samples holds ``"skipped"`` alone."""
    kept = [b for b in batch if b is not None]
    out = default_collate(kept) if kept else {}
    out[SKIPPED] = torch.tensor(len(batch) - len(kept))
    return out


def one_opencv_thread(worker_id: int | None = None) -> None:
    """One OpenCV thread per process: DataLoader workers already run one torch thread
    each, and OpenCV's own thread pool would oversubscribe the cores.

    It is set in the main process before its workers start, and again in each worker
    (``worker_init_fn``, for workers that are spawned rather than forked): a forked worker
    that changes the thread count itself deadlocks on the thread pool the main process
    left behind (mmcv sets it in the main process for the same reason). So a worker that
    already has one thread (a forked one inherits the setting) leaves the pool alone.
    """
    import cv2

    if cv2.getNumThreads() != 1:
        cv2.setNumThreads(1)


def check_loader_options(cfg: Any) -> None:
    """The loader fields that every data config has: batch sizes and workers."""
    check(cfg.batch_size > 0, "data.batch_size", "must be positive")
    check(cfg.val_batch_size is None or cfg.val_batch_size > 0, "data.val_batch_size",
          f"must be positive (or null: batch_size), got {cfg.val_batch_size}")  # fmt: skip
    check(cfg.num_workers >= 0, "data.num_workers", "must be >= 0")


class SplitDataModule(L.LightningDataModule):
    """A data set's train, val and test splits behind Lightning's hooks.

    Built from a data config dataclass (``config_class``): ``Module(root, **options)``
    takes its fields as keywords, ``Module(config=cfg)`` the dataclass itself. The config
    is validated here and saved as the DataModule's hyperparameters (so checkpoints hold
    it). With ``cfg.synthetic`` set, ``prepare_data`` first writes a generated data set in
    the real layout under ``root`` (``generate``), which the same readers then parse.
    Subclasses read their format in ``build_dataset``.
    """

    config_class: ClassVar[type]

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, config: Any = None, **options: Any
    ) -> None:
        super().__init__()
        if root is not None:
            options["root"] = str(root)
        self.cfg = config_with(self.config_class, options, base=config)
        self.cfg.validate()
        self.save_hyperparameters(asdict(self.cfg))
        self.root = Path(self.cfg.root).expanduser()
        self.datasets: dict[str, Dataset] = {}

    # Subclass hooks --------------------------------------------------------------------
    def generate(self) -> None:
        """Write ``cfg.synthetic``'s data set under ``root``."""
        raise NotImplementedError

    def build_dataset(self, split: str) -> Dataset:
        """The dataset of ``split`` ("train", "val" or "test")."""
        raise NotImplementedError

    # Lightning hooks -------------------------------------------------------------------
    def prepare_data(self) -> None:
        if self.cfg.synthetic is not None:
            self.generate()

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}
        for split in wanted.get(stage or "fit", ("train", "val", "test")):
            if split not in self.datasets:
                dataset = self.build_dataset(split)
                if not len(dataset):
                    raise ValueError(f"{self.root}: the {split} split has no usable samples")
                if split == "train" and len(dataset) < self.cfg.batch_size:
                    # drop_last would leave no batch at all: a run that trains nothing
                    raise ValueError(
                        f"data.batch_size: the train split of {self.root} has {len(dataset)} "
                        f"samples, fewer than data.batch_size={self.cfg.batch_size}, so no "
                        "full batch can be drawn; lower data.batch_size or add data"
                    )
                self.datasets[split] = dataset

    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self.datasets:
            self.setup({"train": "fit", "val": "validate"}.get(split, "test"))
        cfg = self.cfg
        if cfg.num_workers > 0:
            one_opencv_thread()
        return DataLoader(
            self.datasets[split],
            batch_size=cfg.batch_size if train else (cfg.val_batch_size or cfg.batch_size),
            shuffle=train,
            drop_last=train,
            num_workers=cfg.num_workers,
            # Pinning only helps host-to-GPU copies (and warns without a GPU).
            pin_memory=cfg.pin_memory and torch.cuda.is_available(),
            # Fresh workers every epoch, seeded from the main process's generator at the
            # epoch's start: a run resumed from an epoch's checkpoint draws the same samples
            # and augmentations as one that was never stopped.
            persistent_workers=False,
            collate_fn=collate_skipping,
            worker_init_fn=one_opencv_thread,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
