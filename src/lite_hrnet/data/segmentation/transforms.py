"""Training and evaluation transforms for semantic segmentation (albumentations).

Every transform takes an (H, W, 3) uint8 RGB image and an (H, W) uint8 trainId label and
returns an image tensor (3, H', W') float32, normalised with the ImageNet statistics, and a
label tensor (H', W') int64 with ignore = 255. Geometric steps act on both arrays with the
same parameters (nearest-neighbour for the label), so image and label stay aligned.
Sizes are given as (H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
import numpy as np
import torch

from ...meta.cityscapes import IGNORE_INDEX
from ...meta.imagenet import IMAGENET_MEAN, IMAGENET_STD

# Padded image pixels get the mean colour, i.e. 0 after normalisation (as HRNet pads).
_PAD_FILL = tuple(round(255 * m) for m in IMAGENET_MEAN)
# cv2.INTER_NEAREST samples half a pixel off the grid that INTER_LINEAR uses for the image;
# INTER_NEAREST_EXACT samples pixel centres, so resized labels stay on their pixels.
_LABEL_RESIZE = cv2.INTER_NEAREST_EXACT


class SegmentationTransform:
    """An albumentations pipeline on (image, label), then conversion to tensors.

    With ``resize_label=False`` only the image goes through ``pipeline`` (which must then
    be photometric or a resize): evaluation resizes the input but scores the prediction
    against the label at its original size.
    """

    def __init__(self, pipeline: A.Compose, resize_label: bool = True) -> None:
        self.pipeline = pipeline
        self.resize_label = resize_label

    def __call__(self, image: np.ndarray, label: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        if self.resize_label:
            out = self.pipeline(image=image, mask=label)
            image, label = out["image"], out["mask"]
        else:
            image = self.pipeline(image=image)["image"]
        image_t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        return image_t.float(), torch.from_numpy(np.ascontiguousarray(label)).long()

    def __repr__(self) -> str:
        steps = ", ".join(type(t).__name__ for t in self.pipeline.transforms)
        return f"{type(self).__name__}([{steps}], resize_label={self.resize_label})"


def _check_size(name: str, size: Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{name}: expected (H, W) with positive sizes, got {size}")
    return int(size[0]), int(size[1])


def build_train_transform(
    crop_size: Sequence[int] = (512, 1024),
    scale_range: Sequence[float] = (0.5, 2.0),
    base_size: Sequence[int] | None = None,
    flip_prob: float = 0.5,
    color_jitter: float = 0.3,
    hue_jitter: float = 0.05,
    jitter_prob: float = 0.8,
) -> SegmentationTransform:
    """HRNet's training augmentation.

    An optional resize of the whole image to ``base_size`` (the paper's half-resolution
    setting uses (512, 1024)); a random scale in ``scale_range``; padding to ``crop_size``
    (image with the mean colour, label with ignore); a random ``crop_size`` crop; a
    horizontal flip with ``flip_prob``; photometric jitter (brightness, contrast and
    saturation +-``color_jitter``, hue +-``hue_jitter``) with probability ``jitter_prob``.
    """
    crop = _check_size("crop_size", crop_size)
    base = _check_size("base_size", base_size)
    low, high = scale_range
    if not 0 < low <= high:
        raise ValueError(f"scale_range: expected 0 < low <= high, got {tuple(scale_range)}")
    steps: list[A.BasicTransform] = []
    if base is not None:
        steps.append(
            A.Resize(*base, interpolation=cv2.INTER_LINEAR, mask_interpolation=_LABEL_RESIZE)
        )
    steps += [
        A.RandomScale(
            scale_limit=(low - 1, high - 1),
            interpolation=cv2.INTER_LINEAR,
            mask_interpolation=_LABEL_RESIZE,
            p=1.0,
        ),
        A.PadIfNeeded(
            min_height=crop[0],
            min_width=crop[1],
            position="top_left",
            border_mode=cv2.BORDER_CONSTANT,
            fill=_PAD_FILL,
            fill_mask=IGNORE_INDEX,
        ),
        A.RandomCrop(*crop),
        A.HorizontalFlip(p=flip_prob),
    ]
    if color_jitter > 0 or hue_jitter > 0:
        # After the crop: the jitter then costs crop pixels, not (scaled) image pixels.
        j = color_jitter
        steps.append(
            A.ColorJitter(
                brightness=(1 - j, 1 + j),
                contrast=(1 - j, 1 + j),
                saturation=(1 - j, 1 + j),
                hue=(-hue_jitter, hue_jitter),
                p=jitter_prob,
            )
        )
    steps.append(A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD))
    return SegmentationTransform(A.Compose(steps))


def build_eval_transform(base_size: Sequence[int] | None = None) -> SegmentationTransform:
    """Normalisation, and with ``base_size`` a resize of the image alone to (H, W).

    The label keeps its size: predictions are upsampled to it before scoring.
    """
    base = _check_size("base_size", base_size)
    steps: list[A.BasicTransform] = []
    if base is not None:
        steps.append(A.Resize(*base, interpolation=cv2.INTER_LINEAR))
    steps.append(A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD))
    return SegmentationTransform(A.Compose(steps), resize_label=base is None)


def normalize_image(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 ImageNet-normalised tensor (for inference)."""
    mean = np.asarray(IMAGENET_MEAN, np.float32) * 255
    std = np.asarray(IMAGENET_STD, np.float32) * 255
    normalized = (image.astype(np.float32) - mean) / std
    return torch.from_numpy(np.ascontiguousarray(normalized.transpose(2, 0, 1)))
