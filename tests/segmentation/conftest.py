"""Shared fixtures: a tiny synthetic Cityscapes folder and a tiny trained checkpoint."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
import pytest

from lite_hrnet.data.segmentation.datamodule import CityscapesDataModule
from lite_hrnet.synthetic.street_scenes import StreetSceneConfig, ensure_synthetic_cityscapes
from lite_hrnet.tasks.segmentation import SegmentationModule

# A small, fast backbone: a quarter of the width and one module per stage.
TINY_BACKBONE = {"width": 0.25, "num_modules": [1, 1, 1]}
SIZE = (64, 128)  # (H, W) of the generated images


@pytest.fixture(scope="session")
def cityscapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cityscapes")
    cfg = StreetSceneConfig(
        seed=3, num_train_images=4, num_val_images=2, height=SIZE[0], width=SIZE[1]
    )
    return ensure_synthetic_cityscapes(root, cfg, progress=False)


def tiny_module(**kwargs) -> SegmentationModule:
    return SegmentationModule("lite_hrnet_18", backbone_overrides=TINY_BACKBONE, **kwargs)


def tiny_datamodule(root: Path, **kwargs) -> CityscapesDataModule:
    options = {"batch_size": 2, "val_batch_size": 2, "num_workers": 0, "input_size": [64, 64]}
    return CityscapesDataModule(root, **{**options, **kwargs})


@pytest.fixture(scope="session")
def tiny_checkpoint(cityscapes_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Lightning checkpoint after two training steps (written by the Trainer)."""
    out = tmp_path_factory.mktemp("checkpoint")
    trainer = L.Trainer(
        max_steps=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=out,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's small-data and worker hints
        trainer.fit(tiny_module(), tiny_datamodule(cityscapes_root))
    path = out / "tiny.ckpt"
    trainer.save_checkpoint(path)
    return path
