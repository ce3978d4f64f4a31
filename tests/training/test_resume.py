"""Runs that survive a kill: ``resume=true`` after a SIGKILL gives the uninterrupted run's
weights, step count and test metrics; a kill during a checkpoint write leaves the previous
file loadable and nothing in ``$TMPDIR``; SLURM's requeue signal saves, requeues and resumes.

The runs are ``lite-hrnet train`` processes on the tiny generated COCO set. A killed run is
started through a wrapper that pauses its training step at a given global step (and says so
with a marker file), so that the test kills it at a known point.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import torch

from lite_hrnet.models.checkpoint import read_checkpoint_file
from lite_hrnet.training.checkpointing import TEMP_MARK, atomic_save, remove_stale_temp_files
from tests.support import pose_overrides, script_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).parents[2]
STEPS_PER_EPOCH = 3
EPOCHS = 3

PAUSING_TRAIN = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from lite_hrnet.tasks.pose import PoseEstimationModule

    step = PoseEstimationModule.training_step
    pause_at, marker = int(os.environ["PAUSE_AT_STEP"]), Path(os.environ["PAUSE_MARKER"])

    def pausing_step(self, batch, batch_idx):
        if self.global_step >= pause_at:
            marker.touch()
            time.sleep(600)
        return step(self, batch, batch_idx)

    PoseEstimationModule.training_step = pausing_step
    from lite_hrnet.cli.train import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _overrides(coco_root: Path, run_dir: Path) -> list[str]:
    return [
        *pose_overrides(coco_root),
        f"trainer.max_epochs={EPOCHS}",
        f"trainer.limit_train_batches={STEPS_PER_EPOCH}",
        "trainer.limit_val_batches=2",
        "trainer.limit_test_batches=2",
        "trainer.check_val_every_n_epoch=1",
        "trainer.num_sanity_val_steps=0",
        "trainer.log_every_n_steps=1",
        "data.num_workers=1",  # real worker processes, seeded every epoch
        "logger=csv",
        "seed=5",
        f"hydra.run.dir={run_dir}",
    ]


def _train(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "lite_hrnet.cli.train", *argv],
        cwd=REPO,
        env=env or script_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _start_paused(
    argv: list[str], pause_at: int, marker: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A training process that pauses at optimiser step ``pause_at``; returns once it is there."""
    env = {**(env or script_env()), "PAUSE_AT_STEP": str(pause_at), "PAUSE_MARKER": str(marker)}
    log = open(marker.with_suffix(".log"), "w")  # noqa: SIM115  # closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSING_TRAIN, *argv], cwd=REPO, env=env, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, marker.with_suffix(".log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the run did not reach the pause"
        time.sleep(0.2)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a ``metrics.csv``, without empty cells (a later column rewrites the header)."""
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(f)]


def _state(ckpt: Path) -> tuple[int, int, dict[str, torch.Tensor]]:
    obj = read_checkpoint_file(ckpt)
    return obj["epoch"], obj["global_step"], obj["state_dict"]


@pytest.fixture(scope="module")
def uninterrupted(coco_root, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    _train(_overrides(coco_root, run_dir))
    return run_dir


def test_resume_after_sigkill_equals_an_uninterrupted_run(uninterrupted, coco_root, tmp_path):
    run_dir = tmp_path / "run"
    argv = _overrides(coco_root, run_dir)
    # Killed in the middle of the second epoch, after the first epoch's checkpoint.
    proc = _start_paused(argv, STEPS_PER_EPOCH + 1, tmp_path / "paused")
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers  # the DataLoader's worker process
    _kill(proc)
    _gone, alive = psutil.wait_procs(workers, timeout=30)  # they watch their parent
    assert not alive, [p.pid for p in alive]
    epoch, step, _ = _state(run_dir / "checkpoints" / "last.ckpt")
    assert (epoch, step) == (0, STEPS_PER_EPOCH)  # the latest state: epoch 0 done
    rows_before = _csv_rows(run_dir / "csv" / "metrics.csv")

    out = _train([*argv, "resume=true"])
    assert f"resuming from {run_dir / 'checkpoints' / 'last.ckpt'}" in out.stdout

    epoch, step, weights = _state(run_dir / "checkpoints" / "last.ckpt")
    ref_epoch, ref_step, ref_weights = _state(uninterrupted / "checkpoints" / "last.ckpt")
    assert (epoch, step) == (ref_epoch, ref_step) == (EPOCHS - 1, EPOCHS * STEPS_PER_EPOCH)
    assert weights.keys() == ref_weights.keys()
    assert all(torch.equal(weights[k], ref_weights[k]) for k in weights)
    summary = json.loads((run_dir / "summary.json").read_text())
    reference = json.loads((uninterrupted / "summary.json").read_text())
    assert summary["test"] == reference["test"] and summary["best"] == reference["best"]
    assert Path(summary["best_checkpoint"]).name == "best.ckpt"
    # The killed run's rows are kept, the resumed run's appended after them.
    rows = _csv_rows(run_dir / "csv" / "metrics.csv")
    assert len(rows) > len(rows_before) and rows[: len(rows_before)] == rows_before
    assert {str(e) for e in range(EPOCHS)} <= {r["epoch"] for r in rows if "epoch" in r}


def test_resume_without_a_checkpoint_starts_fresh(coco_root, tmp_path):
    run_dir = tmp_path / "run"
    out = _train([*_overrides(coco_root, run_dir), "resume=true", "trainer.max_epochs=1"])
    assert "resuming" not in out.stdout
    assert _state(run_dir / "checkpoints" / "last.ckpt")[:2] == (0, STEPS_PER_EPOCH)


def test_ckpt_path_resumes_from_any_checkpoint_and_a_bad_one_fails_at_start(
    uninterrupted, coco_root, tmp_path
):
    best = uninterrupted / "checkpoints" / "best.ckpt"
    run_dir = tmp_path / "run"
    argv = _overrides(coco_root, run_dir)
    out = _train([*argv, f"ckpt_path={best}", f"trainer.max_epochs={EPOCHS + 1}"])
    assert f"resuming from {best}" in out.stdout
    epoch, step, _ = _state(run_dir / "checkpoints" / "last.ckpt")
    assert (epoch, step) == (EPOCHS, (EPOCHS + 1) * STEPS_PER_EPOCH)

    weights_only = tmp_path / "weights.pt"
    torch.save({"state_dict": {}}, weights_only)
    for path, message in ((tmp_path / "missing.ckpt", "no checkpoint file"),
                          (weights_only, "not a training checkpoint")):  # fmt: skip
        bad = subprocess.run(
            [sys.executable, "-m", "lite_hrnet.cli.train", *argv, f"ckpt_path={path}"],
            cwd=REPO, env=script_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert (bad.returncode != 0 and f"ckpt_path: {path}" in bad.stderr) or message in bad.stderr
        assert "Traceback" not in bad.stderr


SLOW_SAVE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from lite_hrnet.training.checkpointing import atomic_save

    class Slow:
        def __reduce__(self):
            Path(sys.argv[2]).touch()
            time.sleep(600)
            return (int, (0,))

    atomic_save({"state_dict": {}, "slow": Slow()}, sys.argv[1])
    """
)


