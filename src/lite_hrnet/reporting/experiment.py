"""Experiment reports from a Hydra multirun folder: the command, one table row per job, a plot.

A multirun (``lite-hrnet train -m ...``) writes ``<sweep>/multirun.yaml`` (the task and
Hydra overrides of the command, and the sweeper's parameters) and one folder per job with
``.hydra/overrides.yaml`` (the job's concrete overrides), and then ``summary.json``
(complexity, test metrics, best validation score) when the job finished, or
``failed.json`` (the error) when it failed. ``load_sweep`` reads all of that (the job
folders with ``lite_hrnet.training.jobs``);
``render_report`` turns it into Markdown and ``plot_results`` into a PNG. Only YAML and
JSON are read here: no Hydra, no torch.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..training.jobs import SUMMARY_FILE, JobRecord, collect_jobs, read_yaml

# Test metrics shown, in this order, when a job has them; other keys stay in summary.json.
PREFERRED_METRICS = ("AP", "AP50", "AP75", "AR", "PCKh", "PCKh@0.1", "mIoU", "accuracy")
BEGIN = "<!-- lite-hrnet report: begin (generated; edit outside these markers) -->"
END = "<!-- lite-hrnet report: end -->"


@dataclass
class Sweep:
    """A multirun folder: the overrides of its command and its jobs, by job number."""

    path: Path
    jobs: list[JobRecord]
    task_overrides: list[str] | None  # None without multirun.yaml
    hydra_overrides: list[str]
    sweeper_params: dict[str, str]

    @property
    def swept_keys(self) -> list[str]:
        """Override keys whose values differ between jobs, in command order."""
        keys: list[str] = []
        for job in self.jobs:
            keys.extend(k for k in job.settings if k not in keys)
        return [k for k in keys if len({job.settings.get(k) for job in self.jobs}) > 1]

    @property
    def metric_names(self) -> list[str]:
        names = {k for job in self.jobs for k in job.metrics}
        chosen = [k for k in PREFERRED_METRICS if k in names]
        return chosen or sorted(names)[:6]

    def command(self) -> str:
        """The command that ran the sweep (from ``multirun.yaml``; without it, rebuilt from
        the jobs' overrides, with the values of every key joined as a sweep)."""
        if self.task_overrides is not None:
            args = list(self.task_overrides)
        else:
            values: dict[str, list[str]] = {}
            for job in self.jobs:
                for k, v in job.settings.items():
                    if v not in values.setdefault(k, []):
                        values[k].append(v)
            args = [f"{k}={','.join(v)}" for k, v in values.items()]
        args += [o for o in self.hydra_overrides if o != "hydra.mode=MULTIRUN"]
        return _wrap(["lite-hrnet", "train", "-m", *(shlex.quote(a) for a in args)])


def _wrap(words: list[str], width: int = 88) -> str:
    """Shell words joined into lines of at most ``width`` characters, continued with ``\\``."""
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) > width - 2:
            lines.append("  " + word)
        else:
            lines[-1] += " " + word
    return " \\\n".join(lines)


