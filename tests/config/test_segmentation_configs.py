"""Hydra-composed segmentation runs: the experiment files, schemas and the run builder."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from lite_hrnet.config.store import register_configs
from lite_hrnet.data.segmentation.datamodule import SegmentationDataConfig
from lite_hrnet.tasks.segmentation import SegmentationTaskConfig
from lite_hrnet.training.run import run_training


def _compose(overrides: list[str]):
    register_configs()
    with initialize_config_module(config_module="lite_hrnet.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    return OmegaConf.to_object(cfg)


def _tiny(root: Path) -> list[str]:
    """The synthetic experiment on the test run's tiny generated set (the same generator
    settings as TINY_STREET: other settings would write the shared set again)."""
    return [
        "experiment=synthetic_cityscapes", f"data.root={root}", "data.synthetic.seed=3",
        "data.synthetic.num_train_images=4", "data.synthetic.num_val_images=3",
        "data.synthetic.height=64", "data.synthetic.width=128", "data.input_size=[64,64]",
        "data.batch_size=2", "data.num_workers=0", "logger=none", "model.width=0.25",
        "model.num_modules=[1,1,1]", "trainer.enable_progress_bar=false",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "experiment",
    ["synthetic_cityscapes", "cityscapes_lite_hrnet_18", "cityscapes_lite_hrnet_30"],
)
def test_experiments_compose_to_typed_configs(experiment: str) -> None:
    cfg = _compose([f"experiment={experiment}"])
    assert isinstance(cfg.task, SegmentationTaskConfig)
    assert isinstance(cfg.data, SegmentationDataConfig)
    assert cfg.monitor == "val/mIoU"
    cfg.validate()
    if experiment != "synthetic_cityscapes":  # the paper setting
        assert cfg.data.input_size == [512, 1024] and cfg.data.scale_range == [0.5, 2.0]
        assert (cfg.task.lr, cfg.task.momentum, cfg.task.weight_decay) == (0.01, 0.9, 5e-4)
        assert cfg.model.name == f"lite_hrnet_{experiment[-2:]}"
        assert cfg.data.synthetic is None


def test_half_resolution_setting_is_a_data_config() -> None:
    cfg = _compose(["experiment=cityscapes_lite_hrnet_18", "data=cityscapes_half"])
    assert cfg.data.base_size == [512, 1024] and cfg.data.input_size == [512, 1024]
    cfg.validate()


def test_config_errors_name_the_key() -> None:
    with pytest.raises(Exception, match="scale_rang"):
        _compose(["experiment=synthetic_cityscapes", "data.scale_rang=[1,2]"])
    cfg = _compose(["experiment=synthetic_cityscapes", "data.input_size=[100,200]"])
    with pytest.raises(ValueError, match=r"data.input_size: \[H, W\] with multiples of 32"):
        cfg.validate()
    cfg = _compose(["experiment=synthetic_cityscapes", "task.val_scales=[]"])
    with pytest.raises(ValueError, match=r"task\.val_scales"):
        cfg.validate()


def test_fast_dev_run_of_the_synthetic_experiment(cityscapes_root: Path, tmp_path: Path) -> None:
    cfg = _compose([*_tiny(cityscapes_root), "debug=fast_dev_run"])
    assert cfg.data.synthetic is not None  # the generator entry point; the data is there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_training(cfg, tmp_path) is None


def test_a_short_run_tests_the_best_checkpoint(
    cityscapes_root: Path, tmp_path: Path, capsys
) -> None:
    cfg = _compose(
        [*_tiny(cityscapes_root), "trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = run_training(cfg, tmp_path)
    assert 0.0 <= score <= 1.0
    out = capsys.readouterr().out
    assert "IoU (%)" in out and "mIoU" in out
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()


def test_the_generic_layout_trains_and_evaluates_with_the_users_class_names(
    street_folder_root: Path, tmp_path: Path, capsys
) -> None:
    from tests.support import street_folder_overrides

    cfg = _compose(
        [*street_folder_overrides(street_folder_root), "trainer.max_epochs=1",
         "trainer.check_val_every_n_epoch=1"]
    )  # fmt: skip
    cfg.validate()
    assert cfg.data.classes[1] == "pavement" and cfg.data.palette[0] == [128, 64, 128]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = run_training(cfg, tmp_path)
    assert 0.0 <= score <= 1.0
    out = capsys.readouterr().out
    assert "pavement" in out and "street furniture" in out and "road" in out
    results = json.loads((tmp_path / "test_predictions.json").read_text())
    assert list(results["iou"]) == cfg.data.classes


def test_task_num_classes_must_agree_with_the_data_set(street_folder_root: Path) -> None:
    from tests.support import street_folder_overrides

    cfg = _compose([*street_folder_overrides(street_folder_root), "task.num_classes=19"])
    with pytest.raises(ValueError, match=r"task\.num_classes: 19, but the data set has 8"):
        cfg.task.build(cfg.data, cfg.model)
    cfg = _compose([*street_folder_overrides(street_folder_root), "task.class_weights=[1,2]"])
    with pytest.raises(ValueError, match=r"task\.class_weights: 2 weights for the data set's 8"):
        cfg.task.build(cfg.data, cfg.model)
