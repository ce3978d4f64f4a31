"""The people of many images as crops for top-down prediction, made in DataLoader workers:
each image is decoded, its boxes (given and clipped, a detector's, or the whole image)
cropped at the codec's input size in a worker, so that the main process only runs the
network."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ...codecs.crops import crop_people
from ...codecs.heatmap_codec import HeatmapCodec
from ...formats.boxes import clip_boxes
from ..images import ImageReadError, read_rgb


class PredictionCrops(Dataset):
    """Image ``i`` of ``images`` (keyed by ``keys[i]`` in the results) -> a dict with
    ``index`` (i), ``crops`` (N, 3, h, w) float32, ``centers``/``scales`` (N, 2),
    ``boxes`` (N, 4) [x, y, w, h] as cropped; or, for an image that cannot
    be decoded, ``index`` and ``error`` (the reason, naming the file): the caller counts and
    reports it. ``boxes`` maps an image's key to its boxes (N, 4), clipped to the image;
    images without an entry get ``find_boxes(image)`` ((H, W, 3) uint8 RGB -> (N, 4 or 5)
    [x, y, w, h(, score)], a person detector, run in the worker as it is), else one
    whole-image box. ``find_boxes`` must pickle when workers start by spawn or forkserver."""

    def __init__(
        self,
        images: Sequence[Path],
        keys: Sequence[str],
        codec: HeatmapCodec,
        boxes: Mapping[str, np.ndarray] | None = None,
        find_boxes: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if len(images) != len(keys):
            raise ValueError(f"{len(images)} images but {len(keys)} keys")
        self.images, self.keys, self.codec = list(images), list(keys), codec
        self.boxes = dict(boxes or {})
        self.find_boxes = find_boxes

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        try:
            image = read_rgb(self.images[index])
        except ImageReadError as error:
            return {"index": index, "error": str(error)}
        h, w = image.shape[:2]
        given = self.boxes.get(self.keys[index])
        if given is not None:
            xywh = clip_boxes(np.asarray(given, np.float64)[:, :4], w, h)[0]
        elif self.find_boxes is not None:  # as PoseEstimator takes them: not clipped
            found = np.asarray(self.find_boxes(image), np.float64)
            xywh = found[:, :4] if found.size else np.zeros((0, 4))
        else:
            xywh = np.asarray([[0, 0, w, h]], np.float64)
        crops, centers, scales = crop_people(image, xywh.astype(np.float32), self.codec)
        return {
            "index": index,
            "crops": torch.from_numpy(crops),
            "centers": torch.from_numpy(np.asarray(centers, np.float32)),
            "scales": torch.from_numpy(np.asarray(scales, np.float32)),
            "boxes": torch.from_numpy(xywh.astype(np.float32)),
        }


def collate_prediction_crops(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Samples of ``PredictionCrops`` -> one batch: the crops of every readable image
    concatenated (M, 3, h, w) with ``image_of`` (M,) giving each crop's position in
    ``indices``; ``indices`` the readable images, ``boxes`` their boxes (a list), and
    ``errors`` {index: reason} for the others."""
    readable = [s for s in samples if "error" not in s]
    batch: dict[str, Any] = {
        "indices": [s["index"] for s in readable],
        "errors": {s["index"]: s["error"] for s in samples if "error" in s},
        "boxes": [s["boxes"] for s in readable],
    }
    for name in ("crops", "centers", "scales"):
        parts = [s[name] for s in readable]
        batch[name] = torch.cat(parts) if parts else torch.zeros(0)
    counts = [len(s["crops"]) for s in readable]
    batch["image_of"] = torch.repeat_interleave(
        torch.arange(len(readable)), torch.as_tensor(counts, dtype=torch.long)
    )
    return batch
