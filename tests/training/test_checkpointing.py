"""Checkpoint saves on a full disk: one line naming the file, the problem and the last good
checkpoint, which stays whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lite_hrnet.models.checkpoint import read_checkpoint_file
from lite_hrnet.training.checkpointing import AtomicCheckpointIO, CheckpointWriteError
from tests.support import small_disk


def test_a_full_disk_names_the_file_and_the_last_good_checkpoint(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    with small_disk(tmp_path / "disk", "1m") as disk:
        io.save_checkpoint({"w": torch.ones(1000)}, disk / "epoch0.ckpt")
        with pytest.raises(CheckpointWriteError) as caught:
            io.save_checkpoint({"w": torch.ones(1_000_000)}, disk / "epoch1.ckpt")
        message = str(caught.value)
        assert message.startswith(f"cannot save checkpoint {disk / 'epoch1.ckpt'}: ")
        assert "no space left on device" in message
        assert f"the last good checkpoint is {disk / 'epoch0.ckpt'}" in message
        assert "inline_container" not in message
        assert torch.equal(read_checkpoint_file(disk / "epoch0.ckpt")["w"], torch.ones(1000))
        assert sorted(p.name for p in disk.iterdir()) == ["epoch0.ckpt"]  # no temp file left
        # The same file again: the previous one is kept, whole.
        with pytest.raises(CheckpointWriteError, match=r"the previous epoch0\.ckpt, kept whole"):
            io.save_checkpoint({"w": torch.ones(1_000_000)}, disk / "epoch0.ckpt")
        assert torch.equal(read_checkpoint_file(disk / "epoch0.ckpt")["w"], torch.ones(1000))


def test_other_save_errors_are_left_alone(tmp_path: Path) -> None:
    with pytest.raises(AttributeError):  # not the file system's doing: an unpicklable object
        AtomicCheckpointIO().save_checkpoint({"f": lambda: 0}, tmp_path / "a.ckpt")
