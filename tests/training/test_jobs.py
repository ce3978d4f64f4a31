"""Failed jobs: recorded in failed.json, a single run exits non-zero, a sweep (basic
launcher, Optuna) goes on with its other jobs and reports the failures at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lite_hrnet.training.jobs import (
    collect_jobs,
    format_jobs,
    read_job,
    record_rank_failure,
    write_failure,
)
from tests.support import pose_overrides, run_cli
from tests.training.test_loggers import wandb_records


def _sweeping_width(root: Path) -> list[str]:
    return [o for o in pose_overrides(root) if not o.startswith("model.width=")]


TINY_FIT = ["debug=limit", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=4", "trainer.limit_test_batches=4"]  # fmt: skip


@pytest.mark.slow
def test_a_failed_single_run_exits_non_zero_and_records_why(coco_root, tmp_path, capsys):
    out = tmp_path / "run"
    code = run_cli(["train", *pose_overrides(coco_root), "model.width=-1",
                    f"hydra.run.dir={out}"])  # fmt: skip
    assert code == 2  # a clear error: one line, as eval and predict print it
    failure = json.loads((out / "failed.json").read_text())
    assert "width: must be a positive number" in failure["error"]
    assert "Traceback" in failure["traceback"] and "model.width=-1" in failure["overrides"]
    err = capsys.readouterr().err
    assert "job failed" in err and "Traceback" not in err
    assert not (out / "summary.json").exists()


@pytest.mark.slow
def test_a_sweep_goes_on_past_a_failed_job(coco_root, tmp_path, capsys):
    """Three jobs in one process: two succeed, each with its own wandb run in the sweep's
    group, and the failure between them is recorded and reported."""
    sweep = tmp_path / "sweep"
    code = run_cli(["train", "-m", *_sweeping_width(coco_root), *TINY_FIT, "logger=wandb",
                    "model.width=0.5,-1,0.25", f"hydra.sweep.dir={sweep}"])  # fmt: skip
    assert code == 1  # the sweep finished, with a failure
    jobs = collect_jobs(sweep)
    assert [j.status for j in jobs] == ["ok", "failed", "ok"]
    assert "width: must be a positive number" in jobs[1].error
    assert jobs[0].monitor == "val/AP" and 0 <= jobs[0].value <= 1
    assert "model.width=-1" in jobs[1].overrides
    captured = capsys.readouterr()
    assert "3 jobs, 2 ok, 1 failed" in captured.out
    assert "1 of 3 jobs failed" in captured.err
    for job in (jobs[0], jobs[2]):
        (run,) = job.path.glob("wandb/offline-run-*")  # wandb.finish() between the jobs
        records = wandb_records(run)
        assert records["run"].run.run_group == "sweep"
        assert records["run"].run.display_name == f"sweep/{job.path.name}"
        assert records["exit"].exit.exit_code == 0


@pytest.mark.slow
def test_optuna_marks_a_failed_trial_failed_and_goes_on(coco_root, tmp_path):
    sweep = tmp_path / "optuna"
    # Random sampling with this seed draws both widths (optuna 2.10); the job returns None
    # for the failed one. (Not the grid sampler: it raises when its last trial fails.)
    code = run_cli(["train", "-m", *_sweeping_width(coco_root), *TINY_FIT, "logger=none",
                    "hydra/sweeper=optuna", "hydra/sweeper/sampler=random",
                    "hydra.sweeper.sampler.seed=0", "hydra.sweeper.direction=maximize",
                    "hydra.sweeper.n_trials=2",
                    "model.width=-1,0.5",
                    f"hydra.sweep.dir={sweep}"])  # fmt: skip
    assert code == 1
    jobs = {j.status: j for j in collect_jobs(sweep)}
    assert set(jobs) == {"ok", "failed"}
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert result["best_params"] == {"model.width": 0.5}
    assert result["best_value"] == jobs["ok"].value


def test_records_of_unfinished_jobs(tmp_path: Path) -> None:
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text("- model.width=0.5\n")
    (tmp_path / "10").mkdir()
    (tmp_path / "10" / "summary.json").write_text('{"monitor": "val/AP", "best": 0.5}')
    (tmp_path / "2").mkdir()
    (tmp_path / "not_a_job").mkdir()
    jobs = collect_jobs(tmp_path)
    assert [j.path.name for j in jobs] == ["0", "10"]
    assert read_job(tmp_path / "0").status == "unfinished"
    text = format_jobs(jobs)
    assert "model.width=0.5" in text and "val/AP 0.5000" in text
    assert "2 jobs, 1 ok, 1 failed or unfinished" in text


def test_the_rank_that_failed_first_is_the_one_reported(tmp_path, capsys):
    def error(text: str) -> RuntimeError:
        try:
            raise RuntimeError(text)
        except RuntimeError as e:
            return e

    record_rank_failure(tmp_path, 1, error("out of memory on rank 1"))
    record_rank_failure(tmp_path, 0, error("Connection closed by peer"))  # later
    write_failure(tmp_path, error("Connection closed by peer"), ["a=1"])
    failed = json.loads((tmp_path / "failed.json").read_text())
    assert failed["error"] == "RuntimeError: out of memory on rank 1" and failed["rank"] == 1
    assert failed["rank_0_error"] == "RuntimeError: Connection closed by peer"
    assert "out of memory on rank 1" in failed["traceback"]
    assert "job failed on rank 1 (RuntimeError: out of memory on rank 1)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["failed.json"]
    assert read_job(tmp_path).error == "RuntimeError: out of memory on rank 1"
