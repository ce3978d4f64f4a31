"""Every experiment config composes to a valid typed config, and the sweep commands written in
the CPU experiments' READMEs compose, job by job, to the settings they describe."""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from lite_hrnet.config.store import register_configs

ROOT = Path(__file__).parents[2]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "src/lite_hrnet/conf/experiment").glob("*.yaml"))


def _compose(overrides: list[str]):
    register_configs()
    with initialize_config_module(config_module="lite_hrnet.conf", version_base="1.3"):
        return OmegaConf.to_object(compose("train", overrides=overrides))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_composes_and_validates(experiment: str) -> None:
    cfg = _compose([f"experiment={experiment}"])
    cfg.validate()
    # A run that never validates has no best checkpoint to test.
    assert cfg.trainer.check_val_every_n_epoch <= cfg.trainer.max_epochs
    if cfg.task.name == "pose":
        assert max(cfg.task.milestones) < cfg.trainer.max_epochs


def _split_sweep(value: str) -> list[str]:
    """``a,[1,2],b`` -> ``['a', '[1,2]', 'b']``: commas outside brackets separate values."""
    parts, depth, current = [], 0, ""
    for char in value:
        depth += (char in "[(") - (char in "])")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _readme_jobs(readme: Path) -> list[list[str]]:
    """The jobs of the ``lite-hrnet train -m`` command in a README, as override lists."""
    text = readme.read_text()
    command = re.search(r"^lite-hrnet train -m (.+?)(?<!\\)$", text, re.M | re.S)
    assert command, f"{readme}: no `lite-hrnet train -m` command"
    words = shlex.split(command.group(1).replace("\\\n", " "))
    choices = []
    for word in words:
        if word.startswith("hydra."):
            continue
        key, value = word.split("=", 1)
        choices.append([f"{key}={v}" for v in _split_sweep(value)])
    return [list(job) for job in itertools.product(*choices)]


@pytest.mark.parametrize(
    ("folder", "jobs", "iterations"),
    [("ablation_width_depth_resolution", 8, 240), ("lite_vs_naive", 3, 280)],
)
def test_readme_commands(folder: str, jobs: int, iterations: int) -> None:
    combos = _readme_jobs(ROOT / "experiments" / folder / "README.md")
    assert len(combos) == jobs
    settings = set()
    for overrides in combos:
        cfg = _compose(overrides)
        cfg.validate()
        assert cfg.trainer.max_epochs * cfg.trainer.limit_train_batches == iterations
        assert cfg.trainer.max_time is None  # equal iterations, whatever each job costs
        settings.add(
            (cfg.model.name, cfg.model.width, str(cfg.model.num_modules), str(cfg.data.input_size))
        )
    assert len(settings) == jobs


@pytest.mark.parametrize("experiment", ["synthetic_coco", "synthetic_cityscapes"])
def test_embedded_defaults_are_step_bound(experiment: str) -> None:
    """``make train`` / ``make train-seg``: a fixed number of optimiser steps on any machine;
    ``max_time`` only a failsafe far above the expected quarter of an hour."""
    cfg = _compose([f"experiment={experiment}"])
    assert cfg.trainer.max_epochs > 0 and cfg.trainer.limit_train_batches == 1.0
    days, hours, minutes, seconds = map(int, cfg.trainer.max_time.split(":"))
    assert ((days * 24 + hours) * 60 + minutes) * 60 + seconds >= 45 * 60
