"""Turn validated config dataclasses into the LightningModule and LightningDataModule."""

from __future__ import annotations

from dataclasses import asdict

import lightning as L

from .schema import ModelConfig, PoseDataConfig, PoseTaskConfig
from .segmentation import SegmentationTaskConfig, build_segmentation


def build_pose_datamodule(data: PoseDataConfig) -> L.LightningDataModule:
    from ..data.pose.datamodule import CocoKeypointsDataModule, MpiiDataModule

    kwargs = asdict(data)
    fmt = kwargs.pop("format")
    kwargs["input_size"] = tuple(kwargs["input_size"])
    if fmt == "coco":
        return CocoKeypointsDataModule(**kwargs)
    if kwargs.pop("detection_file") is not None:
        raise ValueError("data.detection_file: detection files are COCO-only")
    return MpiiDataModule(**kwargs)


def build_pose_module(
    task: PoseTaskConfig, data: PoseDataConfig, model: ModelConfig
) -> L.LightningModule:
    from ..tasks.pose import PoseEstimationModule

    kwargs = asdict(task)
    kwargs.pop("name")
    return PoseEstimationModule(
        backbone=model.name,
        backbone_overrides=model.spec_overrides(),
        keypoint_set=data.format,
        checkpoint_path=model.checkpoint,
        **kwargs,
    )


def build_task(task, data, model: ModelConfig) -> tuple[L.LightningModule, L.LightningDataModule]:
    """The module and data module for the configured task."""
    if isinstance(task, PoseTaskConfig):
        return build_pose_module(task, data, model), build_pose_datamodule(data)
    if isinstance(task, SegmentationTaskConfig):
        return build_segmentation(task, data, model)
    raise ValueError(f"task: no builder for {type(task).__name__}")
