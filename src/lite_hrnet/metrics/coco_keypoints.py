"""COCO keypoint AP: rescoring, OKS-NMS and pycocotools ``COCOeval``, as a torchmetrics Metric.

Any keypoint set: OKS uses the set's per-joint sigmas, or ``DEFAULT_OKS_SIGMA`` for every
joint (with a warning: AP is then not comparable with published numbers). A file whose
instances span several categories of one layout is scored category-agnostic.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ..codecs.geometry import PIXEL_STD
from ..codecs.scores import KEYPOINT_SCORE_THRESHOLD, rescore
from ..formats.coco import check_scorable, keypoint_categories, load_coco
from ..meta.keypoints import DEFAULT_OKS_SIGMA
from .oks import oks_nms

COCO_STATS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def coco_keypoint_results(
    keypoints: np.ndarray,
    image_ids: np.ndarray,
    box_scores: np.ndarray,
    areas: np.ndarray,
    sigmas: Sequence[float],
    score_threshold: float = KEYPOINT_SCORE_THRESHOLD,
    nms_threshold: float | None = 0.9,
    category_id: int = 1,
) -> list[dict]:
    """Per-instance predictions -> a COCO results list, rescored and OKS-NMSed per image.

    ``keypoints`` (N, K, 3) are [x, y, score] in image pixels; ``areas`` (N,) the box areas.
    A prediction with a NaN or infinite number is left out (a miss, with one warning):
    pycocotools would match it to any person, since its NaN similarity never falls below
    the threshold.
    """
    finite = np.isfinite(keypoints).all(axis=(1, 2)) & np.isfinite(box_scores)
    finite &= np.isfinite(areas)
    if not finite.all():
        warnings.warn(
            f"{int((~finite).sum())} of {len(finite)} keypoint predictions hold NaN or "
            "infinite numbers (a diverged model or a degenerate box); scored as misses",
            stacklevel=2,
        )
    by_image: dict[int, list[int]] = defaultdict(list)
    for i, image_id in enumerate(image_ids.tolist()):
        if finite[i]:
            by_image[image_id].append(i)
    sigmas = np.asarray(sigmas)
    results = []
    for image_id, idx in sorted(by_image.items()):
        idx = np.asarray(idx)
        scores = np.array(
            [rescore(keypoints[i, :, 2], box_scores[i], score_threshold) for i in idx]
        )
        keep = range(len(idx))
        if nms_threshold is not None:
            keep = oks_nms(keypoints[idx], scores, areas[idx], sigmas, nms_threshold)
        for j in keep:
            results.append(
                {
                    "image_id": int(image_id),
                    "category_id": category_id,
                    "keypoints": keypoints[idx[j]].reshape(-1).round(3).tolist(),
                    "score": float(scores[j]),
                }
            )
    return results


def coco_keypoint_eval(
    coco_gt, results: list[dict], sigmas: Sequence[float] | None = None
) -> dict[str, float]:
    """Run pycocotools ``COCOeval`` (iouType 'keypoints') and return its 10 numbers.

    ``sigmas`` (K,): the per-joint OKS sigmas (None: pycocotools' own, COCO's 17).
    """
    from pycocotools.cocoeval import COCOeval

    if not results:
        warnings.warn("no keypoint predictions to evaluate; every COCO number is 0", stacklevel=2)
        return dict.fromkeys(COCO_STATS, 0.0)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(results)
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.params.useSegm = None
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(COCO_STATS, (float(v) for v in ev.stats)))


class CocoKeypointAP(Metric):
    """Accumulates keypoints (never heatmaps) and evaluates them with pycocotools.

    ``update`` takes, per instance: keypoints (B, K, 3) [x, y, score] in image pixels,
    scales (B, 2) (box [w, h] / 200, whose product gives the official NMS area), box
    scores (B,), image ids (B,) and the dataset indices (B,). States are concatenated over
    DDP ranks; duplicated indices (DistributedSampler padding) are counted once.

    ``sigmas`` None: every joint gets ``DEFAULT_OKS_SIGMA`` (warned once). ``categories``
    (ids or names) picks the file's keypoint categories (default: all of them); with
    several, ground truth of other categories is left out and the categories are pooled.
    """

    full_state_update = False

    def __init__(
        self,
        ann_file: str | os.PathLike[str],
        sigmas: Sequence[float] | None,
        score_threshold: float = KEYPOINT_SCORE_THRESHOLD,
        nms_threshold: float | None = 0.9,
        results_file: str | os.PathLike[str] | None = None,
        categories: Sequence[int | str] | None = None,
    ) -> None:
        super().__init__()
        self.ann_file = str(ann_file)
        if sigmas is None:
            warnings.warn(
                f"the keypoint set of {self.ann_file} gives no OKS sigmas: COCO AP uses "
                f"{DEFAULT_OKS_SIGMA} for every joint and is not comparable with published "
                "numbers (give sigmas in the keypoint YAML file)",
                stacklevel=2,
            )
        self.sigmas = None if sigmas is None else list(sigmas)
        self.categories = None if categories is None else list(categories)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.results_file = results_file
        self._coco = None
        for name in ("keypoints", "areas", "box_scores", "image_ids", "indices"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(
        self,
        keypoints: torch.Tensor,
        scales: torch.Tensor,
        box_scores: torch.Tensor,
        image_ids: torch.Tensor,
        indices: torch.Tensor,
    ) -> None:
        self.keypoints.append(keypoints.double())
        self.areas.append((scales.double() * PIXEL_STD).prod(dim=1))
        self.box_scores.append(box_scores.double())
        self.image_ids.append(image_ids.long())
        self.indices.append(indices.long())

    def compute(self) -> dict[str, torch.Tensor]:
        if isinstance(self.indices, list) and not self.indices:  # a tensor once synced
            return {k: torch.tensor(0.0) for k in COCO_STATS}
        idx = dim_zero_cat(self.indices).cpu().numpy()
        _, first = np.unique(idx, return_index=True)
        pick = lambda t: dim_zero_cat(t).cpu().numpy()[first]  # noqa: E731
        keypoints = pick(self.keypoints)
        if self._coco is None:
            self._coco, self._category_id = _ground_truth(self.ann_file, self.categories)
            check_scorable(self._coco, self.ann_file)
        sigmas = self.sigmas
        if sigmas is None:
            sigmas = [DEFAULT_OKS_SIGMA] * keypoints.shape[1]
        if len(sigmas) != keypoints.shape[1]:
            raise ValueError(
                f"{len(sigmas)} OKS sigmas for predictions of {keypoints.shape[1]} joints"
            )
        results = coco_keypoint_results(
            keypoints,
            pick(self.image_ids),
            pick(self.box_scores),
            pick(self.areas),
            sigmas,
            self.score_threshold,
            self.nms_threshold,
            category_id=self._category_id,
        )
        if self.results_file is not None and _is_rank_zero():
            Path(self.results_file).parent.mkdir(parents=True, exist_ok=True)
            Path(self.results_file).write_text(json.dumps(results))
        stats = coco_keypoint_eval(self._coco, results, sigmas)
        return {k: torch.tensor(v) for k, v in stats.items()}


def _ground_truth(ann_file: str, categories: Sequence[int | str] | None) -> tuple[Any, int]:
    """The pycocotools index ``COCOeval`` scores against, and the category id of results.

    Keeps the annotations of the keypoint categories only; several categories are pooled
    into the first one (``COCOeval``'s ``useCats=0`` does not reach its keypoint
    similarity). Fills what ``COCOeval`` needs but a user's file may lack:
    ``num_keypoints`` (the labelled joints) and ``area`` (the box's).
    """
    from pycocotools.coco import COCO

    coco = load_coco(ann_file)
    ids = [c["id"] for c in keypoint_categories(coco.dataset, ann_file, categories)]
    anns = coco.dataset["annotations"]
    complete = all("num_keypoints" in a and "area" in a for a in anns)
    if ids == [1] and all(a.get("category_id", 1) == 1 for a in anns) and complete:
        return coco, 1  # COCO's person files: as they are
    kept = []
    for ann in anns:
        if ann.get("category_id", 1) not in ids:
            continue
        ann = {**ann, "category_id": ids[0]}
        if "num_keypoints" not in ann:
            ann["num_keypoints"] = int(np.count_nonzero(np.asarray(ann.get("keypoints", []))[2::3]))
        if "area" not in ann and "bbox" in ann:
            ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
        kept.append(ann)
    pooled = COCO()
    pooled.dataset = {
        **coco.dataset,
        "annotations": kept,
        "categories": [{"id": ids[0], "name": "+".join(str(i) for i in ids)}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        pooled.createIndex()
    return pooled, ids[0]


def _is_rank_zero() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
