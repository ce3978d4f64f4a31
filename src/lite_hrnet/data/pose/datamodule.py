"""The pose data configs and LightningDataModules: COCO 2017 keypoints and MPII, in their
real layouts. No Hydra here: ``lite_hrnet.config`` registers the configs as schemas."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...checks import check
from ...codecs.heatmap_codec import HeatmapCodec
from ...formats.coco import check_scorable, load_coco
from ...meta.keypoints import COCO, MPII, KeypointSet
from ...synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco, ensure_synthetic_mpii
from ..loaders import SplitDataModule, check_loader_options
from .dataset import TopDownDataset
from .image_sizes import drop_resized_images
from .records import (
    PoseInstance,
    check_mpii_ground_truth,
    coco_detection_instances,
    coco_ground_truth_instances,
    mpii_instances,
)
from .transforms import TopDownConfig, TopDownTransform

POSE_FORMATS = ("coco", "mpii")
# Train images whose header size is compared with the annotation at set-up.
TRAIN_IMAGES_CHECKED = 64


@dataclass
class PoseDataConfig(TopDownConfig):
    """A top-down pose data set in its real layout (``format``: coco or mpii), with the
    official pipeline (``TopDownConfig``) and the loaders. COCO by default; the MPII
    defaults are ``MpiiDataConfig``'s."""

    format: str = "coco"
    root: str = "data/coco"
    batch_size: int = 64
    val_batch_size: int | None = None  # default: batch_size
    num_workers: int = 4
    pin_memory: bool = True
    detection_file: str | None = None  # COCO test boxes; validation uses ground truth
    train_split: str = "train2017"  # COCO folder names
    val_split: str = "val2017"
    synthetic: PoseSceneConfig | None = None  # generate this data set under root first

    def __post_init__(self) -> None:
        if isinstance(self.synthetic, dict):
            self.synthetic = PoseSceneConfig(**self.synthetic)

    @property
    def keypoint_set(self) -> KeypointSet:
        return {"coco": COCO, "mpii": MPII}[self.format]

    def validate(self) -> None:
        check(self.format in POSE_FORMATS, "data.format",
              f"one of {POSE_FORMATS}, got {self.format!r}")  # fmt: skip
        super().validate()
        check_loader_options(self)
        check(self.format == "coco" or self.detection_file is None, "data.detection_file",
              "detection files are COCO-only")  # fmt: skip
        if self.synthetic is not None:
            self.synthetic.validate()


@dataclass
class MpiiDataConfig(PoseDataConfig):
    """MPII: the official recipe's 256x256 input and 32 images per GPU, and no half-body
    augmentation."""

    format: str = "mpii"
    root: str = "data/mpii"
    input_size: list[int] = field(default_factory=lambda: [256, 256])
    half_body_prob: float = 0.0
    batch_size: int = 32


class TopDownPoseDataModule(SplitDataModule):
    """Top-down person crops of a pose data set; subclasses read their format.

    ``codec`` (a ``HeatmapCodec``, the task's in a run) sets the crop size, the box aspect
    ratio and the targets; the config's ``input_size``, ``heatmap_size`` and ``sigma`` are
    then set to its values, so that the saved hyperparameters say what ran. Without one,
    the codec of the config's settings.
    """

    keypoint_set: KeypointSet

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        config: Any = None,
        codec: HeatmapCodec | None = None,
        **options: Any,
    ) -> None:
        if codec is not None:
            options.update(
                input_size=list(codec.input_hw), heatmap_size=list(codec.heatmap_hw),
                sigma=codec.sigma,
            )  # fmt: skip
        super().__init__(root, config=config, **options)
        self.codec = codec if codec is not None else self.cfg.heatmap_codec()

    def build_dataset(self, split: str) -> TopDownDataset:
        return self.split_dataset(split, augment=split == "train")

    def split_dataset(self, split: str, augment: bool) -> TopDownDataset:
        """The crops of ``split`` through the training transform (``augment``) or the
        test-time one (ground-truth box, no augmentation), whichever the split: int8
        calibration reads the train split the test-time way."""
        transform = TopDownTransform(self.cfg, self.keypoint_set, augment, self.codec)
        return TopDownDataset(self.instances(split), transform)

    def instances(self, split: str) -> list[PoseInstance]:
        """The person instances of ``split``."""
        raise NotImplementedError

    def evaluation_file(self, stage: str) -> Path:
        """The ground truth the metric of ``stage`` ("val" or "test") scores against."""
        raise NotImplementedError


