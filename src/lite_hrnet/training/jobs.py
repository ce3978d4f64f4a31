"""What every training job leaves in its folder, read back by the end-of-sweep table
(``format_jobs``) and by ``lite-hrnet report``.

A Hydra job folder holds ``.hydra/overrides.yaml`` (the job's overrides), and then
``summary.json`` when the job finished (``training.run_training``: complexity, the
monitored value, the best checkpoint, test metrics) or ``failed.json`` when it failed
(``write_failure``: the error, its traceback and the job's overrides). ``read_job`` reads
one folder, ``collect_jobs`` every job folder of a sweep.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SUMMARY_FILE = "summary.json"
FAILURE_FILE = "failed.json"
# The training speed: ``summary.json`` key, else the metric in ``csv/metrics.csv``
# (both written with ``lite_hrnet.training.callbacks.TrainingThroughput``).
SPEED_KEY = "train_images_per_second"
SPEED_METRIC = "train/images_per_second"


RANK_FAILURE_PATTERN = ".failed-rank-*.json"  # one DDP rank's error, for rank 0 to report


def _describe(error: BaseException) -> dict[str, Any]:
    return {
        "error": f"{type(error).__name__}: {error}",
        "traceback": "".join(traceback.format_exception(error)),
    }


def record_rank_failure(
    output_dir: str | os.PathLike[str], rank: int, error: BaseException
) -> None:
    """Keep one DDP rank's error, with the time it was caught, in ``output_dir`` (rank 0
    reports the earliest: when a rank fails, the others fail after it, in their
    collectives, with "Connection closed by peer")."""
    path = Path(output_dir) / RANK_FAILURE_PATTERN.replace("*", str(rank))
    record = {"rank": rank, "time": time.time(), **_describe(error)}
    with contextlib.suppress(OSError):  # a courtesy: the error itself goes on regardless
        path.write_text(json.dumps(record, indent=2))


def clear_rank_failures(output_dir: str | os.PathLike[str]) -> None:
    """Remove what an earlier run in ``output_dir`` left (its ``failed.json``, its ranks'
    records): a rerun or a resume writes its own."""
    folder = Path(output_dir)
    for path in [folder / FAILURE_FILE, *folder.glob(RANK_FAILURE_PATTERN)]:
        path.unlink(missing_ok=True)


def _first_rank_failure(output_dir: Path) -> dict[str, Any] | None:
    records = []
    for path in output_dir.glob(RANK_FAILURE_PATTERN):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and isinstance(record.get("time"), int | float):
            records.append(record)
        path.unlink(missing_ok=True)
    return min(records, key=lambda r: r["time"]) if records else None


def write_failure(
    output_dir: str | os.PathLike[str],
    error: BaseException,
    overrides: Sequence[str] = (),
    interrupt: Mapping[str, Any] | None = None,
) -> Path:
    """Record ``error`` in ``output_dir/failed.json`` and say so on stderr; returns the file.

    Under DDP the error recorded first by any rank is the cause (``record_rank_failure``):
    it is the one reported, with its rank, and this process's own error is kept beside it.
    ``interrupt``: the signal that ended the run (``signal``, ``exit_code``,
    ``last_checkpoint``), recorded as such.
    """
    output_dir = Path(output_dir)
    path = output_dir / FAILURE_FILE
    record: dict[str, Any] = {"status": "failed", **_describe(error)}
    first = _first_rank_failure(output_dir)
    if interrupt is not None:
        record.update(interrupt)
    elif first is not None and first.get("rank") != 0:
        record["rank_0_error"] = record["error"]
        record.update(error=first["error"], traceback=first["traceback"], rank=first["rank"])
    record["overrides"] = list(overrides)
    rank = f" on rank {record['rank']}" if "rank" in record else ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2))
    except OSError as write_error:  # a full disk or a read-only folder: say it here instead
        print(
            f"lite-hrnet train: job failed{rank} ({record['error']}); {path} not written "
            f"({write_error.strerror or write_error})",
            file=sys.stderr,
        )
        return path
    print(f"lite-hrnet train: job failed{rank} ({record['error']}); see {path}", file=sys.stderr)
    return path


@dataclass
class JobRecord:
    """One job folder: ``status`` is ok, failed or unfinished (neither file: still running,
    or killed)."""

    path: Path
    num: int | None  # Hydra's job number: the folder's name, else .hydra/hydra.yaml
    status: str
    overrides: list[str] = field(default_factory=list)  # as in .hydra/overrides.yaml
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float | None = None  # job wall time, from file times

    @property
    def monitor(self) -> str | None:
        return self.summary.get("monitor")

    @property
    def value(self) -> float | None:
        """The best monitored value."""
        return self.summary.get("best")

    @property
    def settings(self) -> dict[str, str]:
        """The overrides as key -> value."""
        return {k: v for k, _, v in (o.partition("=") for o in self.overrides)}

    @property
    def metrics(self) -> dict[str, float]:
        """Test metrics; without a test (``test_after_fit=false``) the best validation score."""
        test = self.summary.get("test")
        if isinstance(test, dict) and test:
            return {k: v for k, v in test.items() if isinstance(v, int | float)}
        return {
            k.split("/")[-1]: v
            for k, v in self.summary.items()
            if k.startswith("best_") and k != "best_checkpoint" and isinstance(v, int | float)
        }

    @property
    def complexity(self) -> dict[str, int]:
        value = self.summary.get("complexity")
        return value if isinstance(value, dict) else {}

    @property
    def images_per_second(self) -> float | None:
        value = self.summary.get(SPEED_KEY)
        if isinstance(value, int | float):
            return float(value)
        return _last_csv_value(self.path / "csv" / "metrics.csv", SPEED_METRIC)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {e}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e.msg} at line {e.lineno}") from None


def _error_text(failed: Any) -> str:
    """The error of a ``failed.json``: its ``error`` (or ``message``/``exception``) field,
    with the exception type when given."""
    if isinstance(failed, dict):
        for key in ("error", "message", "exception"):
            if failed.get(key):
                text = str(failed[key])
                kind = failed.get("type") or failed.get("error_type")
                return f"{kind}: {text}" if kind and not text.startswith(str(kind)) else text
        if failed.get("traceback"):
            return str(failed["traceback"]).strip().splitlines()[-1]
    return json.dumps(failed) if not isinstance(failed, str) else failed


def _last_csv_value(path: Path, column: str) -> float | None:
    """The last non-empty value of ``column`` in a Lightning ``metrics.csv``."""
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        values = [row[column] for row in csv.DictReader(f) if row.get(column)]
    try:
        return float(values[-1]) if values else None
    except ValueError:
        raise ValueError(f"{path}: column {column!r} holds {values[-1]!r}, not a number") from None


def _job_number(job_dir: Path) -> int | None:
    if job_dir.name.isdigit():
        return int(job_dir.name)
    hydra_file = job_dir / ".hydra" / "hydra.yaml"
    if hydra_file.is_file():
        num = (((read_yaml(hydra_file) or {}).get("hydra") or {}).get("job") or {}).get("num")
        if isinstance(num, int):
            return num
    return None


def read_job(job_dir: str | os.PathLike[str]) -> JobRecord:
    """The record of one job folder, from its ``summary.json`` or ``failed.json``."""
    job_dir = Path(job_dir)
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = read_yaml(overrides_file) if overrides_file.is_file() else []
    if not isinstance(overrides, list):
        raise ValueError(f"{overrides_file}: expected a list of overrides")
    job = JobRecord(job_dir, _job_number(job_dir), "ok", [str(o) for o in overrides])
    summary_file, failure_file = job_dir / SUMMARY_FILE, job_dir / FAILURE_FILE
    if failure_file.is_file():
        failure, end_file = _read_json(failure_file), failure_file
        job.status, job.error = "failed", _error_text(failure)
        if not job.overrides and isinstance(failure, dict):
            job.overrides = [str(o) for o in failure.get("overrides") or []]
    elif summary_file.is_file():
        job.summary, end_file = _read_json(summary_file), summary_file
        if not isinstance(job.summary, dict):
            raise ValueError(f"{summary_file}: expected a JSON object")
    else:
        job.status, job.error = "unfinished", f"no {SUMMARY_FILE} or {FAILURE_FILE}"
        return job
    start_file = job_dir / ".hydra" / "config.yaml"
    if start_file.is_file():
        seconds = end_file.stat().st_mtime - start_file.stat().st_mtime
        job.seconds = seconds if seconds >= 0 else None
    return job


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
    jobs = [read_job(d) for d in dirs]
    return sorted(jobs, key=lambda j: (j.num is None, j.num or 0, j.path.name))


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
        else:
            result = r.error or r.status
        own = " ".join(o for o in r.overrides if o not in shared)
        lines.append(f"{r.path.name:>4}  {r.status:<10}  {result}  [{own}]")
    failed = sum(r.status != "ok" for r in records)
    lines.append(f"{len(records)} jobs, {len(records) - failed} ok, {failed} failed or unfinished")
    return "\n".join(lines)
