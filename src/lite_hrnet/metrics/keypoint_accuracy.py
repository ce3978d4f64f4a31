"""Keypoint accuracy against labelled joints: PCK of the box, AUC, EPE and NME, as mmpose
computes them (``PCKAccuracy``, ``AUC``, ``EPE``, ``NME``), and their torchmetrics Metrics.

All work on predictions (N, K, 2) and ground truth (N, K, 2) in image pixels with a mask
(N, K) of the labelled joints; unlabelled joints count nowhere.

- PCK@t: a joint is correct when its error, divided by the longer side of its instance's
  box, is below t (0.2 by default). Accuracy is taken per joint over the instances, then
  averaged over the joints that are labelled at least once.
- AUC: the mean of PCK at the thresholds 0, 1/n, ..., (n-1)/n of errors divided by a fixed
  length in pixels (mmpose: 30 pixels, 20 thresholds; hand data sets report it).
- EPE: the mean error in pixels over all labelled joints.
- NME: the mean error over all labelled joints divided by a per-instance length: the
  distance between two joints of the ground truth (the outer eye corners of a face set,
  "inter-ocular"), else the square root of the box area.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


def normalized_distances(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray
) -> np.ndarray:
    """Errors (N, K) divided by ``norm`` (N, 2) per axis; -1 where the joint is unlabelled
    or its instance's norm is not positive (mmpose's ``_calc_distances``)."""
    n, k = mask.shape
    valid = mask.astype(bool) & (norm > 0).all(axis=1)[:, None]
    out = np.full((n, k), -1.0)
    if valid.any():
        scaled = (pred - gt) / np.where(norm > 0, norm, 1.0)[:, None, :]
        out[valid] = np.linalg.norm(scaled[valid], axis=-1)
    return out


def pck_accuracy(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, threshold: float, norm: np.ndarray
) -> tuple[np.ndarray, float, int]:
    """Per-joint PCK (K,; -1 for joints never labelled), its mean over the labelled joints
    (0 when none is) and their count, as mmpose's ``keypoint_pck_accuracy``."""
    distances = normalized_distances(pred, gt, mask, norm)
    per_joint = np.full(distances.shape[1], -1.0)
    for j in range(distances.shape[1]):
        valid = distances[:, j] != -1
        if valid.any():
            per_joint[j] = float((distances[valid, j] < threshold).mean())
    labelled = per_joint >= 0
    count = int(labelled.sum())
    return per_joint, float(per_joint[labelled].mean()) if count else 0.0, count


def box_norm(boxes: np.ndarray) -> np.ndarray:
    """mmpose's PCK box normalisation: the longer side of [x, y, w, h] boxes, (N, 2)."""
    side = np.max(boxes[:, 2:4], axis=1)
    return np.stack([side, side], axis=1)


def keypoint_auc(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm_factor: float, num_thresholds: int
) -> float:
    """Area under the PCK curve of errors / ``norm_factor`` pixels, as mmpose's
    ``keypoint_auc``: the mean of PCK at thresholds i / n, i = 0 .. n - 1."""
    norm = np.full((len(pred), 2), float(norm_factor))
    accs = [
        pck_accuracy(pred, gt, mask, i / num_thresholds, norm)[1] for i in range(num_thresholds)
    ]
    return float(np.mean(accs))


def mean_error(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray) -> float:
    """Mean of the normalised errors over all labelled joints (mmpose's ``keypoint_epe``
    with a norm of 1, ``keypoint_nme`` otherwise); 0 when no joint is labelled."""
    distances = normalized_distances(pred, gt, mask, norm)
    valid = distances[distances != -1]
    return float(valid.sum() / max(1, len(valid)))


