"""``lite-hrnet report``: a multirun folder written here in Hydra's and the training run's
formats (.hydra/*.yaml, multirun.yaml, summary.json, failed.json, csv/metrics.csv) gives
the expected README table, command and plot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from lite_hrnet.cli.main import main as cli
from lite_hrnet.reporting.experiment import BEGIN, END, load_sweep, results_table, write_report

T0 = 1_700_000_000.0
TASK = [
    "experiment=ablation_synthetic_coco",
    "model.width=0.5,1.0",
    "data.input_size=[128,96],[160,128]",
]


def _job(sweep: Path, num: int, width: str, size: str) -> Path:
    """A job folder as Hydra leaves it before the task runs (start time T0 + 1000 num)."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    overrides = [
        "experiment=ablation_synthetic_coco",
        f"model.width={width}",
        f"data.input_size={size}",
    ]
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / ".hydra" / "config.yaml").write_text(
        yaml.safe_dump({"seed": 42, "model": {"width": float(width)}})
    )
    (job / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"num": num}}}))
    start = T0 + 1000 * num
    os.utime(job / ".hydra" / "config.yaml", (start, start))
    return job


def _finish(job: Path, name: str, content: object, seconds: float) -> None:
    (job / name).write_text(json.dumps(content))
    end = T0 + 1000 * int(job.name) + seconds
    os.utime(job / name, (end, end))


def _summary(params: int, macs: int, paper_flops: int, ap: float, ap50: float, **extra) -> dict:
    return {
        "complexity": {"params": params, "macs": macs, "paper_flops": paper_flops},
        "best_checkpoint": "checkpoints/best.ckpt",
        "test": {"AP": ap, "AP50": ap50},
        "best_val/AP": ap,
        **extra,
    }


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """Four jobs: two finished (speed in summary.json / in metrics.csv), one failed, one
    that never wrote anything."""
    sweep = tmp_path / "multirun" / "2026-11-24_10-00-00"
    hydra = {
        "overrides": {
            "hydra": ["hydra.sweep.dir=multirun/abl", "hydra.mode=MULTIRUN"],
            "task": TASK,
        },
        "sweeper": {"params": None},
        "mode": "MULTIRUN",
    }
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text(yaml.safe_dump({"hydra": hydra, "seed": 42}))
    job = _job(sweep, 0, "0.5", "[128,96]")
    summary = _summary(
        175_469, 12_345_678, 14_889_779, 0.6123, 0.9008, train_images_per_second=50.04
    )
    _finish(job, "summary.json", summary, 90)
    job = _job(sweep, 1, "0.5", "[160,128]")
    _finish(job, "summary.json", _summary(175_469, 20_600_000, 24_746_394, 0.655, 0.92), 600)
    (job / "csv").mkdir()
    (job / "csv" / "metrics.csv").write_text(
        "epoch,step,train/images_per_second,train/loss\n"
        "0,9,,0.002\n0,39,30.0,\n1,49,,0.001\n1,79,31.26,\n"
    )
    job = _job(sweep, 2, "1.0", "[128,96]")
    failure = {
        "status": "failed",
        "error": "RuntimeError: out of memory | what a pipe",
        "traceback": "Traceback (most recent call last):\n  ...\nRuntimeError: out of memory",
        "overrides": ["model.width=1.0"],
    }
    _finish(job, "failed.json", failure, 45)
    _job(sweep, 3, "1.0", "[160,128]")
    return sweep


def test_table(sweep: Path) -> None:
    expected = """\
| job | `model.width` | `data.input_size` | AP | AP50 | params | MACs | paper FLOPs | train img/s | job time | status |
|---|---|---|---|---|---|---|---|---|---|---|
| 0 | `0.5` | `[128,96]` | 0.612 | 0.901 | 175,469 | 12.3M | 14.2M | 50.0 | 90 s | ok |
| 1 | `0.5` | `[160,128]` | 0.655 | 0.920 | 175,469 | 20.6M | 23.6M | 31.3 | 10.0 min | ok |
| 2 | `1.0` | `[128,96]` | — | — | — | — | — | — | 45 s | **failed**: RuntimeError: out of memory \\| what a pipe |
| 3 | `1.0` | `[160,128]` | — | — | — | — | — | — | — | **unfinished**: no summary.json or failed.json |"""  # noqa: E501
    assert results_table(load_sweep(sweep)) == expected


def test_command_and_readme(sweep: Path) -> None:
    s = load_sweep(sweep)
    assert s.swept_keys == ["model.width", "data.input_size"]
    assert s.command() == (
        "lite-hrnet train -m experiment=ablation_synthetic_coco model.width=0.5,1.0 \\\n"
        "  'data.input_size=[128,96],[160,128]' hydra.sweep.dir=multirun/abl"
    )
    out, png = write_report(sweep, title="Width x resolution", question="Does width pay?")
    text = out.read_text()
    assert out == sweep / "README.md" and png == sweep / "results.png"
    assert text.startswith("# Width x resolution\n\n**Question.** Does width pay?")
    assert "4 jobs, 2 finished" in text and "![results](results.png)" in text
    # the failed job's whole error, and the unfinished one, are listed under the table
    assert "RuntimeError: out of memory | what a pipe" in text and "- job 3 (" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rewrite_keeps_the_hand_written_parts(sweep: Path, tmp_path: Path) -> None:
    readme = tmp_path / "experiment" / "README.md"
    readme.parent.mkdir()
    readme.write_text(f"# Mine\n\nHand-written design.\n\n{BEGIN}\nold table\n{END}\n\nNotes.\n")
    write_report(sweep, out=readme, plot_name="plot.png")
    text = readme.read_text()
    assert text.startswith("# Mine\n\nHand-written design.\n\n" + BEGIN)
    assert text.endswith(END + "\n\nNotes.\n") and "old table" not in text
    assert "| 1 | `0.5` | `[160,128]` | 0.655 |" in text and "![results](plot.png)" in text
    assert (tmp_path / "experiment" / "plot.png").is_file()


