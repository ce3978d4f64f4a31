"""Training and evaluation transforms for semantic segmentation (albumentations).

Every transform takes an (H, W, 3) uint8 RGB image and an (H, W) uint8 class map and
returns an image tensor (3, H', W') float32, normalised as every input is
(``codecs.image.normalize_image``), and a label tensor (H', W') int64 (padding: the
config's ``ignore_index``).
Geometric steps act on both arrays with the same parameters (nearest-neighbour for the
label), so image and label stay aligned. Sizes are given as [H, W].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import albumentations as A
import cv2
import numpy as np
import torch

from ...checks import check, is_size
from ...codecs.image import normalize_image
from ...meta.imagenet import IMAGENET_MEAN
from ..random_state import reseed_from_torch

# Padded image pixels get the mean colour, i.e. 0 after normalisation (as HRNet pads).
_PAD_FILL = tuple(round(255 * m) for m in IMAGENET_MEAN)
# cv2.INTER_NEAREST samples half a pixel off the grid that INTER_LINEAR uses for the image;
# INTER_NEAREST_EXACT samples pixel centres, so resized labels stay on their pixels.
_LABEL_RESIZE = cv2.INTER_NEAREST_EXACT


@dataclass
class SegmentationTransformConfig:
    """HRNet's Cityscapes augmentation (the paper's recipe by default). Sizes are [H, W].

    ``input_size`` is the training crop; ``base_size`` resizes whole images first (the
    half-resolution setting, [512, 1024]), for training and for the evaluation input.
    Photometric jitter: brightness, contrast and saturation +-``color_jitter``, hue
    +-``hue_jitter``, with probability ``jitter_prob``.
    """

    input_size: list[int] = field(default_factory=lambda: [512, 1024])
    scale_range: list[float] = field(default_factory=lambda: [0.5, 2.0])
    base_size: list[int] | None = None
    flip_prob: float = 0.5
    color_jitter: float = 0.3
    hue_jitter: float = 0.05
    jitter_prob: float = 0.8
    ignore_index: int = 255  # the label of pixels without a class (padding included)

    def validate(self) -> None:
        check(0 <= self.ignore_index <= 255, "data.ignore_index", "in 0..255 (masks are 8-bit)")
        check(is_size(self.input_size, 32), "data.input_size",
              f"[H, W] with multiples of 32, got {self.input_size}")  # fmt: skip
        low_high = len(self.scale_range) == 2 and 0 < self.scale_range[0] <= self.scale_range[1]
        check(low_high, "data.scale_range",
              f"[low, high] with 0 < low <= high, got {self.scale_range}")  # fmt: skip
        if self.base_size is not None:
            check(is_size(self.base_size), "data.base_size",
                  f"[H, W] with positive sizes, got {self.base_size}")  # fmt: skip
        for key in ("flip_prob", "jitter_prob"):
            check(0 <= getattr(self, key) <= 1, f"data.{key}", "a probability in [0, 1]")
        check(self.color_jitter >= 0, "data.color_jitter", "must be >= 0")
        check(0 <= self.hue_jitter <= 0.5, "data.hue_jitter", "in [0, 0.5]")


class SegmentationTransform:
    """An albumentations pipeline on (image, label), then the normalisation and tensors.

    With ``resize_label=False`` only the image goes through ``pipeline`` (which must then
    be photometric or a resize): evaluation resizes the input but scores the prediction
    against the label at its original size. With ``random=True`` the pipeline is reseeded
    from torch's generator before every call (``data.random_state``), so the augmentations
    follow ``seed`` as the pose pipeline's draws do.
    """

    def __init__(
        self, pipeline: A.Compose, resize_label: bool = True, random: bool = False
    ) -> None:
        self.pipeline = pipeline
        self.resize_label = resize_label
        self.random = random

    def __call__(self, image: np.ndarray, label: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        if self.random:
            reseed_from_torch(self.pipeline)
        if self.resize_label:
            out = self.pipeline(image=image, mask=label)
            image, label = out["image"], out["mask"]
        else:
            image = self.pipeline(image=image)["image"]
        image_t = torch.from_numpy(normalize_image(image))
        return image_t, torch.from_numpy(np.ascontiguousarray(label)).long()

    def __repr__(self) -> str:
        steps = ", ".join(type(t).__name__ for t in self.pipeline.transforms)
        return f"{type(self).__name__}([{steps}], resize_label={self.resize_label})"


def build_train_transform(
    cfg: SegmentationTransformConfig | None = None,
) -> SegmentationTransform:
    """HRNet's training augmentation, from ``cfg`` (the defaults: the paper's recipe).

    An optional resize of the whole image to ``base_size``; a random scale in
    ``scale_range``; padding to the ``input_size`` crop (image with the mean colour, label
    with ignore); a random crop; a horizontal flip with ``flip_prob``; photometric jitter.
    """
    cfg = cfg or SegmentationTransformConfig()
    cfg.validate()
    low, high = cfg.scale_range
    steps: list[A.BasicTransform] = []
    if cfg.base_size is not None:
        steps.append(
            A.Resize(
                *cfg.base_size, interpolation=cv2.INTER_LINEAR, mask_interpolation=_LABEL_RESIZE
            )
        )
    steps += [
        A.RandomScale(
            scale_limit=(low - 1, high - 1),
            interpolation=cv2.INTER_LINEAR,
            mask_interpolation=_LABEL_RESIZE,
            p=1.0,
        ),
        A.PadIfNeeded(
            min_height=cfg.input_size[0],
            min_width=cfg.input_size[1],
            position="top_left",
            border_mode=cv2.BORDER_CONSTANT,
            fill=_PAD_FILL,
            fill_mask=cfg.ignore_index,
        ),
        A.RandomCrop(*cfg.input_size),
        A.HorizontalFlip(p=cfg.flip_prob),
    ]
    if cfg.color_jitter > 0 or cfg.hue_jitter > 0:
        # After the crop: the jitter then costs crop pixels, not (scaled) image pixels.
        j = cfg.color_jitter
        steps.append(
            A.ColorJitter(
                brightness=(1 - j, 1 + j),
                contrast=(1 - j, 1 + j),
                saturation=(1 - j, 1 + j),
                hue=(-cfg.hue_jitter, cfg.hue_jitter),
                p=cfg.jitter_prob,
            )
        )
    return SegmentationTransform(A.Compose(steps), random=True)


def build_eval_transform(base_size: Sequence[int] | None = None) -> SegmentationTransform:
    """The normalisation, and with ``base_size`` a resize of the image alone to (H, W).

    The label keeps its size: predictions are upsampled to it before scoring.
    """
    if base_size is not None:
        check(is_size(base_size), "base_size", f"[H, W] with positive sizes, got {base_size}")
    steps: list[A.BasicTransform] = []
    if base_size is not None:
        steps.append(A.Resize(*base_size, interpolation=cv2.INTER_LINEAR))
    return SegmentationTransform(A.Compose(steps), resize_label=base_size is None)
