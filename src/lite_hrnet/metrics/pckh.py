"""MPII PCKh, computed as the official evaluation does, as a torchmetrics Metric."""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ..formats.mpii import load_mpii_ground_truth

# Official MPII joint order: 0 r_ankle ... 9 head_top, 10 r_wrist ... 15 l_wrist.
_GROUPS = {
    "Head": (9,),
    "Shoulder": (12, 13),
    "Elbow": (11, 14),
    "Wrist": (10, 15),
    "Hip": (2, 3),
    "Knee": (1, 4),
    "Ankle": (0, 5),
}
PCKH_STATS = (*_GROUPS, "PCKh", "PCKh@0.1")


def pckh(
    predictions: np.ndarray, gt: dict[str, np.ndarray], threshold: float = 0.5
) -> dict[str, float]:
    """Official PCKh from 0-based predictions (N, 16, 2); NaN rows count as misses.

    Head size is 0.6 x the head-box diagonal; pelvis and thorax (6, 7) are left out of
    the means, which are weighted by each joint's labelled count. Values are fractions.
    """
    pos_pred = np.transpose(predictions + 1.0, [1, 2, 0])  # the file is 1-based
    visible = 1 - gt["jnt_missing"]
    err = np.linalg.norm(pos_pred - gt["pos_gt_src"], axis=1)
    heads = gt["headboxes_src"]
    head_size = np.linalg.norm(heads[1] - heads[0], axis=0) * 0.6
    with np.errstate(invalid="ignore"):
        scaled = err / head_size[None]
        scaled = np.where(visible > 0, scaled, np.inf)
    count = visible.sum(axis=1)

    def per_joint(thr: float) -> np.ma.MaskedArray:
        hits = (scaled <= thr).sum(axis=1)
        out = np.ma.array(hits / np.maximum(count, 1), mask=False)
        out.mask[6:8] = True
        return out

    at = per_joint(threshold)
    at_01 = per_joint(0.1)
    weights = np.ma.array(count, mask=False)
    weights.mask[6:8] = True
    ratio = weights / np.sum(weights).astype(np.float64)
    stats = {name: float(np.mean([at[j] for j in joints])) for name, joints in _GROUPS.items()}
    stats["PCKh"] = float(np.sum(at * ratio))
    stats["PCKh@0.1"] = float(np.sum(at_01 * ratio))
    return stats


class MpiiPCKh(Metric):
    """Collects keypoints (B, K, 3) in image pixels with their record numbers (B,).

    ``update`` has the signature of ``CocoKeypointAP.update`` so that a task treats both
    alike; only the coordinates and ``image_ids`` matter here. An MPII instance's image id
    is its record number in the annotation JSON (``data.pose.records.mpii_instances``),
    which is its column in ``mpii_gt_val.mat``; the dataset position is not, since records
    whose image is missing are left out of the dataset.

    States concatenate over DDP ranks; a record seen twice (sampler padding) counts once,
    and a record never predicted (e.g. its image was unreadable) counts as a miss.
    """

    full_state_update = False

    def __init__(self, gt_file: str | os.PathLike[str]) -> None:
        super().__init__()
        self.gt_file = str(gt_file)
        self.add_state("predictions", default=[], dist_reduce_fx="cat")
        self.add_state("records", default=[], dist_reduce_fx="cat")

    def update(
        self,
        keypoints: torch.Tensor,
        scales: torch.Tensor,
        box_scores: torch.Tensor,
        image_ids: torch.Tensor,
        indices: torch.Tensor,
    ) -> None:
        self.predictions.append(keypoints[..., :2].double())
        self.records.append(image_ids.long())

    def compute(self) -> dict[str, torch.Tensor]:
        gt = load_mpii_ground_truth(self.gt_file)
        joints, _, n = gt["pos_gt_src"].shape
        full = np.full((n, joints, 2), np.nan)
        if not (isinstance(self.records, list) and not self.records):  # a tensor once synced
            records = dim_zero_cat(self.records).cpu().numpy()
            if records.min() < 0 or records.max() >= n:
                raise ValueError(
                    f"{self.gt_file} has {n} records but a prediction is for record "
                    f"{records.max() if records.max() >= n else records.min()}; the annotation "
                    "JSON and the ground-truth file do not match"
                )
            full[records] = dim_zero_cat(self.predictions).cpu().numpy()
        missing = int(np.isnan(full[:, 0, 0]).sum())
        if missing:
            warnings.warn(f"PCKh: {missing} of {n} records have no prediction", stacklevel=2)
        return {k: torch.tensor(v) for k, v in pckh(full, gt).items()}
