"""The building blocks of Lite-HRNet (Yu et al., CVPR 2021): the stem, the conditional
channel weighting (LITE) and shuffle (NAIVE) blocks, the multi-branch module with its fuse
layers, and the iterative head.

Module and parameter names follow the official implementation (HRNet/Lite-HRNet, mmpose
0.x) so that the published checkpoints load without renaming. The forward pass computes
the same function as the official one, including its fuse-layer quirk (see
``LiteHRModule``), while avoiding constructions that block exporters and compilers:
no data-dependent ``adaptive_avg_pool2d`` sizes, no in-place aliasing, no ``None`` checks
on submodules.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .layers import ConvModule, Interpolate, adaptive_avg_pool_to, channel_shuffle
from .spec import SPATIAL_WEIGHTING_RATIO

# --------------------------------------------------------------------------- checkpointing


@contextmanager
def _frozen_bn_statistics(module: nn.Module) -> Iterator[None]:
    """Keep BatchNorm running statistics unchanged while a checkpointed block is recomputed.

    Without this every recompute during backward updates the statistics a second time.
    """
    norms = [
        m
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


def _maybe_checkpoint(module: nn.Module, fn: Callable[..., Any], *inputs: torch.Tensor) -> Any:
    """Run ``fn(*inputs)``, under gradient checkpointing when the module asks for it."""
    if module.with_cp and torch.is_grad_enabled() and module.training:
        return checkpoint(
            fn,
            *inputs,
            use_reentrant=False,
            context_fn=lambda: (nullcontext(), _frozen_bn_statistics(module)),
        )
    return fn(*inputs)


# --------------------------------------------------------------------------- blocks


class Stem(nn.Module):
    """3x3 stride-2 conv, then a ShuffleNet-style stride-2 unit.

    (B, 3, H, W) -> (B, out_channels, H/4, W/4).
    """

    def __init__(
        self,
        in_channels: int,
        stem_channels: int,
        out_channels: int,
        expand_ratio: float,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.out_channels = out_channels
        mid_channels = round(stem_channels * expand_ratio)
        half = stem_channels // 2
        if stem_channels == out_channels:
            inc_channels, linear_out = out_channels - half, half
        else:
            inc_channels, linear_out = out_channels - stem_channels, stem_channels

        self.conv1 = ConvModule(in_channels, stem_channels, 3, stride=2)
        self.branch1 = nn.Sequential(
            ConvModule(half, half, 3, stride=2, groups=half, act=None),
            ConvModule(half, inc_channels, 1),
        )
        self.expand_conv = ConvModule(half, mid_channels, 1)
        self.depthwise_conv = ConvModule(
            mid_channels, mid_channels, 3, stride=2, groups=mid_channels, act=None
        )
        self.linear_conv = ConvModule(mid_channels, linear_out, 1)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.conv1(x).chunk(2, dim=1)
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(x2)))
        return channel_shuffle(torch.cat((self.branch1(x1), x2), dim=1), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _maybe_checkpoint(self, self._forward, x)


class SpatialWeighting(nn.Module):
    """Squeeze-excitation style channel gate from global context: (B, C, H, W) -> same."""

    def __init__(self, channels: int, ratio: int = SPATIAL_WEIGHTING_RATIO) -> None:
        super().__init__()
        # nn.AdaptiveAvgPool2d(1) rather than a mean: the paper's FLOP count includes it.
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, channels // ratio, norm=False)
        self.conv2 = ConvModule(channels // ratio, channels, norm=False, act=nn.Sigmoid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class CrossResolutionWeighting(nn.Module):
    """Channel weights computed from all branches pooled to the smallest resolution.

    Input and output: a list of (B, C_b, H_b, W_b), one per branch.
    """

    def __init__(self, channels: Sequence[int], ratio: int) -> None:
        super().__init__()
        self.channels = list(channels)
        total = sum(channels)
        self.conv1 = ConvModule(total, total // ratio)
        self.conv2 = ConvModule(total // ratio, total, act=nn.Sigmoid)
        self.upsample = Interpolate("nearest")  # the weights back to each branch's size

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        h, w = xs[-1].shape[-2:]
        pooled = [adaptive_avg_pool_to(x, (h, w)) for x in xs[:-1]] + [xs[-1]]
        weights = self.conv2(self.conv1(torch.cat(pooled, dim=1)))
        return [
            x * self.upsample(a, x.shape[-2:])
            for x, a in zip(xs, torch.split(weights, self.channels, dim=1))
        ]


class ConditionalChannelWeighting(nn.Module):
    """The LITE block: half of every branch goes through cross-resolution weighting, a 3x3
    depthwise conv and spatial weighting; the halves are concatenated and shuffled.

    Input and output: a list of (B, C_b, H_b, W_b), one per branch.
    """

    def __init__(self, channels: Sequence[int], reduce_ratio: int, with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        halves = [c // 2 for c in channels]
        self.cross_resolution_weighting = CrossResolutionWeighting(halves, ratio=reduce_ratio)
        self.depthwise_convs = nn.ModuleList(
            ConvModule(c, c, 3, groups=c, act=None) for c in halves
        )
        self.spatial_weighting = nn.ModuleList(SpatialWeighting(c) for c in halves)

    def _forward(self, *xs: torch.Tensor) -> list[torch.Tensor]:
        splits = [x.chunk(2, dim=1) for x in xs]
        x2 = self.cross_resolution_weighting([s[1] for s in splits])
        x2 = [sw(dw(x)) for x, dw, sw in zip(x2, self.depthwise_convs, self.spatial_weighting)]
        return [channel_shuffle(torch.cat((s[0], b), dim=1), 2) for s, b in zip(splits, x2)]

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        # The official with_cp path calls ``xs.requires_grad`` on a list and crashes.
        return list(_maybe_checkpoint(self, self._forward, *xs))


class ShuffleUnit(nn.Module):
    """ShuffleNetV2 unit at stride 1, the NAIVE block: (B, C, H, W) -> same shape."""

    def __init__(self, channels: int, with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        half = channels // 2
        self.branch2 = nn.Sequential(
            ConvModule(half, half, 1),
            ConvModule(half, half, 3, groups=half, act=None),
            ConvModule(half, half, 1),
        )

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat((x1, self.branch2(x2)), dim=1), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _maybe_checkpoint(self, self._forward, x)


def downsample(in_channels: int, out_channels: int, final_relu: bool) -> nn.Sequential:
    """3x3 depthwise stride-2 conv + BN, 1x1 conv + BN, optional ReLU (official layout)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, in_channels, 3, 2, 1, groups=in_channels, bias=False),
        nn.BatchNorm2d(in_channels),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
    ]
    if final_relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _make_fuse_layers(channels: Sequence[int]) -> nn.ModuleList:
    """``fuse_layers[i][j]`` maps branch j to branch i's resolution and width."""
    n = len(channels)
    rows = []
    for i in range(n):
        row: list[nn.Module] = []
        for j in range(n):
            if j > i:
                row.append(
                    nn.Sequential(
                        nn.Conv2d(channels[j], channels[i], 1, bias=False),
                        nn.BatchNorm2d(channels[i]),
                        nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                    )
                )
            elif j == i:
                row.append(nn.Identity())
            else:
                steps = [
                    downsample(channels[j], channels[j], final_relu=True) for _ in range(i - j - 1)
                ]
                steps.append(downsample(channels[j], channels[i], final_relu=False))
                row.append(nn.Sequential(*steps))
        rows.append(nn.ModuleList(row))
    return nn.ModuleList(rows)


