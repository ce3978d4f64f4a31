"""``lite-hrnet train`` owns its run folder: a second training into a folder in use fails at
start naming the first (which finishes untouched), and a folder that cannot be written is
one line."""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
import time

import pytest
import yaml

from lite_hrnet.training.run_lock import LOCK_FILE
from tests.support import pose_overrides, read_only, run_cli, script_env

TINY_FIT = ["debug=limit", "trainer.limit_train_batches=2", "callbacks.val_images=0"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_second_training_into_a_folder_in_use_fails_at_start(coco_root, tmp_path, capsys):
    run_dir = tmp_path / "run"
    first_argv = [*pose_overrides(coco_root), *TINY_FIT, "trainer.max_epochs=3", "seed=1"]
    first = subprocess.Popen(
        [sys.executable, "-m", "lite_hrnet.cli.train", *first_argv, f"hydra.run.dir={run_dir}"],
        env=script_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / LOCK_FILE).exists() and first.poll() is None:
            assert time.monotonic() < deadline, "the first training never started"
            time.sleep(0.1)
        code = run_cli(["train", *pose_overrides(coco_root), *TINY_FIT, "seed=2",
                        f"hydra.run.dir={run_dir}"])  # fmt: skip
        assert first.poll() is None, "the first training ended before the second started"
        out, _ = first.communicate(timeout=240)
    finally:
        first.kill()
    err = capsys.readouterr().err
    assert code == 2
    assert f"run folder {run_dir} is in use by another training" in err
    assert f"PID {first.pid} on host {socket.gethostname()}" in err and "Traceback" not in err
    assert first.returncode == 0, out[-3000:]
    # The first run's records are its own: its overrides, all its epochs, no failure.
    assert "seed=1" in yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        validated = {row["epoch"] for row in csv.DictReader(f) if row.get("val/AP")}
    assert validated == {"0", "1", "2"}
    assert not (run_dir / "failed.json").exists() and (run_dir / "summary.json").is_file()
    assert not (run_dir / LOCK_FILE).exists()


def test_a_run_folder_that_cannot_be_written_is_one_line(coco_root, tmp_path, capsys):
    (tmp_path / "mount").mkdir()
    with read_only(tmp_path / "mount"):
        code = run_cli(["train", *pose_overrides(coco_root), *TINY_FIT,
                        f"hydra.run.dir={tmp_path / 'mount' / 'run'}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"lite-hrnet train: error: hydra.run.dir {tmp_path / 'mount' / 'run'}: " in err
    assert ("read-only file system" in err or "permission denied" in err) and "Traceback" not in err


def test_eval_in_its_hydra_form_checks_its_folder_too(coco_root, tmp_path, capsys):
    (tmp_path / "mount").mkdir()
    with read_only(tmp_path / "mount"):
        code = run_cli(["eval", *pose_overrides(coco_root), "ckpt_path=/nowhere/best.ckpt",
                        f"hydra.run.dir={tmp_path / 'mount' / 'eval'}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"lite-hrnet eval: error: hydra.run.dir {tmp_path / 'mount' / 'eval'}: " in err