def test_without_multirun_yaml_the_command_is_rebuilt(sweep: Path) -> None:
    (sweep / "multirun.yaml").unlink()
    assert load_sweep(sweep).command() == (
        "lite-hrnet train -m experiment=ablation_synthetic_coco model.width=0.5,1.0 \\\n"
        "  'data.input_size=[128,96],[160,128]'"
    )


def test_validation_score_without_test_and_no_plot_without_results(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    job = _job(sweep, 0, "0.5", "[128,96]")
    _finish(job, "summary.json", {"complexity": {"params": 1}, "best_val/PCKh": 0.5}, 10)
    # A folder named otherwise (another sweeper's subdir) is numbered from its hydra.yaml.
    other = sweep / "trial_b"
    (sweep / "0").rename(other)
    (other / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"num": 7}}}))
    smoke = _job(sweep, 1, "0.5", "[128,96]")
    _finish(smoke, "summary.json", {"complexity": {}, "best": None, "fast_dev_run": True}, 5)
    s = load_sweep(sweep)
    assert [j.num for j in s.jobs] == [1, 7]
    assert s.metric_names == ["PCKh"] and s.swept_keys == []
    table = results_table(s)
    assert "| 7 | 0.500 | 1 | — | — | — | 10 s | ok |" in table  # paper FLOPs missing: no plot
    assert "| 1 | — | — | — | — | — | 5 s | ok (fast_dev_run: no metrics) |" in table
    assert write_report(sweep)[1] is None


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s: (s / "0" / "summary.json").write_text("{"), r"0/summary.json: not valid JSON"),
        (lambda s: (s / "2" / "failed.json").write_text("[1,"), r"2/failed.json: not valid JSON"),
        (lambda s: (s / "1" / ".hydra" / "overrides.yaml").write_text("a: 1"), "expected a list"),
        (lambda s: (s / "multirun.yaml").write_text("hydra: ["), "multirun.yaml: not valid YAML"),
    ],
)
def test_broken_files_are_named(sweep: Path, damage, message: str) -> None:
    damage(sweep)
    with pytest.raises(ValueError, match=message):
        load_sweep(sweep)


def test_cli(sweep: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r" / "README.md"
    assert cli(["report", str(sweep), "--out", str(out), "--color", "data.input_size"]) == 0
    assert "report written to" in capsys.readouterr().out and (out.parent / "results.png").is_file()
    assert cli(["report", str(tmp_path / "nowhere")]) == 2
    assert "multirun folder not found" in capsys.readouterr().err
    assert cli(["report", str(tmp_path / "r")]) == 2  # a folder without job folders
    assert "no job folders" in capsys.readouterr().err
    assert cli(["report", str(sweep), "--color", "seed"]) == 2
    assert "'seed' is not a swept key" in capsys.readouterr().err
    assert cli(["report", str(sweep), "--metric", "mIoU"]) == 2
    assert "the jobs report ['AP', 'AP50']" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_coco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lite_hrnet.synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco

    config = PoseSceneConfig(seed=5, num_train_images=8, num_val_images=3)
    return ensure_synthetic_coco(tmp_path_factory.mktemp("coco"), config)


@pytest.mark.slow
def test_report_of_a_real_multirun(tiny_coco: Path, tmp_path: Path, monkeypatch) -> None:
    """Two one-batch jobs through `lite-hrnet train -m`, then `lite-hrnet report`."""
    monkeypatch.setattr("sys.argv", list(os.sys.argv))  # Hydra reads and rewrites sys.argv
    sweep = tmp_path / "sweep"
    overrides = [
        f"data.root={tiny_coco}",
        "data.synthetic.seed=5",
        "data.synthetic.num_train_images=8",
        "data.synthetic.num_val_images=3",
        "data.input_size=[64,64]",
        "data.batch_size=4",
        "data.val_batch_size=32",  # one evaluation batch
        "data.num_workers=0",
        "model.num_modules=[1,1,1]",
        "model.width=0.5,1.0",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "trainer.num_sanity_val_steps=0",
        "trainer.check_val_every_n_epoch=1",
        "trainer.enable_progress_bar=false",
        "prediction_images=0",
        f"hydra.sweep.dir={sweep}",
    ]
    assert cli(["train", "-m", *overrides]) == 0
    readme = tmp_path / "experiment" / "README.md"
    assert cli(["report", str(sweep), "--out", str(readme), "--question", "Does width pay?"]) == 0
    s = load_sweep(sweep)
    assert [j.status for j in s.jobs] == ["ok", "ok"] and s.swept_keys == ["model.width"]
    assert s.jobs[0].complexity["params"] < s.jobs[1].complexity["params"]
    assert all(0 <= j.metrics["AP"] <= 1 for j in s.jobs)
    text = readme.read_text()
    assert "**Question.** Does width pay?" in text and "model.width=0.5,1.0" in text
    rows = [
        line for line in text.splitlines() if line.startswith("| 0 |") or line.startswith("| 1 |")
    ]
    assert len(rows) == 2 and rows[0].startswith("| 0 | `0.5` |") and rows[1].endswith("| ok |")
    assert (readme.parent / "results.png").stat().st_size > 0