class LiteHRModule(nn.Module):
    """One multi-branch module: blocks on every branch, then the cross-branch fuse.

    Input and output: a list of (B, C_b, H_b, W_b), one per branch.

    The official fuse starts branch 0's sum from ``y = out[0]`` and then adds ``out[0]`` again
    in place, so (a) branch 0 counts twice in output 0, and (b) ``out[0]`` now holds that
    pre-ReLU sum, which every lower-resolution output then receives, also twice. With
    ``fuse_branch0_twice=True`` this module computes exactly that; with False it computes
    the usual HRNet sum.
    """

    def __init__(
        self,
        channels: Sequence[int],
        num_blocks: int,
        reduce_ratio: int,
        module_type: str,
        with_fuse: bool = True,
        fuse_branch0_twice: bool = True,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.num_branches = len(channels)
        self.module_type = module_type
        self.with_fuse = with_fuse
        self.fuse_branch0_twice = fuse_branch0_twice
        if module_type == "LITE":
            self.layers: nn.Module = nn.Sequential(
                *(
                    ConditionalChannelWeighting(channels, reduce_ratio, with_cp)
                    for _ in range(num_blocks)
                )
            )
        else:
            self.layers = nn.ModuleList(
                nn.Sequential(*(ShuffleUnit(c, with_cp) for _ in range(num_blocks)))
                for c in channels
            )
        if with_fuse:
            self.fuse_layers = _make_fuse_layers(channels)
            self.relu = nn.ReLU()

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.module_type == "LITE":
            out = self.layers(xs)
        else:
            out = [branch(x) for branch, x in zip(self.layers, xs)]
        return self.fuse(out) if self.with_fuse else out

    def fuse(self, out: list[torch.Tensor]) -> list[torch.Tensor]:
        """The cross-branch exchange: output i sums branch j through ``fuse_layers[i][j]``."""
        fused = []
        x0 = out[0]
        for i, row in enumerate(self.fuse_layers):
            y = x0 if i == 0 else row[0](x0)
            if self.fuse_branch0_twice:
                y = y + y
            for j in range(1, i + 1):
                y = y + (out[j] if j == i else row[j](out[j]))
            y = self.add_coarser_terms(y, out, row, i)
            if i == 0 and self.fuse_branch0_twice:
                x0 = y  # the official in-place sum overwrote out[0]; later rows read it
            fused.append(self.relu(y))
        return fused

    def add_coarser_terms(
        self, y: torch.Tensor, out: list[torch.Tensor], row: nn.ModuleList, i: int
    ) -> torch.Tensor:
        """y + the upsampled terms of the branches coarser than i, in branch order.

        The one step of ``fuse`` that ``lite_hrnet.deploy`` computes differently.
        """
        for j in range(i + 1, self.num_branches):
            y = y + row[j](out[j])
        return y


class IterativeHead(nn.Module):
    """Coarse-to-fine aggregation: each branch adds the bilinearly upsampled result of the
    branch below it, then a depthwise-separable conv.

    Input: a list of (B, C_b, H_b, W_b) from fine to coarse. Output: a list from fine to
    coarse whose first entry is (B, C_0, H_0, W_0).
    """

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        coarse_to_fine = list(channels)[::-1]
        out = coarse_to_fine[1:] + coarse_to_fine[-1:]
        self.projects = nn.ModuleList(
            nn.Sequential(
                OrderedDict(
                    depthwise_conv=ConvModule(c_in, c_in, 3, groups=c_in, act=None),
                    pointwise_conv=ConvModule(c_in, c_out, 1),
                )
            )
            for c_in, c_out in zip(coarse_to_fine, out)
        )
        self.upsample = Interpolate("bilinear", align_corners=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        ys: list[torch.Tensor] = []
        for x, project in zip(xs[::-1], self.projects):
            if ys:
                x = x + self.upsample(ys[-1], x.shape[-2:])
            ys.append(project(x))
        return ys[::-1]
