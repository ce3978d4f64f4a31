"""Compiling a task's network for training: ``compile_for_training``.

The reference model computes its resampling and its 1x1 convolutions the plain way. Under
Inductor, some of these plain ways are slow in a training graph, so before compiling, the
network's modules are swapped in place for equivalents that compute the same function
(``prepare_for_compiled_training``; the state-dict keys stay the same):

- nearest upsampling (the fuse layers' ``nn.Upsample`` and the cross-resolution gates'
  ``Interpolate``) as a broadcast copy: Inductor lowers ``interpolate``'s backward to a
  scatter-add that it cannot vectorise; the backward of a broadcast is a plain sum;
- the iterative head's align-corners bilinear ``Interpolate`` as two matrix products with
  constant interpolation matrices when gradients flow (a product's backward is a product);
  without gradients it stays ``F.interpolate``, whose gather fuses into the following add;
- 1x1 convolutions on (B, C, 1, 1) maps (the spatial-weighting gates) as GEMMs: oneDNN's
  per-call set-up dominates such maps.

Then ``torch.compile``, with Inductor's layout optimisation forced on for channels-last
training, and the bool-mask patch of ``inductor_patch``. None changes the math; the speed
of the compiled step against eager is in the training table of ``benchmarks/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..deploy.pointwise import PointwiseConv, swap_pointwise_convs
from ..models.layers import Interpolate, channels_innermost
from .inductor_patch import vectorise_bool_mask_loads


def repeat_nearest(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest upsampling of (B, C, H, W) by an integer ``factor`` as a broadcast copy, in
    x's memory format: (B, C, H * factor, W * factor)."""
    b, c, h, w = x.shape
    if channels_innermost(x):
        y = x.permute(0, 2, 3, 1)[:, :, None, :, None, :].expand(b, h, factor, w, factor, c)
        return y.reshape(b, h * factor, w * factor, c).permute(0, 3, 1, 2)
    y = x[:, :, :, None, :, None].expand(b, c, h, factor, w, factor)
    return y.reshape(b, c, h * factor, w * factor)


class BroadcastUpsample(nn.Upsample):
    """``nn.Upsample(scale_factor=factor, mode="nearest")`` for an integer ``factor``, as a
    broadcast copy (still an ``nn.Upsample``, so the paper's FLOP count is unchanged)."""

    def __init__(self, factor: int) -> None:
        super().__init__(scale_factor=factor, mode="nearest")
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return repeat_nearest(x, self.factor)


class BroadcastNearest(Interpolate):
    """``Interpolate("nearest")`` to a size that is the same integer multiple of x's H and
    W, as a broadcast copy."""

    def __init__(self) -> None:
        super().__init__("nearest")

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        (h, w), (out_h, out_w) = x.shape[-2:], size
        factor = out_h // h
        if factor * h != out_h or factor * w != out_w:
            raise ValueError(f"nearest upsampling: {(out_h, out_w)} is not {(h, w)} x an integer")
        return repeat_nearest(x, factor)


def aligned_bilinear_weights(size_out: int, size_in: int, like: torch.Tensor) -> torch.Tensor:
    """(size_out, size_in) matrix of ``align_corners=True`` bilinear weights along one axis.

    Source positions and weights follow ATen's CPU kernel in float32: scale (in-1)/(out-1),
    src = scale * i, i0 = floor(src), i1 = min(i0 + 1, in-1), w1 = src - i0, w0 = 1 - w1.
    """
    f32 = torch.float32
    scale = (
        torch.tensor(size_in - 1, dtype=f32) / (size_out - 1)
        if size_out > 1
        else torch.tensor(0.0, dtype=f32)
    )
    src = torch.arange(size_out, dtype=f32) * scale
    i0 = src.to(torch.int64)  # src >= 0, so truncation is floor
    w1 = src - i0.to(f32)
    i1 = (i0 + 1).clamp(max=size_in - 1)
    cols = torch.arange(size_in)
    # Pointwise (no scatter); where i0 == i1 (src = in-1, w1 = 0) the two terms add to 1.
    weights = (1 - w1)[:, None] * (cols == i0[:, None]) + w1[:, None] * (cols == i1[:, None])
    return weights.to(device=like.device, dtype=like.dtype)


class MatmulBilinear(Interpolate):
    """``Interpolate("bilinear", align_corners=True)``: (B, C, H, W) -> (B, C, *size), in
    x's memory format; with gradients, two matrix products (along W, then H, as ATen's
    kernel weighs them), otherwise ``F.interpolate``."""

    def __init__(self) -> None:
        super().__init__("bilinear", align_corners=True)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if not x.requires_grad:
            return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        (h, w), (out_h, out_w) = x.shape[-2:], size
        along_h = aligned_bilinear_weights(out_h, h, x)  # (out_h, h)
        along_w = aligned_bilinear_weights(out_w, w, x)  # (out_w, w)
        if channels_innermost(x):
            nhwc = x.permute(0, 2, 3, 1)  # (B, H, W, C)
            y = torch.matmul(along_w, nhwc)  # (B, H, out_w, C)
            y = torch.matmul(along_h, y.flatten(2)).unflatten(
                2, (out_w, -1)
            )  # (B, out_h, out_w, C)
            return y.permute(0, 3, 1, 2)
        y = torch.matmul(x, along_w.t())  # (B, C, H, out_w)
        return torch.matmul(along_h, y)  # (B, C, out_h, out_w)


class GemmOnVectors(PointwiseConv):
    """A 1x1 convolution that runs as a GEMM on (B, C, 1, 1) maps and as a convolution on
    any larger map."""

    def use_gemm(self, x: torch.Tensor) -> bool:
        return x.shape[-2:] == (1, 1)


def _replacement(module: nn.Module) -> nn.Module | None:
    if type(module) is nn.Upsample and module.mode == "nearest":
        factor = module.scale_factor
        if isinstance(factor, (int, float)) and float(factor).is_integer():
            return BroadcastUpsample(int(factor))
    if type(module) is Interpolate:
        if module.mode == "nearest":
            return BroadcastNearest()
        if module.mode == "bilinear" and module.align_corners:
            return MatmulBilinear()
    return None


def prepare_for_compiled_training(model: nn.Module) -> nn.Module:
    """Swap, in place, the resampling modules and the plain 1x1 convolutions of ``model``
    for their compile-friendly equivalents above. Returns ``model``."""
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            new = _replacement(child)
            if new is not None:
                setattr(parent, name, new)
    return swap_pointwise_convs(model, GemmOnVectors)


def compile_for_training(model: nn.Module, channels_last: bool, **kwargs: Any) -> Callable:
    """``model`` prepared for compiled training, and ``torch.compile(model.forward, **kwargs)``.

    The result is a function, not a module, so a LightningModule that keeps it keeps the
    plain parameter names in its state dict. With ``channels_last``, Inductor's layout
    optimisation is forced on: Inductor decides it per graph from the forward convolutions
    it sees, and the backward graph has none. There it ordered each convolution backward's
    input like the weight's strides; a channels-last depthwise weight (C, 1, 3, 3) ties C
    with W, so the input became an N, H, C, W copy and ATen ran its far slower
    non-channels-last depthwise backward. Forcing the optimisation keeps both graphs
    channels-last.
    """
    prepare_for_compiled_training(model)
    vectorise_bool_mask_loads()
    options = {"force_layout_optimization": True} if channels_last else None
    return torch.compile(model.forward, options=options, **kwargs)
