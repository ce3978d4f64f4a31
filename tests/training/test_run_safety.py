"""Settings and inputs that must not hang a run, lose its results or be ignored: loggers with
real DataLoader workers, a misspelt monitor, keys added with '+', a bad checkpoint path, a
rerun into the same folder, an unreadable validation image, step checkpoints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lite_hrnet.models.checkpoint import read_checkpoint_file
from lite_hrnet.training.run import run_training
from tests.support import compose_config, pose_overrides, run_cli, script_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
TINY_FIT = ["debug=limit", "trainer.limit_train_batches=2", "callbacks.val_images=2"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("logger", ["tensorboard", "wandb"])
def test_image_loggers_with_worker_processes_finish(logger, coco_root, tmp_path):
    # The image callback runs OpenCV in the main process between loaders that fork workers;
    # a worker that then touches OpenCV's thread pool hangs. In a child process, with a timeout.
    argv = [*pose_overrides(coco_root), *TINY_FIT, f"logger={logger}", "data.num_workers=2",
            f"hydra.run.dir={tmp_path}"]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "lite_hrnet.cli.train", *argv],
        cwd=REPO, env=script_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "AP" in json.loads((tmp_path / "summary.json").read_text())["test"]


def test_a_misspelt_monitor_fails_at_the_first_validation(coco_root, tmp_path, capsys):
    code = run_cli(["train", *pose_overrides(coco_root), *TINY_FIT, "monitor=val/APP",
                    f"hydra.run.dir={tmp_path}"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "monitor: 'val/APP' is not a logged metric" in err and "val/AP," in err
    assert not (tmp_path / "summary.json").exists()


@pytest.mark.parametrize(
    "override, key",
    [("+data.sigmaa=2", "data.sigmaa"), ("+task.learning_rate=0.1", "task.learning_rate"),
     ("+data.synthetic.num_imgs=3", "data.synthetic.num_imgs"), ("+bogus=1", "bogus")],
)  # fmt: skip
def test_keys_added_with_plus_are_errors(override, key, coco_root, tmp_path, capsys):
    code = run_cli(["train", *pose_overrides(coco_root), override, f"hydra.run.dir={tmp_path}"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{key}: no such key in the config" in err and "Traceback" not in err


def test_a_missing_model_checkpoint_is_one_line(coco_root, tmp_path, capsys):
    code = run_cli(["train", *pose_overrides(coco_root), "model.checkpoint=/nowhere/w.pth",
                    f"hydra.run.dir={tmp_path}"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "model.checkpoint: no file at /nowhere/w.pth" in err and "Traceback" not in err


def test_a_rerun_into_the_same_folder_keeps_the_metrics(coco_root, tmp_path):
    cfg = compose_config([*pose_overrides(coco_root), *TINY_FIT, "logger=csv"])
    run_training(cfg, tmp_path)
    first = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    run_training(cfg, tmp_path)
    second = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    assert len(second) == 2 * len(first) - 1 and second[: len(first)] == first
    assert "stopped_by_max_time" not in json.loads((tmp_path / "summary.json").read_text())


def test_a_run_cut_by_the_max_time_failsafe_says_so(coco_root, tmp_path):
    cfg = compose_config([*pose_overrides(coco_root), *TINY_FIT, "trainer.max_epochs=100",
                          "trainer.max_time=00:00:00:01", "prediction_images=0"])  # fmt: skip
    with pytest.warns(UserWarning, match=r"max_time \(00:00:00:01\) stopped training at step"):
        run_training(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stopped_by_max_time"] is True and "AP" in summary["test"]


def test_last_checkpoint_every_n_steps(coco_root, tmp_path):
    cfg = compose_config(
        [*pose_overrides(coco_root), "debug=limit", "trainer.limit_train_batches=3",
         "trainer.max_epochs=1", "callbacks.checkpoint.every_n_train_steps=2",
         "test_after_fit=false"]
    )  # fmt: skip
    saved: list[int] = []
    from lite_hrnet.training import callbacks

    save = callbacks.SaveLast._save

    def recording(self, trainer):
        save(self, trainer)
        saved.append(read_checkpoint_file(self.path)["global_step"])

    callbacks.SaveLast._save = recording
    try:
        run_training(cfg, tmp_path)
    finally:
        callbacks.SaveLast._save = save
    assert saved == [2, 3]  # step 2, then the epoch's end
    assert read_checkpoint_file(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == 3


@pytest.mark.parametrize("logger", ["csv", "tensorboard"])
def test_an_unreadable_val_image_does_not_fail_the_run(logger, coco_root, tmp_path):
    root = tmp_path / "coco"
    shutil.copytree(coco_root, root)
    first = sorted((root / "val2017").iterdir())[0]
    first.write_bytes(b"")  # a zero-byte JPEG: skipped and counted by the loaders
    cfg = compose_config(
        [*pose_overrides(root), *TINY_FIT, f"logger={logger}", "prediction_images=2"]
    )
    with pytest.warns(UserWarning):
        run_training(cfg, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "AP" in summary["test"]
    assert (tmp_path / "run" / "predictions.png").stat().st_size > 0  # drawn without it
