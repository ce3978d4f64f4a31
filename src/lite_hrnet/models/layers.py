"""Small reusable layers: conv-norm-act with the official parameter names, channel shuffle,
resampling that compiles to fast training graphs."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


class ConvModule(nn.Sequential):
    """Conv2d, optional BatchNorm, optional activation: (B, C_in, H, W) -> (B, C_out, H', W').

    Children are named ``conv``, ``bn`` and ``act`` so that parameter names match mmcv's
    ``ConvModule`` (``conv.weight``, ``bn.running_mean``), which the official checkpoints use.
    The convolution has a bias only when there is no norm, as in mmcv (``bias='auto'``).
    Padding is ``kernel_size // 2`` ("same" for odd kernels at stride 1).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        norm: bool = True,
        act: type[nn.Module] | None = nn.ReLU,
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv"] = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=not norm,
        )
        if norm:
            layers["bn"] = nn.BatchNorm2d(out_channels)
        if act is not None:
            # In-place ReLU as in mmcv; the activation never follows a tensor that is reused.
            layers["act"] = act(inplace=True) if act is nn.ReLU else act()
        super().__init__(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        pointwise = conv.kernel_size == (1, 1) and conv.groups == 1
        if pointwise and x.shape[-2:] == (1, 1) and _compiling_for_inductor():
            # A (B, C, 1, 1) input (the spatial-weighting gates) is B vectors: a GEMM,
            # whose backward is two GEMMs. oneDNN's per-call set-up dominates such maps
            # (forward + backward of 40 -> 10 channels at batch 16: 0.28 ms as a
            # convolution, 0.07 ms as a GEMM).
            x = pointwise_conv_as_gemm(x, conv)
            for layer in list(self)[1:]:
                x = layer(x)
            return x
        return super().forward(x)


def pointwise_conv_as_gemm(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A 1x1, ungrouped, stride-1 ``conv`` as a matrix product over x's NHWC view:
    (B, C_in, H, W) -> (B*H*W, C_in) @ W^T -> (B, C_out, H, W)."""
    y = F.linear(x.permute(0, 2, 3, 1), conv.weight.flatten(1), conv.bias)
    return y.permute(0, 3, 1, 2)


def channels_innermost(x: torch.Tensor) -> bool:
    """Whether (B, C, H, W) ``x`` is laid out channels-last: a channels-last tensor or a
    channel slice of one (and not also NCHW-contiguous, as a (B, C, 1, 1) tensor is)."""
    return x.stride(1) == 1 and not x.is_contiguous()


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle of (B, C, H, W); C must be divisible by ``groups``.

    The output keeps a channels-last input's memory format: ``contiguous()`` would turn it
    back to NCHW, and every following convolution and BatchNorm then mixes layouts, which
    costs oneDNN a reorder per call and ATen's BatchNorm backward up to 5x. On the NHWC
    view the shuffle permutes each pixel's channel vector, which Inductor compiles to one
    pass (an ``empty_like`` + ``copy_`` into a channel view became NCHW intermediates and
    transposes there).
    """
    b, c, h, w = x.shape
    if not channels_innermost(x):
        x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
        return x.view(b, c, h, w)
    nhwc = x.permute(0, 2, 3, 1).reshape(b, h, w, groups, c // groups)
    return nhwc.transpose(3, 4).reshape(b, h, w, c).permute(0, 3, 1, 2)


def _compiling_for_inductor() -> bool:
    return torch.compiler.is_compiling() and not torch.compiler.is_exporting()


def _repeat_nearest(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest upsampling by an integer ``factor`` as a broadcast copy, in x's memory format.

    Inductor lowers ``F.interpolate``'s backward to a scatter-add (``index_put``) that it
    cannot vectorise: 10-15 ms per fuse layer in a compiled lite_hrnet_18 training step at
    batch 16. The backward of a broadcast is a plain sum. Eager keeps ``F.interpolate``.
    """
    b, c, h, w = x.shape
    if channels_innermost(x):
        y = x.permute(0, 2, 3, 1)[:, :, None, :, None, :].expand(b, h, factor, w, factor, c)
        return y.reshape(b, h * factor, w * factor, c).permute(0, 3, 1, 2)
    y = x[:, :, :, None, :, None].expand(b, c, h, factor, w, factor)
    return y.reshape(b, c, h * factor, w * factor)


def upsample_nearest_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.interpolate(x, size, mode="nearest")`` for a ``size`` that is the same integer
    multiple of x's H and W: (B, C, H, W) -> (B, C, size[0], size[1]).
    """
    if _compiling_for_inductor():
        (h, w), (out_h, out_w) = x.shape[-2:], size
        factor = out_h // h
        if factor * h != out_h or factor * w != out_w:
            raise ValueError(f"upsample_nearest_to: {(out_h, out_w)} is not {(h, w)} x an integer")
        return _repeat_nearest(x, factor)
    return F.interpolate(x, size=size, mode="nearest")


def _aligned_bilinear_weights(size_out: int, size_in: int, like: torch.Tensor) -> torch.Tensor:
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


def upsample_bilinear_aligned_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.interpolate(x, size, mode="bilinear", align_corners=True)``: (B, C, H, W) ->
    (B, C, size[0], size[1]), in x's memory format.

    When Inductor compiles a graph that differentiates through it, it runs as two matrix
    products with constant interpolation matrices (along W, then H, as ATen's kernel
    weighs them). Inductor lowers the interpolation's backward to a scatter-add that it
    cannot vectorise: 60 ms of a compiled lite_hrnet_18 training step at batch 16 for the
    iterative head's three upsamplings. A product's backward is a product. Elsewhere, and
    in inference graphs, where the gather fuses into the following add, it stays
    ``F.interpolate``.
    """
    if not (_compiling_for_inductor() and x.requires_grad):
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    (h, w), (out_h, out_w) = x.shape[-2:], size
    along_h = _aligned_bilinear_weights(out_h, h, x)  # (out_h, h)
    along_w = _aligned_bilinear_weights(out_w, w, x)  # (out_w, w)
    if channels_innermost(x):
        nhwc = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        y = torch.matmul(along_w, nhwc)  # (B, H, out_w, C)
        y = torch.matmul(along_h, y.flatten(2)).unflatten(2, (out_w, -1))  # (B, out_h, out_w, C)
        return y.permute(0, 3, 1, 2)
    y = torch.matmul(x, along_w.t())  # (B, C, H, out_w)
    return torch.matmul(along_h, y)  # (B, C, out_h, out_w)


class NearestUpsample(nn.Upsample):
    """``nn.Upsample(scale_factor=factor, mode="nearest")`` for an integer ``factor``; it
    runs as a broadcast copy under Inductor (see ``upsample_nearest_to``)."""

    def __init__(self, factor: int) -> None:
        super().__init__(scale_factor=factor, mode="nearest")
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _compiling_for_inductor():
            return _repeat_nearest(x, self.factor)
        return super().forward(x)


def adaptive_avg_pool_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` for an input that divides evenly into ``size``.

    Then adaptive pooling is exactly a strided average pool with a constant kernel, which
    exporters accept; the official code passes a traced size to ``adaptive_avg_pool2d``,
    which the TorchScript ONNX exporter rejects. The backbone checks its input size so that
    every branch divides evenly.
    """
    kernel = (int(x.shape[-2] // size[0]), int(x.shape[-1] // size[1]))
    return nn.functional.avg_pool2d(x, kernel, kernel)