class CocoKeypointsDataModule(TopDownPoseDataModule):
    """COCO 2017: ``root/annotations/person_keypoints_{split}2017.json`` and
    ``root/{split}2017/*.jpg``, read with pycocotools.

    Validation crops the ground-truth boxes. ``test`` uses ``detection_file`` (a COCO
    results list of person boxes, e.g. ``COCO_val2017_detections_AP_H_56_person.json``)
    when given, else the ground-truth boxes too.
    """

    config_class = PoseDataConfig
    keypoint_set = COCO

    def _split_name(self, split: str) -> str:
        return self.cfg.train_split if split == "train" else self.cfg.val_split

    def ann_file(self, split: str) -> Path:
        return self.root / "annotations" / f"person_keypoints_{self._split_name(split)}.json"

    def generate(self) -> None:
        ensure_synthetic_coco(self.root, self.cfg.synthetic)

    def instances(self, split: str) -> list[PoseInstance]:
        image_dir = self.root / self._split_name(split)
        ratio = self.codec.aspect_ratio
        ann_file = self.ann_file(split)
        if split == "test" and self.cfg.detection_file:
            coco = load_coco(ann_file)
            check_scorable(coco, ann_file)
            found = coco_detection_instances(self.cfg.detection_file, coco, image_dir, 17, ratio)
        else:
            scored = split != "train"
            found = coco_ground_truth_instances(ann_file, image_dir, COCO, ratio, scored=scored)
        # The scored splits: every image's size; the train split: a sample at start-up,
        # the decoded size of each image then.
        checked = TRAIN_IMAGES_CHECKED if split == "train" else None
        return drop_resized_images(found, ann_file, checked)

    def evaluation_file(self, stage: str) -> Path:
        return self.ann_file(stage)


class MpiiDataModule(TopDownPoseDataModule):
    """MPII: ``root/images/*.jpg``, ``root/annotations/mpii_{train,val}.json`` (the common
    JSON conversion) and ``root/annotations/mpii_gt_val.mat`` for PCKh."""

    config_class = MpiiDataConfig
    keypoint_set = MPII

    def generate(self) -> None:
        ensure_synthetic_mpii(self.root, self.cfg.synthetic)

    def instances(self, split: str) -> list[PoseInstance]:
        name = "train" if split == "train" else "val"
        json_file = self.root / "annotations" / f"mpii_{name}.json"
        instances = mpii_instances(json_file, self.root / "images")
        if split != "train":  # the scored splits: check their ground truth before any batch
            check_mpii_ground_truth(json_file, self.evaluation_file(split), instances)
        return instances

    def evaluation_file(self, stage: str) -> Path:
        return self.root / "annotations" / "mpii_gt_val.mat"


def pose_datamodule(
    cfg: PoseDataConfig, codec: HeatmapCodec | None = None
) -> TopDownPoseDataModule:
    """The DataModule of ``cfg.format`` built from ``cfg``, encoding with ``codec`` (the
    task's; default: the codec of ``cfg``'s settings)."""
    kinds = {"coco": CocoKeypointsDataModule, "mpii": MpiiDataModule}
    check(cfg.format in kinds, "data.format", f"one of {POSE_FORMATS}, got {cfg.format!r}")
    return kinds[cfg.format](config=cfg, codec=codec)
