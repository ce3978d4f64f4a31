"""Small reusable layers: conv-norm-act with the official parameter names, channel shuffle."""

from __future__ import annotations

from collections import OrderedDict

import torch
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


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet channel shuffle of (B, C, H, W); C must be divisible by ``groups``."""
    b, c, h, w = x.shape
    x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(b, c, h, w)


def adaptive_avg_pool_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` for an input that divides evenly into ``size``.

    Then adaptive pooling is exactly a strided average pool with a constant kernel, which
    exporters accept; the official code passes a traced size to ``adaptive_avg_pool2d``,
    which the TorchScript ONNX exporter rejects. The backbone checks its input size so that
    every branch divides evenly.
    """
    kernel = (int(x.shape[-2] // size[0]), int(x.shape[-1] // size[1]))
    return nn.functional.avg_pool2d(x, kernel, kernel)
