"""Calibration images for ``lite-hrnet export --int8``: person crops of a training run's pose
data set (``--calibration OVERRIDE...``, composed as ``lite-hrnet train`` composes it) or of
a COCO-layout folder (``--calibration-root``), read by the evaluation code."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ..data.pose.datamodule import PoseDataConfig, TopDownPoseDataModule

# --calibration-root's folder unless --calibration-split names another.
CALIBRATION_SPLIT = "train2017"


def calibration_config(overrides: Sequence[str]) -> PoseDataConfig:
    """The validated data config of the training run that ``overrides`` compose: Hydra's
    compose API over ``train.yaml`` and the configs ``lite-hrnet train`` registers, then
    ``TrainConfig.validate`` as a run does. A pose data set, else a ValueError."""
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from ..config.store import register_configs
    from ..data.pose.datamodule import PoseDataConfig
    from .train import unknown_keys

    given = f"--calibration {' '.join(overrides)}"
    register_configs()
    try:
        with initialize_config_module(config_module="lite_hrnet.conf", version_base="1.3"):
            cfg = compose("train", overrides=list(overrides))
        unknown = unknown_keys(cfg)
        run_cfg = OmegaConf.to_object(cfg)
    except (HydraException, OmegaConfBaseException) as e:
        raise ValueError(f"{given}: {e}") from None
    if unknown:
        raise ValueError(f"{given}: {', '.join(unknown)}: no such key in the config")
    task = getattr(run_cfg.task, "name", None)
    if task != "pose" or not isinstance(run_cfg.data, PoseDataConfig):
        raise ValueError(
            f"{given}: a {task} config ({type(run_cfg.data).__name__}); int8 calibration "
            "takes person crops of a pose config, e.g. experiment=synthetic_coco"
        )
    try:
        run_cfg.validate()
    except ValueError as e:
        raise ValueError(f"{given}: {e}") from None
    return run_cfg.data


def calibration_crops(
    datamodule: TopDownPoseDataModule, count: int, source: str, batch_size: int = 8
) -> list[np.ndarray]:
    """Up to ``count`` normalised person crops (N, 3, H, W) of ``datamodule``'s train
    split, spread evenly over it, in float32 numpy batches of ``batch_size``: the
    evaluation crops (ground-truth boxes, no augmentation), read by the same code as
    ``eval``. A synthetic data set is written first if missing (``prepare_data``, as a
    training run does). ``source`` names the data in errors."""
    import numpy as np

    if count < 1:
        raise ValueError(f"--calibration-images must be >= 1, got {count}")
    datamodule.prepare_data()
    dataset = datamodule.split_dataset("train", augment=False)
    if not len(dataset):
        raise ValueError(f"{source}: no person in the train split")
    picks = np.unique(np.linspace(0, len(dataset) - 1, min(count, len(dataset))).round())
    samples = (dataset[int(i)] for i in picks)
    crops = [np.asarray(s["image"], np.float32) for s in samples if s is not None]
    if not crops:
        raise ValueError(f"{source}: none of the train split's images is readable")
    return [np.stack(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]


def calibration_batches(
    root: Path, split: str, input_size: tuple[int, int], count: int, batch_size: int = 8
) -> list[np.ndarray]:
    """``calibration_crops`` of the COCO-layout folder ``root`` with ``split`` as its train
    split, at ``input_size`` (H, W)."""
    from ..data.pose.datamodule import CocoKeypointsDataModule

    if not (root / "annotations" / f"person_keypoints_{split}.json").is_file():
        raise FileNotFoundError(
            f"--calibration-root {root}: no annotations/person_keypoints_{split}.json "
            "(a COCO-layout pose data set; --calibration-split names its folder)"
        )
    datamodule = CocoKeypointsDataModule(
        root, input_size=list(input_size), train_split=split, num_workers=0
    )
    return calibration_crops(datamodule, count, f"--calibration-root {root} ({split})", batch_size)
