"""Sweeps through the launcher plugins: every job in its own process, to completion, from
an empty data cache (the first sweep on a new machine generates its data inside the jobs)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from lite_hrnet.training.jobs import collect_jobs
from tests.support import pose_overrides, run_cli, script_env

pytestmark = pytest.mark.slow  # sweeps through the launchers, in processes


@pytest.mark.parametrize("launcher", ["basic", "submitit_local", "joblib"])
def test_two_job_sweep_through_a_launcher(launcher, tmp_path, monkeypatch, capfd) -> None:
    monkeypatch.setenv("PYTHONPATH", script_env()["PYTHONPATH"])  # for the job processes
    # A sweep switches DataLoader workers to forkserver; the basic launcher does so here.
    start_method = multiprocessing.get_start_method()
    sweep = tmp_path / "sweep"
    # An empty data folder: the jobs generate it (under joblib two at once) with the start
    # method the sweep set.
    empty = tmp_path / "coco"
    overrides = [o for o in pose_overrides(empty) if not o.startswith("model.width=")]
    # One DataLoader worker per job: a loky process, and the basic launcher's process on
    # its second job, must still start it.
    code = run_cli(["train", "-m", f"hydra/launcher={launcher}", *overrides,
                    "data.num_workers=1", "debug=fast_dev_run", "logger=none",
                    "model.width=0.5,0.25",
                    f"hydra.sweep.dir={sweep}"])  # fmt: skip
    multiprocessing.set_start_method(start_method, force=True)
    assert code == 0, capfd.readouterr().err[-3000:]
    assert "2 jobs, 2 ok, 0 failed" in capfd.readouterr().out  # the sweep table
    jobs = collect_jobs(sweep)
    assert [j.path.name for j in jobs] == ["0", "1"]
    assert all(j.status == "ok" for j in jobs)
    params = [json_params(j.path) for j in jobs]
    assert params[0] > params[1]  # each job built its own width
    if launcher == "submitit_local":  # the jobs ran through submitit, logs included
        assert list((sweep / ".submitit").rglob("*_log.out"))
    assert os.environ.get("LOCAL_RANK") is None


def json_params(job_dir: Path) -> int:
    import json

    return json.loads((job_dir / "summary.json").read_text())["complexity"]["params"]
