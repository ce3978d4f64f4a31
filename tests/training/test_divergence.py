"""A diverging run (``task.lr=1e8``) stops with a clear error naming the step and the
learning rate, exits non-zero, and never saves non-finite weights over its checkpoints."""

from __future__ import annotations

import json
import re

import pytest
import torch

from lite_hrnet.models.checkpoint import read_checkpoint_file
from lite_hrnet.training.divergence import nonfinite_tensors
from tests.support import compose_config, pose_overrides, run_cli

pytestmark = pytest.mark.slow

DIVERGING = ["debug=limit", "task.lr=1e8", "callbacks.val_images=0"]


def test_non_finite_weights_are_never_saved(coco_root, tmp_path, capsys):
    every_step = "callbacks.checkpoint.every_n_train_steps=1"
    code = run_cli(["train", *pose_overrides(coco_root), *DIVERGING, every_step,
                    f"hydra.run.dir={tmp_path}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    step = int(re.search(r"weight tensors are not finite at step (\d+)", err)[1])
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert f"the last finite checkpoint is {last}" in err
    assert "Lower the learning rate (task.lr=1e+08)" in err
    saved = read_checkpoint_file(last)
    assert saved["global_step"] == step - 1 and nonfinite_tensors(saved["state_dict"]) == []
    for path in (tmp_path / "checkpoints").glob("*.ckpt"):
        assert nonfinite_tensors(read_checkpoint_file(path)["state_dict"]) == [], path
    assert not (tmp_path / "summary.json").exists()
    assert "training diverged" in json.loads((tmp_path / "failed.json").read_text())["error"]


def test_a_non_finite_loss_stops_the_run_after_the_set_number_of_steps(coco_root, tmp_path, capsys):
    # Batches of 2: six steps an epoch, the loss is NaN before the first checkpoint.
    code = run_cli(["train", *pose_overrides(coco_root), *DIVERGING, "data.batch_size=2",
                    "trainer.limit_train_batches=6", "callbacks.nonfinite_loss_steps=1",
                    f"hydra.run.dir={tmp_path}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    found = re.search(r"training diverged: the loss is (nan|inf) at step (\d+), not finite", err)
    assert found, err[-2000:]
    assert "callbacks.nonfinite_loss_steps=1" in err and "there is no earlier checkpoint" in err
    assert "Lower the learning rate (task.lr=1e+08)" in err
    assert not list(tmp_path.glob("checkpoints/*.ckpt"))


def test_the_step_count_is_a_checked_setting(coco_root):
    cfg = compose_config([*pose_overrides(coco_root), "callbacks.nonfinite_loss_steps=-1"])
    with pytest.raises(ValueError, match=r"callbacks.nonfinite_loss_steps: must be >= 0"):
        cfg.validate()
    assert compose_config(pose_overrides(coco_root)).callbacks.nonfinite_loss_steps == 3


def test_nonfinite_tensors() -> None:
    state = {"a": torch.ones(2), "b": torch.tensor([1.0, float("nan")]), "n": torch.tensor(3)}
    assert nonfinite_tensors({**state, "c": torch.tensor([float("-inf")])}) == ["b", "c"]
