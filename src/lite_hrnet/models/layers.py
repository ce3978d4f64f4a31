"""Small reusable layers: conv-norm-act with the official parameter names, channel shuffle."""

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


def channels_innermost(x: torch.Tensor) -> bool:
    """Whether (B, C, H, W) ``x`` is laid out channels-last: a channels-last tensor or a
    channel slice of one (and not also NCHW-contiguous, as a (B, C, 1, 1) tensor is)."""
    return x.stride(1) == 1 and not x.is_contiguous()


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle of (B, C, H, W); C must be divisible by ``groups``.

    The output keeps a channels-last input's memory format: ``contiguous()`` would turn it
    back to NCHW, and every following convolution and BatchNorm then mixes layouts, which
    costs oneDNN a reorder per call and ATen's BatchNorm backward up to 5x.
    """
    b, c, h, w = x.shape
    if not channels_innermost(x):
        x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
        return x.view(b, c, h, w)
    out = torch.empty_like(x)  # channels-last; its channel axis splits as a view
    out.view(b, c // groups, groups, h, w).copy_(
        x.view(b, groups, c // groups, h, w).transpose(1, 2)
    )
    return out


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
