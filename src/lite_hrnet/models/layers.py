"""Small reusable layers: conv-norm-act with the official parameter names, channel shuffle,
interpolation as a module, and the exporter-friendly adaptive pooling."""

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

    The output keeps the input's memory format: ``contiguous()`` would turn a channels-last
    input back to NCHW, and every following convolution and BatchNorm would then mix
    layouts. On the NHWC view the shuffle permutes each pixel's channel vector.
    """
    b, c, h, w = x.shape
    if not channels_innermost(x):
        x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
        return x.view(b, c, h, w)
    nhwc = x.permute(0, 2, 3, 1).reshape(b, h, w, groups, c // groups)
    return nhwc.transpose(3, 4).reshape(b, h, w, c).permute(0, 3, 1, 2)


class Interpolate(nn.Module):
    """``F.interpolate(x, size, mode=mode, align_corners=align_corners)`` as a module:
    (B, C, H, W) -> (B, C, size[0], size[1]).

    The official code calls ``F.interpolate`` inline; a parameterless module computes the
    same, adds no state-dict keys and counts no paper FLOPs, and gives other code (compiled
    training, ``lite_hrnet.tasks.compile``) a named place to put an equivalent.
    """

    def __init__(self, mode: str, align_corners: bool | None = None) -> None:
        super().__init__()
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(x, size=size, mode=self.mode, align_corners=self.align_corners)

    def extra_repr(self) -> str:
        corners = "" if self.align_corners is None else f", align_corners={self.align_corners}"
        return f"mode={self.mode!r}{corners}"


def adaptive_avg_pool_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` for an input that divides evenly into ``size``.

    Then adaptive pooling is exactly a strided average pool with a constant kernel, which
    exporters accept; the official code passes a traced size to ``adaptive_avg_pool2d``,
    which the TorchScript ONNX exporter rejects. The backbone checks its input size so that
    every branch divides evenly.
    """
    kernel = (int(x.shape[-2] // size[0]), int(x.shape[-1] // size[1]))
    return F.avg_pool2d(x, kernel, kernel)
