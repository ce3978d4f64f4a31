"""Segmentation inference: whole image or sliding window, with multi-scale and flip test.

The model maps (B, 3, h, w) with h, w multiples of ``model.input_multiple`` to logits
(B, K, h/s, w/s) at its output stride s (4 for Lite-HRNet). Inputs of any size are padded
at the bottom and right (with 0, the mean colour after normalisation) and the padding is
cropped off the upsampled result. Sliding windows are accumulated at the output stride and
upsampled once, so windows that tile the image exactly give the same logits as one
whole-image pass of a model without cross-window context. ``model`` is a plain
``nn.Module``: no Lightning and no DataModule here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _round_up(value: int, multiple: int) -> int:
    return math.ceil(value / multiple) * multiple


def _model_strides(model: nn.Module) -> tuple[int, int]:
    return getattr(model, "input_multiple", 32), getattr(model, "output_stride", 4)


@torch.no_grad()
def segment_logits(
    model: nn.Module,
    images: torch.Tensor,
    window: Sequence[int] | None = None,
    stride: Sequence[int] | None = None,
) -> torch.Tensor:
    """Logits (B, K, H, W) at the size of ``images`` (B, 3, H, W), in one scale.

    Args:
        window: sliding-window size (h, w), multiples of ``model.input_multiple``; None
            runs the whole (padded) image at once.
        stride: window step (h, w), multiples of the output stride; defaults to ``window``
            (no overlap). Overlapping windows are averaged.
    """
    multiple, out_stride = _model_strides(model)
    h, w = images.shape[-2:]
    ph, pw = _round_up(h, multiple), _round_up(w, multiple)
    if window is not None:
        wh, ww = (int(v) for v in window)
        sh, sw = (wh, ww) if stride is None else (int(v) for v in stride)
        if wh % multiple or ww % multiple:
            raise ValueError(f"window {(wh, ww)}: both sizes must be multiples of {multiple}")
        if sh < 1 or sw < 1 or sh % out_stride or sw % out_stride:
            raise ValueError(
                f"stride {(sh, sw)}: both steps must be positive multiples of {out_stride}"
            )
        ph, pw = max(ph, wh), max(pw, ww)
    padded = F.pad(images, (0, pw - w, 0, ph - h))
    if window is None:
        logits = model(padded)
    else:
        logits = _slide(model, padded, (wh, ww), (sh, sw), out_stride)
    logits = F.interpolate(logits, size=(ph, pw), mode="bilinear", align_corners=False)
    return logits[..., :h, :w]


def _slide(
    model: nn.Module,
    images: torch.Tensor,
    window: tuple[int, int],
    stride: tuple[int, int],
    out_stride: int,
) -> torch.Tensor:
    """Average of window logits at the output stride: (B, K, H/out_stride, W/out_stride)."""
    (h, w), (wh, ww), (sh, sw) = images.shape[-2:], window, stride
    rows = max(h - wh + sh - 1, 0) // sh + 1
    cols = max(w - ww + sw - 1, 0) // sw + 1
    total: torch.Tensor | None = None
    count = images.new_zeros(1, 1, h // out_stride, w // out_stride)
    for r in range(rows):
        for c in range(cols):
            # The last window of a row or column is shifted back to end at the border.
            y1 = max(min(r * sh + wh, h) - wh, 0)
            x1 = max(min(c * sw + ww, w) - ww, 0)
            out = model(images[..., y1 : y1 + wh, x1 : x1 + ww])
            if total is None:
                total = out.new_zeros(*out.shape[:2], h // out_stride, w // out_stride)
            ys, xs = (
                slice(y1 // out_stride, (y1 + wh) // out_stride),
                slice(x1 // out_stride, (x1 + ww) // out_stride),
            )
            total[..., ys, xs] += out
            count[..., ys, xs] += 1
    return total / count


@torch.no_grad()
def segment_probabilities(
    model: nn.Module,
    images: torch.Tensor,
    scales: Sequence[float] = (1.0,),
    flip: bool = False,
    window: Sequence[int] | None = None,
    stride: Sequence[int] | None = None,
) -> torch.Tensor:
    """Class probabilities (B, K, H, W), averaged over ``scales`` and, with ``flip``, mirrors.

    Each scale resizes ``images`` (B, 3, H, W) bilinearly by that factor, runs
    ``segment_logits`` (whole image or sliding ``window``), resizes the logits back to
    (H, W) and takes the softmax over K.
    """
    if not scales or min(scales) <= 0:
        raise ValueError(f"scales: expected positive factors, got {list(scales)}")
    h, w = images.shape[-2:]
    total: torch.Tensor | None = None
    for scale in scales:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        scaled = images
        if size != (h, w):
            scaled = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        for mirrored in (False, True) if flip else (False,):
            x = scaled.flip(-1) if mirrored else scaled
            logits = segment_logits(model, x, window, stride)
            if mirrored:
                logits = logits.flip(-1)
            if size != (h, w):
                logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            probs = logits.softmax(dim=1)
            total = probs if total is None else total + probs
    return total / (len(scales) * (2 if flip else 1))
