"""``TrainingThroughput``: images per training second, without first batches or validation."""

from __future__ import annotations

import itertools

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from lite_hrnet.training import callbacks as throughput
from lite_hrnet.training.callbacks import LOG_KEY, TrainingThroughput, batch_size


class Images(Dataset):
    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"image": torch.randn(3, 8, 8), "target": torch.randn(1)}


class Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(192, 1))

    def training_step(self, batch, batch_idx):
        return nn.functional.mse_loss(self.net(batch["image"]), batch["target"])

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", nn.functional.mse_loss(self.net(batch["image"]), batch["target"]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_counts_steady_training_only(monkeypatch, tmp_path) -> None:
    # A clock that moves 0.5 s per reading: every counted interval lasts 0.5 s.
    ticks = itertools.count()
    monkeypatch.setattr(throughput, "perf_counter", lambda: next(ticks) * 0.5)
    callback = TrainingThroughput()
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        val_check_interval=2,  # a validation in the middle of every epoch, too
        callbacks=[callback],
    )
    loader = DataLoader(Images(), batch_size=4)  # 4 batches per epoch
    trainer.fit(Tiny(), loader, DataLoader(Images(), batch_size=8))
    # Per epoch: batch 1 starts the clock, 2 counts; validation; 3 restarts it, 4 counts.
    assert (callback.images, callback.seconds) == (2 * 2 * 4, 2 * 2 * 0.5)
    assert callback.images_per_second == 8.0
    assert trainer.callback_metrics[LOG_KEY] == pytest.approx(8.0)
    assert TrainingThroughput().images_per_second is None


@pytest.mark.parametrize(
    ("batch", "size"),
    [
        ({"image": torch.zeros(5, 3, 4, 4), "label": torch.zeros(7)}, 5),
        ({"skipped": torch.tensor(2), "x": torch.zeros(3, 2)}, 3),
        ((torch.zeros(6, 2), torch.zeros(6)), 6),
        (torch.zeros(4, 1), 4),
        ({"skipped": torch.tensor(1)}, 0),
        ("text", 0),
    ],
)
def test_batch_size(batch, size) -> None:
    assert batch_size(batch) == size
