"""The pose metrics a run picks by name (AP, PCKh, PCK, AUC, EPE, NME), fed from one batch.

``PoseMetrics`` holds them in the order picked: ``update(keypoints, batch)`` feeds each
the batch entries it scores against, ``compute`` merges their values (the first metric's
first), ``reset`` resets them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torchmetrics import Metric

from ..meta.keypoints import KeypointSet
from .coco_keypoints import CocoKeypointAP
from .keypoint_accuracy import AUC, EPE, NME, KeypointDistanceMetric, PCKAccuracy
from .pckh import MpiiPCKh

POSE_METRIC_NAMES = ("AP", "PCKh", "PCK", "AUC", "EPE", "NME")


class PoseMetrics(nn.Module):
    """Several pose metrics (a name -> ``Metric`` mapping, in order) behind one interface.

    ``update`` takes the predicted keypoints (B, K, 3) [x, y, score] in image pixels and
    the batch of ``TopDownDataset``: ``scale``, ``score``, ``image_id``, ``index`` (for AP
    and PCKh) and ``joints`` (B, K, 2), ``joints_visible`` (B, K), ``bbox`` (B, 4) (for
    PCK, AUC, EPE and NME).
    """

    def __init__(self, metrics: Mapping[str, Metric]) -> None:
        super().__init__()
        self.metrics = nn.ModuleDict(dict(metrics))

    def update(self, keypoints: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> None:
        for metric in self.metrics.values():
            if isinstance(metric, KeypointDistanceMetric):
                metric.update(
                    keypoints,
                    batch["joints"],
                    batch["joints_visible"],
                    batch["bbox"],
                    batch["index"],
                )
            else:
                metric.update(
                    keypoints, batch["scale"], batch["score"], batch["image_id"], batch["index"]
                )

    def compute(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for metric in self.metrics.values():
            out.update(metric.compute())
        return out

    def reset(self) -> None:
        for metric in self.metrics.values():
            metric.reset()


def build_pose_metrics(
    names: Sequence[str],
    keypoint_set: KeypointSet,
    evaluation_file: str | os.PathLike[str],
    *,
    results_file: str | os.PathLike[str] | None = None,
    categories: Sequence[int | str] | None = None,
    pck_threshold: float = 0.2,
    auc_norm_factor: float = 30.0,
    nme_joints: Sequence[Any] | None = None,
) -> PoseMetrics:
    """The metrics ``names`` of a keypoint set, scoring against ``evaluation_file`` (the
    COCO annotation file for AP, ``mpii_gt_val.mat`` for PCKh). ``nme_joints``: two joints
    (names or indices) whose distance normalises NME (default: the box)."""
    metrics: dict[str, Metric] = {}
    for name in names:
        if name == "AP":
            metrics[name] = CocoKeypointAP(
                evaluation_file,
                keypoint_set.sigmas,
                results_file=results_file,
                categories=categories,
            )
        elif name == "PCKh":
            metrics[name] = MpiiPCKh(evaluation_file)
        elif name == "PCK":
            metrics[name] = PCKAccuracy(pck_threshold)
        elif name == "AUC":
            metrics[name] = AUC(auc_norm_factor)
        elif name == "EPE":
            metrics[name] = EPE()
        elif name == "NME":
            joints = None
            if nme_joints is not None:
                a, b = (keypoint_set.index(j) for j in nme_joints)
                joints = (a, b)
            metrics[name] = NME(joints)
        else:
            raise ValueError(f"unknown pose metric {name!r}; one of {POSE_METRIC_NAMES}")
    return PoseMetrics(metrics)