def test_a_kill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path):
    folder, tmpdir = tmp_path / "checkpoints", tmp_path / "tmpdir"
    tmpdir.mkdir()
    last = folder / "last.ckpt"
    atomic_save({"global_step": 3, "weight": torch.arange(4.0)}, last)
    marker = tmp_path / "writing"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, str(last), str(marker)],
        env={**script_env(), "TMPDIR": str(tmpdir)},
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    (temp,) = [p for p in folder.iterdir() if TEMP_MARK in p.name]  # the write in progress
    _kill(proc)
    previous = read_checkpoint_file(last)
    assert previous["global_step"] == 3 and torch.equal(previous["weight"], torch.arange(4.0))
    assert not list(tmpdir.iterdir())  # nothing in $TMPDIR
    assert remove_stale_temp_files(folder) == [temp]  # what the next run does at its start
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt"]


def test_a_failed_write_removes_its_temp_file(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    atomic_save({"a": 1}, tmp_path / "last.ckpt")
    with pytest.raises(RuntimeError, match="cannot pickle"):
        atomic_save({"a": Unpicklable()}, tmp_path / "last.ckpt")
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    assert read_checkpoint_file(tmp_path / "last.ckpt") == {"a": 1}


def test_slurm_requeue_signal_saves_requeues_and_resumes(coco_root, tmp_path):
    bin_dir, requeued = tmp_path / "bin", tmp_path / "requeued.txt"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {requeued}\n')
    scontrol.chmod(0o755)
    env = {
        **script_env(),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SLURM_JOB_ID": "4242",
        "SLURM_NTASKS": "1",
        "SLURM_JOB_NAME": "lite-hrnet",
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_NODELIST": "localhost",
    }
    run_dir = tmp_path / "run"
    argv = [*_overrides(coco_root, run_dir), "resume=true"]
    proc = _start_paused(argv, STEPS_PER_EPOCH + 1, tmp_path / "paused", env)
    proc.send_signal(signal.SIGUSR1)  # what SLURM sends before the job's time runs out
    deadline = time.monotonic() + 120
    while not requeued.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    _kill(proc)  # scontrol requeue stops the job
    assert requeued.read_text().split() == ["requeue", "4242"]
    hpc = run_dir / "hpc_ckpt_1.ckpt"
    assert _state(hpc)[1] == STEPS_PER_EPOCH + 1  # saved where the signal came

    out = _train(argv, env)  # the requeued job: the same command
    assert f"resuming from {hpc}" in out.stdout
    assert (run_dir / "summary.json").is_file()
    assert _state(run_dir / "checkpoints" / "last.ckpt")[0] == EPOCHS - 1
