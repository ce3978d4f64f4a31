"""Runs ended by a signal or by one DDP rank: the exit status says so (128 + N for signal
N), ``failed.json`` names the signal and the checkpoint to resume from, a sweep ends with
its table, and a DDP job reports the rank that failed first, not rank 0's broken pipe.

The runs are ``lite-hrnet train`` processes on the tiny generated COCO set, sent real
signals. A ``sitecustomize`` module on the children's path pauses the training step at a
given global step (and says so with a marker file per rank), or makes one rank fail, in
every process of the run, DDP ranks included.
"""

from __future__ import annotations

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
import torch.distributed as dist

from lite_hrnet.training.interrupts import RunInterrupted, raise_on_signals
from tests.support import pose_overrides, script_env

pytestmark = pytest.mark.timeout(600)

STEPS_PER_EPOCH = 2

SITECUSTOMIZE = textwrap.dedent(
    """
    import os

    if os.environ.get("PAUSE_AT_STEP") or os.environ.get("FAIL_ON_RANK"):
        import time
        from pathlib import Path

        from lite_hrnet.tasks.pose import PoseEstimationModule

        step = PoseEstimationModule.training_step

        def patched_step(self, batch, batch_idx):
            if os.environ.get("FAIL_ON_RANK") == str(self.global_rank):
                raise RuntimeError(f"rank {self.global_rank} broke on purpose")
            pause_at = int(os.environ.get("PAUSE_AT_STEP") or -1)
            if pause_at >= 0 and self.global_step >= pause_at:
                Path(os.environ["PAUSE_MARKER"] + f".{self.global_rank}").touch()
                time.sleep(600)
            return step(self, batch, batch_idx)

        PoseEstimationModule.training_step = patched_step
    """
)


def test_a_signal_raises_run_interrupted_and_the_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunInterrupted) as stop, raise_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs before this returns
    assert stop.value.exit_code == 143 and stop.value.signal_name == "SIGTERM"
    assert str(stop.value) == "interrupted by SIGTERM (signal 15)"
    assert signal.getsignal(signal.SIGTERM) is before


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    hooks = tmp_path / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = script_env()
    return {**env, "PYTHONPATH": f"{hooks}{os.pathsep}{env['PYTHONPATH']}", **extra}


def _overrides(coco_root: Path) -> list[str]:
    return [
        *pose_overrides(coco_root),
        "trainer.max_epochs=3",
        f"trainer.limit_train_batches={STEPS_PER_EPOCH}",
        "trainer.limit_val_batches=1",
        "trainer.check_val_every_n_epoch=1",
        "trainer.num_sanity_val_steps=0",
        "test_after_fit=false",
        "logger=csv",
    ]


def _ended(proc: subprocess.Popen, timeout: float = 120) -> int:
    """The exit status; a run still there after ``timeout`` is killed with its children."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        raise


def _start_paused(argv: list[str], tmp_path: Path, pause_at: int, ranks: int = 1):
    """``lite-hrnet train ARGV`` paused at global step ``pause_at`` on every rank."""
    marker = tmp_path / "paused"
    env = _env(tmp_path, PAUSE_AT_STEP=str(pause_at), PAUSE_MARKER=str(marker))
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115  # closed with the process
    script = Path(sys.executable).with_name("lite-hrnet")
    proc = subprocess.Popen(
        [str(script), "train", *argv], cwd=tmp_path, env=env, stdout=log, stderr=log, text=True
    )
    deadline = time.monotonic() + 400
    while not all(Path(f"{marker}.{r}").exists() for r in range(ranks)):
        assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the run did not reach the pause"
        time.sleep(0.2)
    return proc


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["TERM", "INT", "HUP"]
)
def test_a_signal_gives_128_plus_n_and_a_failed_json(signum, coco_root, tmp_path):
    run_dir = tmp_path / "run"
    argv = [*_overrides(coco_root), f"hydra.run.dir={run_dir}"]
    proc = _start_paused(argv, tmp_path, STEPS_PER_EPOCH + 1)  # epoch 0 saved, in epoch 1
    os.kill(proc.pid, signum)
    assert _ended(proc) == 128 + signum
    log = (tmp_path / "run.log").read_text()
    failed = json.loads((run_dir / "failed.json").read_text())
    last = run_dir / "checkpoints" / "last.ckpt"
    assert failed["signal"] == signal.Signals(signum).name
    assert failed["exit_code"] == 128 + signum
    assert failed["last_checkpoint"] == str(last)
    assert f"interrupted by {signal.Signals(signum).name}" in failed["error"]
    assert f"last checkpoint {last}" in log and "resume=true" in log
    assert not (run_dir / "summary.json").exists()


@pytest.mark.slow
@pytest.mark.ddp
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
def test_sigterm_under_ddp_stops_every_rank_with_143(coco_root, tmp_path):
    run_dir = tmp_path / "run"
    argv = [*_overrides(coco_root), "trainer=ddp_cpu", f"hydra.run.dir={run_dir}"]
    proc = _start_paused(argv, tmp_path, STEPS_PER_EPOCH + 1, ranks=2)
    ranks = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGTERM)
    assert _ended(proc) == 128 + signal.SIGTERM
    _gone, alive = psutil.wait_procs(ranks, timeout=60)
    assert not alive, [p.cmdline() for p in alive]
    failed = json.loads((run_dir / "failed.json").read_text())
    assert failed["signal"] == "SIGTERM" and failed["exit_code"] == 143
    assert failed["last_checkpoint"] == str(run_dir / "checkpoints" / "last.ckpt")


@pytest.mark.slow
def test_sigterm_during_the_first_job_ends_the_sweep_with_its_table(coco_root, tmp_path):
    sweep = tmp_path / "sweep"
    overrides = [o for o in _overrides(coco_root) if not o.startswith("model.width=")]
    argv = ["-m", *overrides, "model.width=0.5,0.25", f"hydra.sweep.dir={sweep}"]
    proc = _start_paused(argv, tmp_path, 1)
    os.kill(proc.pid, signal.SIGTERM)
    assert _ended(proc) == 143
    log = (tmp_path / "run.log").read_text()
    assert f"sweep {sweep}:" in log and "1 jobs, 0 ok, 1 failed or unfinished" in log
    assert "interrupted by SIGTERM" in log and "later jobs were not started" in log
    assert json.loads((sweep / "0" / "failed.json").read_text())["signal"] == "SIGTERM"
    assert not (sweep / "1").exists()


@pytest.mark.slow
@pytest.mark.ddp
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
def test_a_ddp_failure_records_the_rank_that_failed_first(coco_root, tmp_path):
    run_dir = tmp_path / "run"
    argv = [*_overrides(coco_root), "trainer=ddp_cpu", f"hydra.run.dir={run_dir}"]
    script = Path(sys.executable).with_name("lite-hrnet")
    out = subprocess.run(
        [str(script), "train", *argv], cwd=tmp_path, env=_env(tmp_path, FAIL_ON_RANK="1"),
        capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert out.returncode != 0
    failed = json.loads((run_dir / "failed.json").read_text())
    assert failed["error"] == "RuntimeError: rank 1 broke on purpose", failed
    assert failed["rank"] == 1 and "patched_step" in failed["traceback"]
    assert "rank 1 broke on purpose" in out.stderr
    assert not list(run_dir.glob(".failed-rank-*"))