def load_sweep(path: str | Path) -> Sweep:
    """Read a multirun folder and its job folders (``collect_jobs``)."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"multirun folder not found: {path}")
    jobs = collect_jobs(path)
    if not jobs:
        raise ValueError(
            f"{path}: no job folders (sub-folders with .hydra/ or {SUMMARY_FILE}); give the "
            "folder of a `lite-hrnet train -m` run, e.g. multirun/2026-11-24_10-00-00"
        )
    task, hydra_overrides, params = None, [], {}
    multirun_file = path / "multirun.yaml"
    if multirun_file.is_file():
        hydra_cfg = (read_yaml(multirun_file) or {}).get("hydra") or {}
        overrides = hydra_cfg.get("overrides") or {}
        task = [str(o) for o in overrides.get("task") or []]
        hydra_overrides = [str(o) for o in overrides.get("hydra") or []]
        params = {
            str(k): str(v)
            for k, v in ((hydra_cfg.get("sweeper") or {}).get("params") or {}).items()
        }
    return Sweep(path, jobs, task, hydra_overrides, params)


# ------------------------------------------------------------------------ Markdown


def _number(value: Any, digits: int = 3) -> str:
    if not isinstance(value, int | float) or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def _mega(value: Any, unit: float) -> str:
    return f"{value / unit:.1f}M" if isinstance(value, int | float) else "—"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _name(job: JobRecord) -> str:
    return job.path.name if job.num is None else str(job.num)


def _status(job: JobRecord) -> str:
    if job.status == "ok":
        return "ok (fast_dev_run: no metrics)" if job.summary.get("fast_dev_run") else "ok"
    first = (job.error or "").strip().splitlines()[0] if job.error else ""
    first = first if len(first) <= 80 else first[:77] + "..."
    return f"**{job.status}**: {first}".replace("|", "\\|")


def results_table(sweep: Sweep) -> str:
    """One Markdown row per job: swept values, metrics, complexity, speed, status."""
    keys, metrics = sweep.swept_keys, sweep.metric_names
    head = [
        "job",
        *(f"`{k}`" for k in keys),
        *metrics,
        "params",
        "MACs",
        "paper FLOPs",
        "train img/s",
        "job time",
        "status",
    ]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for job in sweep.jobs:
        c = job.complexity
        params = c.get("params")
        cells = [
            _name(job),
            *(f"`{job.settings.get(k, '')}`" if k in job.settings else "—" for k in keys),
            *(_number(job.metrics.get(m)) for m in metrics),
            f"{params:,}" if isinstance(params, int) else "—",
            _mega(c.get("macs"), 1e6),
            _mega(c.get("paper_flops"), 2**20),
            _number(job.images_per_second, 1),
            _duration(job.seconds),
            _status(job),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def render_block(sweep: Sweep, plot_name: str | None) -> str:
    """The generated part of a report: command, table, plot, failures, column notes."""
    ok = sum(job.status == "ok" for job in sweep.jobs)
    lines = [
        BEGIN,
        "## Command (as run)",
        "",
        "```bash",
        sweep.command(),
        "```",
        "",
    ]
    if sweep.task_overrides is None:
        lines += [
            f"(`{sweep.path}` has no multirun.yaml: the command above is rebuilt from the "
            "jobs' overrides.)",
            "",
        ]
    if sweep.sweeper_params:
        swept = ", ".join(f"`{k}={v}`" for k, v in sweep.sweeper_params.items())
        lines += [f"Swept by the config's `hydra.sweeper.params`: {swept}.", ""]
    lines += [
        "## Results",
        "",
        f"{len(sweep.jobs)} jobs, {ok} finished (`lite-hrnet report {sweep.path}`).",
        "",
        results_table(sweep),
        "",
    ]
    if plot_name:
        lines += [f"![results]({plot_name})", ""]
    failed = [job for job in sweep.jobs if job.status != "ok"]
    if failed:
        lines += ["Jobs that did not finish:", ""]
        for job in failed:
            lines += [f"- job {_name(job)} (`{job.path}`): {job.status}", "", "  ```"]
            lines += [f"  {line}" for line in (job.error or "").strip().splitlines()]
            lines += ["  ```", ""]
    lines += [
        "Columns: the overrides that differ between jobs; the test metrics of each job's "
        "best checkpoint (`summary.json`; the best validation score when the job had no "
        "test); parameters, conv MACs and the paper's FLOPs (2^20 units) of the trained "
        "model at its input size; training images/s over the fit, all devices together "
        "(`summary.json` `train_images_per_second` or the `train/images_per_second` "
        "column of `csv/metrics.csv`); the job's wall time from its file times (start "
        "to summary, setup and evaluation included).",
        END,
    ]
    return "\n".join(lines)


def render_report(
    sweep: Sweep, title: str | None, question: str | None, plot_name: str | None
) -> str:
    """A whole README: title, question and the generated block."""
    lines = [f"# {title or sweep.path.name}", ""]
    if question:
        lines += [f"**Question.** {question}", ""]
    return "\n".join([*lines, render_block(sweep, plot_name), ""])


# ------------------------------------------------------------------------ plot


def plot_results(
    sweep: Sweep,
    path: str | Path,
    metric: str | None = None,
    color_key: str | None = None,
    title: str | None = None,
) -> Path | None:
    """The metric against paper FLOPs (and against training img/s when every job has it).

    Colour: the values of ``color_key`` (default: the first swept key); marker: the next
    swept key; any further swept values label the points. None when no job finished with
    the metric.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    metric = metric or (sweep.metric_names or [None])[0]
    jobs = [
        j
        for j in sweep.jobs
        if j.status == "ok"
        and metric in j.metrics
        and isinstance(j.complexity.get("paper_flops"), int | float)
    ]
    if not metric or not jobs:
        return None
    keys = sweep.swept_keys
    if color_key is not None and color_key not in keys:
        raise ValueError(f"--color {color_key!r} is not a swept key; swept: {keys or 'none'}")
    color_key = color_key or (keys[0] if keys else None)
    rest = [k for k in keys if k != color_key]
    marker_key, label_keys = (rest[0], rest[1:]) if rest else (None, [])
    colors = _levels(jobs, color_key)
    markers = _levels(jobs, marker_key)
    with_speed = all(j.images_per_second is not None for j in jobs)
    fig = Figure(figsize=(11 if with_speed else 6.5, 4.5), layout="constrained")
    axes = fig.subplots(1, 2 if with_speed else 1, squeeze=False)[0]
    xs = [("paper FLOPs (M, 2^20 units)", lambda j: j.complexity["paper_flops"] / 2**20)]
    if with_speed:
        xs.append(("training images/s", lambda j: j.images_per_second))
    tested = all(isinstance(j.summary.get("test"), dict) for j in jobs)
    for ax, (xlabel, xf) in zip(axes, xs):
        for j in jobs:
            x, y = xf(j), j.metrics[metric]
            ax.scatter(
                [x],
                [y],
                color=f"C{colors[j.settings.get(color_key, '')] % 10}",
                marker="os^Dv<>p*h"[markers[j.settings.get(marker_key, "")] % 10],
                s=45,
            )
            text = " ".join(j.settings.get(k, "") for k in label_keys)
            if text:
                ax.annotate(text, (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{'test' if tested else 'best val'} {metric}")
        ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=f"C{i % 10}", marker="o", ls="", label=f"{color_key}={v}")
        for v, i in colors.items()
        if color_key
    ] + [
        Line2D([], [], color="grey", marker="os^Dv<>p*h"[i % 10], ls="", label=f"{marker_key}={v}")
        for v, i in markers.items()
        if marker_key
    ]
    if handles:
        axes[0].legend(handles=handles, fontsize=8)
    title = (title or sweep.path.name) + (
        f" (labels: {' '.join(label_keys)})" if label_keys else ""
    )
    fig.suptitle(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _levels(jobs: list[JobRecord], key: str | None) -> dict[str, int]:
    """Each value of ``key`` among the jobs -> its index, in job order."""
    levels: dict[str, int] = {}
    for job in jobs:
        levels.setdefault(job.settings.get(key, "") if key else "", len(levels))
    return levels


# ------------------------------------------------------------------------ writing


def write_report(
    sweep_dir: str | Path,
    out: str | Path | None = None,
    title: str | None = None,
    question: str | None = None,
    plot_name: str = "results.png",
    metric: str | None = None,
    color_key: str | None = None,
) -> tuple[Path, Path | None]:
    """Write the README (default ``<sweep>/README.md``) and the plot next to it.

    When ``out`` exists and holds the report markers, only the text between them is
    replaced, so a hand-written question and design around them stay. Returns the paths.
    """
    sweep = load_sweep(sweep_dir)
    out = Path(out) if out is not None else sweep.path / "README.md"
    if metric is not None and metric not in sweep.metric_names:
        names = sorted({k for j in sweep.jobs for k in j.metrics})
        raise ValueError(f"--metric {metric!r}: the jobs report {names or 'no metrics'}")
    png = plot_results(sweep, out.parent / plot_name, metric, color_key, title)
    plot_ref = png.name if png is not None else None
    if out.is_file() and BEGIN in (text := out.read_text()) and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        out.write_text(before + render_block(sweep, plot_ref) + after)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_report(sweep, title, question, plot_ref))
    return out, png
