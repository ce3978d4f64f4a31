"""What every training job leaves in its folder, and the table of a sweep's jobs.

A job that finishes writes ``summary.json`` (``training.run_training``: complexity, the
monitored value, the best checkpoint, test metrics); a job that fails writes
``failed.json`` (``write_failure``: the error, its traceback and the job's overrides).
``collect_jobs`` reads both back from every job folder of a sweep.
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUMMARY_FILE = "summary.json"
FAILURE_FILE = "failed.json"


def write_failure(
    output_dir: str | os.PathLike[str], error: BaseException, overrides: Sequence[str] = ()
) -> Path:
    """Record ``error`` in ``output_dir/failed.json`` and say so on stderr; returns the file."""
    path = Path(output_dir) / FAILURE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "status": "failed",
        "error": f"{type(error).__name__}: {error}",
        "traceback": "".join(traceback.format_exception(error)),
        "overrides": list(overrides),
    }
    path.write_text(json.dumps(record, indent=2))
    print(f"lite-hrnet train: job failed ({record['error']}); see {path}", file=sys.stderr)
    return path


@dataclass
class JobRecord:
    """One job folder: ``status`` is ok, failed or unfinished (neither file: still running,
    or killed)."""

    path: Path
    status: str
    overrides: list[str] = field(default_factory=list)
    monitor: str | None = None
    value: float | None = None
    error: str | None = None


def _overrides(job_dir: Path) -> list[str]:
    file = job_dir / ".hydra" / "overrides.yaml"
    if not file.is_file():
        return []
    import yaml

    return [str(v) for v in yaml.safe_load(file.read_text()) or []]


def read_job(job_dir: str | os.PathLike[str]) -> JobRecord:
    """The record of one job folder, from its ``summary.json`` or ``failed.json``."""
    job_dir = Path(job_dir)
    if (job_dir / FAILURE_FILE).is_file():
        failure = json.loads((job_dir / FAILURE_FILE).read_text())
        overrides = failure.get("overrides") or _overrides(job_dir)
        return JobRecord(job_dir, "failed", overrides, error=failure.get("error"))
    if (job_dir / SUMMARY_FILE).is_file():
        summary = json.loads((job_dir / SUMMARY_FILE).read_text())
        return JobRecord(
            job_dir, "ok", _overrides(job_dir), summary.get("monitor"), summary.get("best")
        )
    return JobRecord(job_dir, "unfinished", _overrides(job_dir))


def collect_jobs(sweep_dir: str | os.PathLike[str]) -> list[JobRecord]:
    """Every job folder of a Hydra sweep (subfolders with a ``.hydra/`` or a record), in
    job-number order."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        return []
    dirs = [
        d
        for d in sweep_dir.iterdir()
        if d.is_dir() and any((d / n).exists() for n in (".hydra", SUMMARY_FILE, FAILURE_FILE))
    ]
    dirs.sort(key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
    return [read_job(d) for d in dirs]


def format_jobs(records: Sequence[JobRecord]) -> str:
    """A text table: job folder, status, monitored value (or the error), and the overrides
    that differ between the jobs (those shared by all are listed once, first)."""
    shared: set[str] = set()
    if len(records) > 1:
        shared = set.intersection(*(set(r.overrides) for r in records))
    lines = []
    if shared:
        lines.append("shared: " + " ".join(o for o in records[0].overrides if o in shared))
    for r in records:
        if r.status == "ok":
            shown = "-" if r.value is None or math.isnan(r.value) else f"{r.value:.4f}"
            result = f"{r.monitor or 'value'} {shown}"
        elif r.status == "failed":
            result = r.error or "failed"
        else:
            result = "no summary.json or failed.json"
        own = " ".join(o for o in r.overrides if o not in shared)
        lines.append(f"{r.path.name:>4}  {r.status:<10}  {result}  [{own}]")
    failed = sum(r.status != "ok" for r in records)
    lines.append(f"{len(records)} jobs, {len(records) - failed} ok, {failed} failed or unfinished")
    return "\n".join(lines)
