"""``Segmenter``: the class of every pixel of an image, from any model source.

>>> seg = Segmenter("runs/street/checkpoints/best.ckpt")  # doctest: +SKIP
>>> classes = seg("street.png")  # (H, W) class indices  # doctest: +SKIP
>>> drawn = seg.overlay("street.png", classes)  # the class table's palette  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..codecs.image import normalize_image
from ..formats.images import Image, as_rgb
from ..meta.class_table import ClassTable
from .drawing import overlay
from .segmentation import segment_probabilities
from .sources import Source, segmentation_source


class Segmenter:
    """Class maps of images: whole image or sliding window, over several scales and with
    the mirrored image averaged in (``inference.segmentation.segment_probabilities``, what
    the evaluation runs).

    Args:
        source: one of our segmentation ``.ckpt`` files, a plain ``.pth`` (``model=``
            names its variant unless the registry matches it), an AOTInductor package
            ``.pt2`` or an ONNX file of a fixed size (a window of that size slides over
            the image), or an ``nn.Module`` (see ``inference.sources``).
        device: the torch device the network runs on.
        model: the variant of a plain state dict.
        num_classes: the class count of a checkpoint that names no classes.
        window: sliding-window (H, W), multiples of 32; default the source's (whole
            images for checkpoints that store none).
        stride: the window's step (H, W), multiples of 4; default the window (no overlap).
        scales: resize factors whose probabilities are averaged; default the source's,
            else (1.0,).
        flip: average in the mirrored image; default the source's, else off.
        base_size: resize images to (H, W) before the network (the class map keeps the
            image's size).

    Attributes:
        network: the callable images (B, 3, H, W) -> logits (B, C, H/4, W/4).
        class_table: the ``ClassTable`` (names, palette, ignore index, label ids).
        source: the ``SegmentationSource`` it was built from.
    """

    def __init__(
        self,
        source: Source,
        device: str | torch.device = "cpu",
        *,
        model: str | None = None,
        num_classes: int | None = None,
        window: Sequence[int] | None = None,
        stride: Sequence[int] | None = None,
        scales: Sequence[float] | None = None,
        flip: bool | None = None,
        base_size: Sequence[int] | None = None,
    ) -> None:
        self.source = segmentation_source(source, model=model, num_classes=num_classes)
        stored = self.source.settings
        self.class_table: ClassTable = self.source.class_table
        self.scales = tuple(scales or stored.get("scales") or (1.0,))
        if not self.scales or min(self.scales) <= 0:
            raise ValueError(f"scales: expected positive factors, got {list(self.scales)}")
        self.flip = bool(stored.get("flip", False) if flip is None else flip)
        if window is not None:  # a new window: its step given or the window itself
            self.window, self.stride = tuple(window), tuple(stride) if stride else None
        else:
            self.window = tuple(stored["window"]) if stored.get("window") else None
            step = stride or stored.get("stride")
            self.stride = tuple(step) if step else None
        self.base_size = tuple(base_size) if base_size else None
        self.device = torch.device(device)
        network = self.source.network
        if isinstance(network, torch.nn.Module) and not hasattr(network, "session"):
            network = network.to(self.device).eval()
        self.network = network

    def probabilities(self, image: Image) -> np.ndarray:
        """Class probabilities (C, H, W) float32 of an image (H, W, 3) uint8 RGB or file."""
        rgb = as_rgb(image)
        x = torch.from_numpy(normalize_image(rgb))[None].to(self.device)
        if self.base_size is not None:
            x = F.interpolate(x, size=self.base_size, mode="bilinear", align_corners=False)
        probs = segment_probabilities(
            self.network, x, self.scales, self.flip, self.window, self.stride
        )
        if tuple(probs.shape[-2:]) != rgb.shape[:2]:  # resized to base_size
            probs = F.interpolate(probs, size=rgb.shape[:2], mode="bilinear", align_corners=False)
        return probs[0].float().cpu().numpy()

    def __call__(self, images: Image | Sequence[Image]) -> np.ndarray | list[np.ndarray]:
        """The (H, W) int64 class map of an image, or a list of them for a list."""
        if isinstance(images, (list, tuple)):
            return [self(image) for image in images]
        return self.probabilities(images).argmax(axis=0).astype(np.int64)

    def overlay(
        self, image: Image, class_map: np.ndarray | None = None, alpha: float = 0.5
    ) -> np.ndarray:
        """``image`` (H, W, 3) uint8 RGB blended with ``class_map`` (default: its
        prediction) in the class table's palette."""
        rgb = as_rgb(image)
        classes = self(rgb) if class_map is None else class_map
        return overlay(rgb, classes, alpha, palette=self.class_table.palette)

    def settings(self) -> dict[str, Any]:
        """The test-time settings, in ``SegmentationTaskConfig``'s ``val_*`` names."""
        return {
            "val_scales": list(self.scales),
            "val_flip": self.flip,
            "val_window": list(self.window) if self.window else None,
            "val_stride": list(self.stride) if self.stride else None,
        }

    def __repr__(self) -> str:
        where = self.source.path or type(self.source.network).__name__
        window = f"window {self.window}" if self.window else "whole image"
        return (
            f"Segmenter({where}, {self.class_table.num_classes} classes, {window}, scales "
            f"{list(self.scales)}, flip {'on' if self.flip else 'off'})"
        )
