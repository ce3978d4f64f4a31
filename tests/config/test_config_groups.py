"""Every option of every config group composes to a valid typed config; sweeps over
width, depth and resolution parse; launchers and the Optuna search carry our defaults;
the wheel ships every config file."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

import lite_hrnet
from lite_hrnet.config.schema import CallbacksConfig, TrainConfig
from lite_hrnet.data.pose.datamodule import pose_datamodule
from tests.support import compose_config

PACKAGE = Path(lite_hrnet.__file__).parent
CONF = PACKAGE / "conf"
OPTIONS = sorted(
    (group.name, option.stem)
    for group in CONF.iterdir()
    if group.is_dir() and not group.name.startswith("_")
    for option in group.glob("*.yaml")
)


def test_every_group_is_covered() -> None:
    groups = {g for g, _ in OPTIONS}
    assert groups >= {"task", "data", "model", "trainer", "logger", "callbacks", "experiment",
                      "debug", "hparams_search"}  # fmt: skip
    assert ("trainer", "ddp") in OPTIONS and ("logger", "tensorboard") in OPTIONS


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_validates(group: str, option: str) -> None:
    overrides = [f"{group}={option}"]
    segmentation = ("cityscapes", "segmentation", "pascal_voc", "ade20k")
    if group == "data" and any(name in option for name in segmentation):
        overrides.insert(0, "task=segmentation")  # a segmentation data set needs its task
    if group == "data" and option == "segmentation_folder":  # the user's classes are needed
        overrides.append("data.classes=[background,object]")
    if group == "data" and "mpii" in option:
        overrides.append("monitor=val/PCKh")
    if group == "data" and option == "coco_format":  # the files are read when data is set up
        overrides += [f"data.{k}=x" for k in ("train_annotations", "val_annotations",
                                              "train_images", "val_images")]  # fmt: skip
    cfg = compose_config(overrides)
    assert isinstance(cfg, TrainConfig) and isinstance(cfg.callbacks, CallbacksConfig)
    cfg.validate()


def test_the_groups_set_what_they_promise() -> None:
    ddp = compose_config(["trainer=ddp", "trainer.sync_batchnorm=true"]).trainer
    assert (ddp.strategy, ddp.devices, ddp.sync_batchnorm) == ("ddp", -1, True)
    assert ddp.kwargs()["sync_batchnorm"] is True  # reaches lightning.Trainer
    cpu = compose_config(["trainer=ddp_cpu"]).trainer
    assert (cpu.accelerator, cpu.devices, cpu.strategy) == ("cpu", 2, "ddp")
    limit = compose_config(["debug=limit"]).trainer
    assert (limit.limit_train_batches, limit.limit_val_batches, limit.max_epochs) == (3, 2, 2)
    assert compose_config(["debug=overfit"]).trainer.overfit_batches == 1
    early = compose_config(["callbacks=early_stopping"]).callbacks
    assert early.early_stopping.patience == 3 and early.lr_monitor
    assert compose_config(["logger=tensorboard"]).logger.kind == "tensorboard"


def test_invalid_options_name_the_key(monkeypatch) -> None:
    with pytest.raises(ValueError, match=r"callbacks.model_summary: one of"):
        compose_config(["callbacks.model_summary=fancy"]).validate()
    with pytest.raises(ValueError, match=r"trainer.sync_batchnorm: .*GPUs only"):
        compose_config(["trainer=ddp_cpu", "trainer.sync_batchnorm=true"]).validate()
    monkeypatch.delenv("WANDB_MODE", raising=False)
    with pytest.raises(ValueError, match=r"logger.log_model: .*online"):
        compose_config(["logger=wandb", "logger.log_model=true"]).validate()
    monkeypatch.setenv("WANDB_MODE", "online")
    compose_config(["logger=wandb", "logger.log_model=true"]).validate()


SWEEP = ["model.width=0.5,1.0", "model.num_modules=[1,2,1],[2,4,2]",
         "data.input_size=[128,96],[256,192]"]  # fmt: skip


def test_width_depth_resolution_sweep_parses_to_typed_jobs() -> None:
    parsed = OverridesParser.create().parse_overrides(SWEEP)
    values = {o.key_or_group: list(o.sweep_string_iterator()) for o in parsed}
    assert values == {
        "model.width": ["0.5", "1.0"],
        "model.num_modules": ["[1,2,1]", "[2,4,2]"],
        "data.input_size": ["[128,96]", "[256,192]"],
    }
    cfg = compose_config(["experiment=synthetic_coco", "model.width=0.5",
                          "model.num_modules=[2,4,2]", "data.input_size=[256,192]"])  # fmt: skip
    assert cfg.model.width == 0.5 and cfg.model.num_modules == [2, 4, 2]
    assert cfg.data.input_size == [256, 192]
    cfg.validate()


@pytest.mark.parametrize(
    ("size", "heatmap", "sigma"),
    [([128, 96], (32, 24), 1.0), ([256, 192], (64, 48), 2.0), ([384, 288], (96, 72), 3.0)],
)
def test_heatmap_sigma_and_crop_follow_the_input_size(size, heatmap, sigma, coco_root) -> None:
    cfg = compose_config(["experiment=synthetic_coco", f"data.root={coco_root}",
                          f"data.input_size=[{size[0]},{size[1]}]"])  # fmt: skip
    codec = pose_datamodule(cfg.data).codec
    assert codec.heatmap_hw == heatmap and codec.sigma == sigma
    assert codec.aspect_ratio == size[1] / size[0]  # boxes are cropped at the input's shape


@pytest.mark.parametrize("name", ["joblib", "submitit_local", "submitit_slurm"])
def test_launchers_carry_our_defaults(name: str) -> None:
    overrides = [f"hydra/launcher={name}", "trainer=ddp", "trainer.devices=4",
                 "trainer.num_nodes=2"]  # fmt: skip
    launcher = compose_config(overrides, typed=False).hydra.launcher
    assert launcher._target_.startswith(f"hydra_plugins.hydra_{name.split('_')[0]}")
    if name == "joblib":
        assert launcher.n_jobs == 2
    elif name == "submitit_slurm":
        assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
        assert launcher.timeout_min == 24 * 60
    else:
        assert launcher.tasks_per_node == 1


def test_optuna_search_maximises_the_monitor() -> None:
    cfg = compose_config(
        ["experiment=synthetic_coco", "hparams_search=synthetic_coco_optuna"], typed=False
    )
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert set(sweeper.params) == {"task.lr", "model.width"}
    assert cfg.monitor == "val/AP" and cfg.monitor_mode == "max"


def test_the_wheel_ships_every_config_file() -> None:
    """Expand pyproject's package-data globs as setuptools' build_py does (recursive glob)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = PACKAGE.parents[1]
    if not (root / "pyproject.toml").is_file():
        pytest.skip("an installed package: no pyproject.toml to check")
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["lite_hrnet"]
    shipped = {Path(f) for p in patterns for f in glob.glob(str(PACKAGE / p), recursive=True)}
    configs = set(CONF.rglob("*.yaml"))
    assert configs and configs <= shipped, sorted(map(str, configs - shipped))
