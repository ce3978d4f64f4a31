"""A Hydra callback that ends every multirun with a table of its jobs (``train.yaml``
registers it), so that failed jobs are seen; ``lite-hrnet train -m`` then exits 1."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from ..training.jobs import collect_jobs, format_jobs


class SweepReport(Callback):
    """Prints one line per job of the finished sweep, from the jobs' ``summary.json`` and
    ``failed.json``."""

    failed: ClassVar[int] = 0  # failed or unfinished jobs of the latest multirun here

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        SweepReport.failed = report_sweep(config.hydra.sweep.dir)


def report_sweep(sweep_dir: str) -> int:
    """Print the table of the sweep's jobs; returns how many failed or did not finish."""
    records = collect_jobs(sweep_dir)
    print(f"sweep {sweep_dir}:\n{format_jobs(records)}", flush=True)
    failed = sum(r.status != "ok" for r in records)
    if failed:
        print(
            f"lite-hrnet train: {failed} of {len(records)} jobs failed "
            f"(each has a failed.json with its traceback) in {sweep_dir}",
            file=sys.stderr,
        )
    return failed
