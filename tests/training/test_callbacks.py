"""The typed callbacks group maps to Lightning callbacks; DDP ranks get their own seeds."""

from __future__ import annotations

import os
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelSummary,
    RichModelSummary,
    RichProgressBar,
)

from lite_hrnet.tasks.pose import PoseEstimationModule
from lite_hrnet.training.callbacks import (
    LogValidationImages,
    PrintMetrics,
    SeedPerRank,
    build_callbacks,
)
from tests.support import compose_config


def _draws() -> tuple[float, float, float]:
    return torch.rand(1).item(), float(np.random.rand()), random.random()


def _seed(seed: int) -> None:  # what seed_everything(seed) does
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _after_setup(world_size: int, rank: int) -> tuple[float, float, float]:
    _seed(42)
    trainer = SimpleNamespace(world_size=world_size, global_rank=rank)
    SeedPerRank(42).setup(trainer, None, "fit")
    return _draws()


def test_each_rank_draws_its_own_augmentation(monkeypatch) -> None:
    monkeypatch.delenv("PL_SEED_WORKERS", raising=False)
    rank0, rank1 = _after_setup(2, 0), _after_setup(2, 1)
    # torch (TopDownDataset's per-sample seeds), numpy and random (albumentations) all differ
    assert all(a != b for a, b in zip(rank0, rank1))
    assert _after_setup(2, 1) == rank1  # and are reproducible per rank
    assert os.environ["PL_SEED_WORKERS"] == "1"  # workers derive their seeds from the rank's
    _seed(42)
    single = _draws()
    assert _after_setup(1, 0) == single  # one process keeps the run's seed


@pytest.fixture(scope="module")
def module() -> PoseEstimationModule:
    return PoseEstimationModule(backbone_overrides={"width": 0.25, "num_modules": [1, 1, 1]})


@pytest.mark.parametrize(
    ("overrides", "logging", "present", "absent"),
    [
        ([], True, {LearningRateMonitor, LogValidationImages, PrintMetrics, ModelSummary},
         {EarlyStopping, RichProgressBar}),
        (["callbacks=early_stopping"], True, {EarlyStopping}, set()),
        (["callbacks=rich", "trainer.enable_progress_bar=true"], True,
         {RichModelSummary, RichProgressBar}, set()),
        (["callbacks=minimal"], True, set(), {LearningRateMonitor, LogValidationImages,
                                              PrintMetrics, ModelSummary}),
        ([], False, {PrintMetrics}, {LearningRateMonitor, LogValidationImages}),
    ],
)  # fmt: skip
def test_build_callbacks(overrides, logging, present, absent, module, tmp_path: Path) -> None:
    cfg = compose_config(overrides)
    callbacks, checkpoint = build_callbacks(cfg, tmp_path, logging)
    kinds = {type(c) for c in callbacks}
    assert present <= kinds and not (absent & kinds)
    assert checkpoint in callbacks and checkpoint.monitor == cfg.monitor
    assert checkpoint.dirpath == str(tmp_path / "checkpoints")
    assert any(isinstance(c, SeedPerRank) for c in callbacks)
    for c in callbacks:
        if isinstance(c, EarlyStopping):
            assert (c.monitor, c.mode, c.patience) == ("val/AP", "max", 3)