def nme_norm(gt: np.ndarray, boxes: np.ndarray, joints: tuple[int, int] | None) -> np.ndarray:
    """NME's per-instance length (N, 2): the distance between ground-truth ``joints``, else
    the square root of the box area."""
    if joints is not None:
        length = np.linalg.norm(gt[:, joints[0]] - gt[:, joints[1]], axis=-1)
    else:
        length = np.sqrt(np.clip(boxes[:, 2] * boxes[:, 3], 0, None))
    return np.stack([length, length], axis=1)


class KeypointDistanceMetric(Metric):
    """Collects predictions and the labelled joints; a subclass reduces them (``score``).

    ``update`` takes keypoints (B, K, 2 or 3) [x, y(, score)] in image pixels, the labelled
    joints (B, K, 2), their mask (B, K), the instances' boxes (B, 4) [x, y, w, h] and their
    dataset indices (B,). States concatenate over DDP ranks; an index seen twice
    (DistributedSampler padding) counts once.
    """

    full_state_update = False
    name: str = ""
    higher_is_better = True

    def __init__(self) -> None:
        super().__init__()
        for state in ("pred", "gt", "mask", "boxes", "indices"):
            self.add_state(state, default=[], dist_reduce_fx="cat")

    def update(
        self,
        keypoints: torch.Tensor,
        joints: torch.Tensor,
        visible: torch.Tensor,
        boxes: torch.Tensor,
        indices: torch.Tensor,
    ) -> None:
        self.pred.append(keypoints[..., :2].double())
        self.gt.append(joints[..., :2].double())
        self.mask.append((visible > 0).double())
        self.boxes.append(boxes.double())
        self.indices.append(indices.long())

    def compute(self) -> dict[str, torch.Tensor]:
        if isinstance(self.indices, list) and not self.indices:  # a tensor once synced
            return {self.name: torch.tensor(0.0)}
        idx = dim_zero_cat(self.indices).cpu().numpy()
        _, first = np.unique(idx, return_index=True)
        pick = lambda t: dim_zero_cat(t).cpu().numpy()[first]  # noqa: E731
        value = self.score(pick(self.pred), pick(self.gt), pick(self.mask) > 0, pick(self.boxes))
        return {self.name: torch.tensor(value)}

    def score(self, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, boxes: np.ndarray) -> float:
        raise NotImplementedError


class PCKAccuracy(KeypointDistanceMetric):
    """PCK@``threshold`` of the box (the longer side), logged as ``PCK``."""

    name = "PCK"

    def __init__(self, threshold: float = 0.2) -> None:
        super().__init__()
        self.threshold = threshold

    def score(self, pred, gt, mask, boxes) -> float:
        return pck_accuracy(pred, gt, mask, self.threshold, box_norm(boxes))[1]


class AUC(KeypointDistanceMetric):
    """Area under the PCK curve of errors / ``norm_factor`` pixels, logged as ``AUC``."""

    name = "AUC"

    def __init__(self, norm_factor: float = 30.0, num_thresholds: int = 20) -> None:
        super().__init__()
        self.norm_factor = norm_factor
        self.num_thresholds = num_thresholds

    def score(self, pred, gt, mask, boxes) -> float:
        return keypoint_auc(pred, gt, mask, self.norm_factor, self.num_thresholds)


class EPE(KeypointDistanceMetric):
    """Mean end-point error in pixels, logged as ``EPE`` (lower is better)."""

    name = "EPE"
    higher_is_better = False

    def score(self, pred, gt, mask, boxes) -> float:
        return mean_error(pred, gt, mask, np.ones((len(pred), 2)))


class NME(KeypointDistanceMetric):
    """Normalised mean error, logged as ``NME`` (lower is better): errors divided by the
    distance of the ground truth's ``joints`` (a pair of indices, e.g. the outer eye
    corners), else by the square root of the box area."""

    name = "NME"
    higher_is_better = False

    def __init__(self, joints: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.joints = None if joints is None else (int(joints[0]), int(joints[1]))

    def score(self, pred, gt, mask, boxes) -> float:
        return mean_error(pred, gt, mask, nme_norm(gt, boxes, self.joints))
