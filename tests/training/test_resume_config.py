"""A resume continues the run it was asked to, or says why not: a checkpoint of another
network, task or input size is refused with a table of the differing keys before Lightning
loads it; other changed settings are listed and kept; ``resume=true`` in a new
clock-named folder says where to point; the SLURM checkpoint is picked by its step."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lite_hrnet.training.checkpointing import latest_checkpoint
from lite_hrnet.training.resume_config import CONFIG_KEY, compare, flat_config
from lite_hrnet.training.run import run_training
from tests.support import compose_config, pose_overrides, run_cli

FIT = ["trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
       "trainer.num_sanity_val_steps=0", "trainer.check_val_every_n_epoch=1",
       "test_after_fit=false", "logger=none"]  # fmt: skip


def test_unset_backbone_keys_equal_the_variants_own_values(coco_root):
    plain = flat_config(compose_config(pose_overrides(coco_root)))
    plain["model.width"] = None  # the variant's width, 1.0
    explicit = {**plain, "model.width": 1.0, "trainer.max_epochs": 7}
    assert compare(plain, explicit) == [("trainer.max_epochs", plain["trainer.max_epochs"], 7)]
    assert compare(plain, {**plain, "model.width": 0.5})[0][0] == "model.width"


def test_the_slurm_checkpoint_is_picked_by_its_step_not_its_time(tmp_path):
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    hpc = tmp_path / "hpc_ckpt_1.ckpt"
    torch.save({"global_step": 6}, last)
    torch.save({"global_step": 4}, hpc)
    os.utime(hpc, (last.stat().st_mtime + 60,) * 2)  # older state, newer file (a copy)
    assert latest_checkpoint(tmp_path) == last
    torch.save({"global_step": 9}, hpc)
    os.utime(last, (hpc.stat().st_mtime + 60,) * 2)
    assert latest_checkpoint(tmp_path) == hpc


@pytest.fixture(scope="module")
def trained(coco_root, tmp_path_factory) -> Path:
    """A finished one-step run's folder (``checkpoints/last.ckpt``)."""
    run_dir = tmp_path_factory.mktemp("trained")
    run_training(compose_config([*pose_overrides(coco_root), *FIT]), run_dir)
    return run_dir


@pytest.mark.slow
def test_every_checkpoint_holds_the_runs_config(trained):
    obj = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    assert obj[CONFIG_KEY]["model.width"] == 0.5
    assert obj[CONFIG_KEY]["data.input_size"] == [64, 64]


@pytest.mark.slow
@pytest.mark.parametrize(
    "override, row",
    [("model.width=0.25", "model.width      0.5         0.25"),
     ("data.input_size=[96,96]", "data.input_size  [64, 64]    [96, 96]"),
     ("model=lite_hrnet_30", "model.name       lite_hrnet_18  lite_hrnet_30")],
)  # fmt: skip
def test_resume_with_another_network_or_input_is_refused_with_a_table(
    override, row, trained, coco_root, tmp_path, capsys
):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(
        (trained / "checkpoints" / "last.ckpt").read_bytes()
    )
    argv = [*pose_overrides(coco_root), *FIT, "resume=true", override, f"hydra.run.dir={run_dir}"]
    assert run_cli(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert f"cannot resume from {run_dir / 'checkpoints' / 'last.ckpt'}" in err
    assert "key" in err and "checkpoint" in err and "this run" in err
    assert " ".join(row.split()) in " ".join(err.split())
    assert "Traceback" not in err and len(err.splitlines()) < 12


@pytest.mark.slow
def test_other_changed_settings_are_listed_and_resumed(trained, coco_root, tmp_path, capsys):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(
        (trained / "checkpoints" / "last.ckpt").read_bytes()
    )
    argv = [*pose_overrides(coco_root), *FIT, "trainer.max_epochs=2", "task.lr=0.001",
            "resume=true", f"hydra.run.dir={run_dir}"]  # fmt: skip
    assert run_cli(["train", *argv]) == 0
    out = " ".join(capsys.readouterr().out.split())
    lr = compose_config(pose_overrides(coco_root)).task.lr
    assert "with other settings than it was trained with (kept)" in out
    assert "trainer.max_epochs 1 2" in out and f"task.lr {lr} 0.001" in out
    obj = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert obj["epoch"] == 1  # the second epoch ran


@pytest.mark.slow
def test_a_segmentation_checkpoint_is_refused_by_a_pose_run(
    tiny_checkpoint, coco_root, tmp_path, capsys
):
    # A checkpoint written by a plain Trainer holds no run config: its hyperparameters say
    # the task and the network.
    argv = [*pose_overrides(coco_root), *FIT, f"ckpt_path={tiny_checkpoint}",
            f"hydra.run.dir={tmp_path}"]  # fmt: skip
    assert run_cli(["train", *argv]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"cannot resume from {tiny_checkpoint}" in err
    assert "task.name segmentation pose" in err
    assert "Traceback" not in err and "Missing key" not in err


@pytest.mark.slow
def test_resume_in_a_new_clock_named_folder_says_where_to_point(
    coco_root, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert run_cli(["train", *pose_overrides(coco_root), *FIT, "resume=true"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "resume=true: no checkpoint in" in err and "hydra.run.dir is not set" in err
    assert "hydra.run.dir=<its folder>" in err and "ckpt_path=" in err
    assert not list(tmp_path.glob("outputs/train/*/checkpoints"))  # nothing trained
