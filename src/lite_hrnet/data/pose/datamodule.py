"""LightningDataModules for top-down pose: COCO 2017 keypoints and MPII, real layouts.

Both take plain arguments (no Hydra). Sizes are (H, W); the heatmap size defaults to the
input / 4 and sigma to the recipe's value for that heatmap, so one override of
``input_size`` changes a whole resolution setting. With ``synthetic`` set, ``prepare_data``
first writes a generated data set in the same layout, which the same readers then parse.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader
from torchmetrics import Metric

from ...formats.coco import load_coco
from ...meta.keypoints import COCO, MPII, KeypointSet
from .dataset import TopDownDataset, collate_skipping
from .records import (
    PoseInstance,
    coco_detection_instances,
    coco_ground_truth_instances,
    mpii_instances,
)
from .transforms import TopDownConfig, TopDownTransform


class TopDownPoseDataModule(L.LightningDataModule):
    """Shared loaders, transforms and worker settings; subclasses read their format."""

    keypoint_set: KeypointSet

    def __init__(
        self,
        root: str | os.PathLike[str],
        input_size: tuple[int, int] = (256, 192),
        heatmap_size: tuple[int, int] | None = None,
        sigma: float | None = None,
        batch_size: int = 64,
        val_batch_size: int | None = None,
        num_workers: int = 4,
        pin_memory: bool = True,
        flip_prob: float = 0.5,
        half_body_prob: float = 0.3,
        scale_factor: float = 0.25,
        rotation_factor: float = 30.0,
        rotation_prob: float = 0.6,
        photometric: bool = False,
        synthetic: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # stored in checkpoints: eval reuses the input size
        self.root = Path(root).expanduser()
        self.transform_cfg = TopDownConfig(
            input_size=tuple(input_size),
            heatmap_size=tuple(heatmap_size) if heatmap_size else None,
            sigma=sigma,
            flip_prob=flip_prob,
            half_body_prob=half_body_prob,
            scale_factor=scale_factor,
            rotation_factor=rotation_factor,
            rotation_prob=rotation_prob,
            photometric=photometric,
        )
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.synthetic = synthetic
        self.datasets: dict[str, TopDownDataset] = {}

    # Subclass hooks --------------------------------------------------------------------
    def _generate(self) -> None:
        raise NotImplementedError

    def _instances(self, stage: str) -> list[PoseInstance]:
        raise NotImplementedError

    def build_metric(self, stage: str, results_file: str | None = None) -> Metric:
        """The data set's evaluation metric for ``stage`` ('val' or 'test')."""
        raise NotImplementedError

    # Lightning hooks -------------------------------------------------------------------
    def prepare_data(self) -> None:
        if self.synthetic is not None:
            self._generate()

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}
        for split in wanted.get(stage or "fit", ("train", "val", "test")):
            if split not in self.datasets:
                transform = TopDownTransform(
                    self.transform_cfg, self.keypoint_set, split == "train"
                )
                self.datasets[split] = TopDownDataset(self._instances(split), transform)
                if not len(self.datasets[split]):
                    raise ValueError(
                        f"{self.root}: the {split} split has no usable person instances"
                    )

    def _loader(self, split: str, shuffle: bool, batch_size: int) -> DataLoader:
        return DataLoader(
            self.datasets[split],
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            collate_fn=collate_skipping,
            worker_init_fn=_one_opencv_thread,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True, self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False, self.val_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False, self.val_batch_size)


def _one_opencv_thread(worker_id: int) -> None:
    # Workers already run one torch thread each; OpenCV's own pool would oversubscribe.
    import cv2

    cv2.setNumThreads(1)


class CocoKeypointsDataModule(TopDownPoseDataModule):
    """COCO 2017: ``root/annotations/person_keypoints_{split}2017.json`` and
    ``root/{split}2017/*.jpg``, read with pycocotools.

    Validation crops the ground-truth boxes. ``test`` uses ``detection_file`` (a COCO
    results list of person boxes, e.g. ``COCO_val2017_detections_AP_H_56_person.json``)
    when given, else the ground-truth boxes too.
    """

    keypoint_set = COCO

    def __init__(
        self,
        root: str | os.PathLike[str],
        detection_file: str | None = None,
        train_split: str = "train2017",
        val_split: str = "val2017",
        **kwargs: Any,
    ) -> None:
        super().__init__(root, **kwargs)
        self.detection_file = detection_file
        self.splits = {"train": train_split, "val": val_split, "test": val_split}

    def ann_file(self, split: str) -> Path:
        return self.root / "annotations" / f"person_keypoints_{self.splits[split]}.json"

    def _generate(self) -> None:
        from ...synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco

        ensure_synthetic_coco(self.root, PoseSceneConfig(**self.synthetic))

    def _instances(self, split: str) -> list[PoseInstance]:
        image_dir = self.root / self.splits[split]
        ratio = self.transform_cfg.aspect_ratio
        if split == "test" and self.detection_file:
            coco = load_coco(self.ann_file(split))
            return coco_detection_instances(self.detection_file, coco, image_dir, 17, ratio)
        return coco_ground_truth_instances(self.ann_file(split), image_dir, COCO, ratio)

    def build_metric(self, stage: str, results_file: str | None = None) -> Metric:
        from ...metrics.coco_keypoints import CocoKeypointAP

        return CocoKeypointAP(self.ann_file(stage), COCO.sigmas, results_file=results_file)


class MpiiDataModule(TopDownPoseDataModule):
    """MPII: ``root/images/*.jpg``, ``root/annotations/mpii_{train,val}.json`` (the common
    JSON conversion) and ``root/annotations/mpii_gt_val.mat`` for PCKh.

    The official MPII recipe has no half-body augmentation, hence the default 0.
    """

    keypoint_set = MPII

    def __init__(self, root: str | os.PathLike[str], **kwargs: Any) -> None:
        kwargs.setdefault("input_size", (256, 256))
        kwargs.setdefault("half_body_prob", 0.0)
        super().__init__(root, **kwargs)

    def _generate(self) -> None:
        from ...synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_mpii

        ensure_synthetic_mpii(self.root, PoseSceneConfig(**self.synthetic))

    def _instances(self, split: str) -> list[PoseInstance]:
        name = "train" if split == "train" else "val"
        return mpii_instances(self.root / "annotations" / f"mpii_{name}.json", self.root / "images")

    def build_metric(self, stage: str, results_file: str | None = None) -> Metric:
        from ...metrics.pckh import MpiiPCKh

        return MpiiPCKh(self.root / "annotations" / "mpii_gt_val.mat")
