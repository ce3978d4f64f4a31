"""Semantic-segmentation IoU from a confusion matrix summed over the whole split.

Follows the Cityscapes pixel-level evaluation (``cityscapesscripts``): pixels whose ground
truth is ``ignore_index`` are left out, a class's IoU is TP / (TP + FP + FN), a class that
never occurs in the ground truth nor in the predictions has no IoU (NaN), and mIoU is the
mean over the classes that have one.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


def confusion_matrix(
    preds: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> torch.Tensor:
    """(K, K) int64 counts, rows = ground truth, columns = prediction.

    ``preds`` and ``target`` are integer class maps of the same shape, e.g. (B, H, W).
    Target pixels equal to ``ignore_index`` are skipped; any other target or prediction
    outside 0..K-1 raises ``ValueError``.
    """
    if preds.shape != target.shape:
        raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} differ")
    valid = target != ignore_index
    t = target[valid].long()
    p = preds[valid].long()
    if t.numel() and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"target classes must be in 0..{num_classes - 1} or {ignore_index}")
    if p.numel() and (p.min() < 0 or p.max() >= num_classes):
        raise ValueError(f"predicted classes must be in 0..{num_classes - 1}")
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def iou_from_confusion(confmat: torch.Tensor) -> torch.Tensor:
    """(K,) float64 IoU per class from a (K, K) confusion matrix; NaN where TP+FP+FN = 0."""
    confmat = confmat.double()
    tp = confmat.diagonal()
    denom = confmat.sum(0) + confmat.sum(1) - tp
    return torch.where(denom > 0, tp / denom.clamp(min=1), torch.full_like(tp, float("nan")))


class SegmentationIoU(Metric):
    """Confusion-matrix mIoU. ``compute()`` returns ``{"mIoU": (), "iou": (K,), "accuracy": ()}``.

    ``update(preds, target, indices=None)`` takes class maps (B, H, W), or logits/scores
    (B, K, H, W) of which the argmax over K is taken, and optionally the samples' data-set
    indices (B,). Without indices the batch adds to one ``sum``-reduced matrix. With them
    each sample keeps its own (K, K) matrix, concatenated over DDP ranks, and a sample seen
    twice (the DistributedSampler's padding of the last batches) counts once, so that a
    split evaluated on N ranks scores as on one. mIoU is in 0..1; ``accuracy`` is the
    pixel accuracy over non-ignored pixels.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int, ignore_index: int = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"num_classes: must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.add_state(
            "confmat",
            default=torch.zeros(num_classes, num_classes, dtype=torch.long),
            dist_reduce_fx="sum",
        )
        self.add_state("sample_confmats", default=[], dist_reduce_fx="cat")
        self.add_state("sample_indices", default=[], dist_reduce_fx="cat")

    def update(
        self, preds: torch.Tensor, target: torch.Tensor, indices: torch.Tensor | None = None
    ) -> None:
        if preds.is_floating_point() and preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=1)
        if indices is None:
            self.confmat += confusion_matrix(preds, target, self.num_classes, self.ignore_index)
            return
        if len(indices) != len(preds):
            raise ValueError(f"{len(indices)} indices for a batch of {len(preds)}")
        per_sample = [
            confusion_matrix(p, t, self.num_classes, self.ignore_index)
            for p, t in zip(preds, target)
        ]
        self.sample_confmats.append(torch.stack(per_sample))
        self.sample_indices.append(torch.as_tensor(indices, device=preds.device).long())

    def _total(self) -> torch.Tensor:
        """The summed matrix plus each indexed sample's matrix once."""
        if isinstance(self.sample_indices, list) and not self.sample_indices:
            return self.confmat
        indices = dim_zero_cat(self.sample_indices).cpu().numpy()
        _, first = np.unique(indices, return_index=True)
        matrices = dim_zero_cat(self.sample_confmats)
        return self.confmat + matrices[torch.as_tensor(first, device=matrices.device)].sum(0)

    def compute(self) -> dict[str, torch.Tensor]:
        confmat = self._total()
        iou = iou_from_confusion(confmat)
        total = confmat.sum()
        accuracy = confmat.diagonal().sum().double() / total.clamp(min=1)
        return {"mIoU": iou.nanmean(), "iou": iou, "accuracy": accuracy}
