"""Checkpoint saves on a full disk: one line naming the file, the problem and the last good
checkpoint, which stays whole; a training that fills its disk exits 2 saying so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from lite_hrnet.models.checkpoint import read_checkpoint_file
from lite_hrnet.training.checkpointing import AtomicCheckpointIO, CheckpointWriteError
from tests.support import pose_overrides, run_cli, small_disk


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


@pytest.mark.slow
def test_a_training_that_fills_its_disk_says_so_and_keeps_its_checkpoints(
    coco_root, tmp_path, capsys
):
    # A checkpoint of this network is about 2.4 MB: 6 MB takes best.ckpt and last.ckpt,
    # not the temporary file of the next save.
    with small_disk(tmp_path / "disk", "6m") as disk:
        code = run_cli(["train", *pose_overrides(coco_root), "debug=limit",
                        "callbacks.val_images=0", f"hydra.run.dir={disk / 'run'}"])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err and "inline_container" not in err
        found = re.search(r"cannot save checkpoint (\S+): no space left on device; (.*)", err)
        assert found and Path(found[1]).parent == disk / "run" / "checkpoints", err[-2000:]
        assert found[2].startswith("the last good checkpoint is ")
        for path in (disk / "run" / "checkpoints").glob("*.ckpt"):  # all whole
            assert read_checkpoint_file(path)["global_step"] > 0
