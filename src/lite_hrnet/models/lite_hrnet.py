"""Lite-HRNet: A Lightweight High-Resolution Network (Yu et al., CVPR 2021).

Module and parameter names follow the official implementation (HRNet/Lite-HRNet, mmpose
0.x) so that the published checkpoints load without renaming. The forward pass computes
the same function as the official one, including its fuse-layer quirk (see
``LiteHRModule``), while avoiding constructions that block exporters and compilers:
no data-dependent ``adaptive_avg_pool2d`` sizes, no in-place aliasing, no ``None`` checks
on submodules.

Layout: variant specs, blocks, the module and the backbone, the features variant, then the
builder and the registered entry points.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .layers import (
    ConvModule,
    NearestUpsample,
    adaptive_avg_pool_to,
    channel_shuffle,
    upsample_bilinear_aligned_to,
    upsample_nearest_to,
)
from .registry import register_model
from .spec import SPATIAL_WEIGHTING_RATIO, LiteHRNetSpec

VARIANT_SPECS: dict[str, LiteHRNetSpec] = {
    "lite_hrnet_18": LiteHRNetSpec(num_modules=(2, 4, 2)),
    "lite_hrnet_30": LiteHRNetSpec(num_modules=(3, 8, 3)),
    "naive_lite_hrnet_18": LiteHRNetSpec(
        num_modules=(2, 4, 2), channels=(30, 60, 120, 240), module_type="NAIVE"
    ),
    "wider_naive_lite_hrnet_18": LiteHRNetSpec(num_modules=(2, 4, 2), module_type="NAIVE"),
}


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

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        h, w = xs[-1].shape[-2:]
        pooled = [adaptive_avg_pool_to(x, (h, w)) for x in xs[:-1]] + [xs[-1]]
        weights = self.conv2(self.conv1(torch.cat(pooled, dim=1)))
        return [
            x * upsample_nearest_to(a, x.shape[-2:])
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


def _downsample(in_channels: int, out_channels: int, final_relu: bool) -> nn.Sequential:
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
                        NearestUpsample(2 ** (j - i)),
                    )
                )
            elif j == i:
                row.append(nn.Identity())
            else:
                steps = [
                    _downsample(channels[j], channels[j], final_relu=True) for _ in range(i - j - 1)
                ]
                steps.append(_downsample(channels[j], channels[i], final_relu=False))
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
        return self._fuse(out) if self.with_fuse else out

    def _fuse(self, out: list[torch.Tensor]) -> list[torch.Tensor]:
        fused = []
        x0 = out[0]
        for i, row in enumerate(self.fuse_layers):
            y = x0 if i == 0 else row[0](x0)
            if self.fuse_branch0_twice:
                y = y + y
            for j in range(1, i + 1):
                y = y + (out[j] if j == i else row[j](out[j]))
            y = self._add_coarser(y, out, row, i)
            if i == 0 and self.fuse_branch0_twice:
                x0 = y  # the official in-place sum overwrote out[0]; later rows read it
            fused.append(self.relu(y))
        return fused

    def _add_coarser(
        self, y: torch.Tensor, out: list[torch.Tensor], row: nn.ModuleList, i: int
    ) -> torch.Tensor:
        """y + the upsampled terms of the branches coarser than i, in branch order."""
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

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        ys: list[torch.Tensor] = []
        for x, project in zip(xs[::-1], self.projects):
            if ys:
                x = x + upsample_bilinear_aligned_to(ys[-1], x.shape[-2:])
            ys.append(project(x))
        return ys[::-1]


# --------------------------------------------------------------------------- backbone


class LiteHRNet(nn.Module):
    """Lite-HRNet backbone.

    ``forward``: (B, 3, H, W) -> (B, C_0, H/4, W/4), the iterative head's finest map
    (C_0 = 40 for lite_hrnet_18/30, 30 for naive_lite_hrnet_18). Without the head, the
    finest branch.
    ``forward_features``: (B, 3, H, W) -> list of the last stage's branch outputs
    (B, C_b, H/2**(b+2), W/2**(b+2)), before the head.

    H and W must be multiples of ``input_multiple`` (32 for three stages): the fuse layers
    upsample by exact powers of two, in the official code as here.
    """

    def __init__(self, spec: LiteHRNetSpec | None = None, **overrides: Any) -> None:
        super().__init__()
        spec = spec or LiteHRNetSpec()
        if overrides:
            spec = spec.replace(**overrides)
        self.spec = spec
        self.variant: str | None = None
        self.num_stages = spec.num_stages
        self.stem = Stem(
            spec.in_channels,
            spec.stem_channels,
            spec.stem_out_channels,
            spec.stem_expand_ratio,
            with_cp=spec.with_cp,
        )
        previous = [spec.stem_out_channels]
        for i in range(spec.num_stages):
            channels = spec.stage_channels(i)
            setattr(self, f"transition{i}", self._make_transition(previous, channels))
            stage = nn.Sequential(
                *(
                    LiteHRModule(
                        channels,
                        spec.num_blocks[i],
                        spec.reduce_ratios[i],
                        spec.module_type,
                        with_fuse=spec.with_fuse,
                        fuse_branch0_twice=spec.fuse_branch0_twice,
                        with_cp=spec.with_cp,
                    )
                    for _ in range(spec.num_modules[i])
                )
            )
            setattr(self, f"stage{i}", stage)
            previous = list(channels)
        if spec.with_head:
            self.head_layer = IterativeHead(previous)
        self.feature_info = [
            {"num_chs": c, "reduction": 4 * 2**b, "module": f"stage{spec.num_stages - 1}"}
            for b, c in enumerate(previous)
        ]
        self.num_features = spec.out_channels
        self.input_multiple = 2 ** (spec.num_stages + 2)
        self.init_weights()

    @staticmethod
    def _make_transition(previous: Sequence[int], current: Sequence[int]) -> nn.ModuleList:
        layers: list[nn.Module] = []
        for i, c in enumerate(current):
            if i < len(previous):
                if c == previous[i]:
                    layers.append(nn.Identity())
                    continue
                p = previous[i]
                layers.append(
                    nn.Sequential(
                        nn.Conv2d(p, p, 3, 1, 1, groups=p, bias=False),
                        nn.BatchNorm2d(p),
                        nn.Conv2d(p, c, 1, bias=False),
                        nn.BatchNorm2d(c),
                        nn.ReLU(),
                    )
                )
            else:
                # New branches come from the lowest-resolution one, halving once per step.
                p = previous[-1]
                steps = i + 1 - len(previous)
                layers.append(
                    nn.Sequential(
                        *(
                            _downsample(p, c if k == steps - 1 else p, final_relu=True)
                            for k in range(steps)
                        )
                    )
                )
        return nn.ModuleList(layers)

    def init_weights(self) -> None:
        """Official initialisation: conv weights N(0, 0.001), conv biases 0, norms (1, 0)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def train(self, mode: bool = True) -> LiteHRNet:
        super().train(mode)
        if mode and self.spec.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[-2] % self.input_multiple or x.shape[-1] % self.input_multiple:
            raise ValueError(
                f"input size {tuple(x.shape[-2:])} (H, W): both must be multiples of "
                f"{self.input_multiple} for {self.num_stages} stages"
            )
        ys = [self.stem(x)]
        for i in range(self.num_stages):
            transition = getattr(self, f"transition{i}")
            xs = [t(ys[min(j, len(ys) - 1)]) for j, t in enumerate(transition)]
            ys = getattr(self, f"stage{i}")(xs)
        return ys

    def forward_head(self, features: list[torch.Tensor]) -> torch.Tensor:
        if self.spec.with_head:
            return self.head_layer(features)[0]
        return features[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class LiteHRNetFeatures(LiteHRNet):
    """``features_only`` variant: ``forward`` returns the branch maps picked by ``out_indices``,
    (B, C_b, H/2**(b+2), W/2**(b+2)) each; ``feature_info`` lists only those.

    The iterative head is not built (its weights in a checkpoint are ignored on load).
    """

    def __init__(
        self,
        spec: LiteHRNetSpec | None = None,
        out_indices: Sequence[int] | None = None,
        **overrides: Any,
    ) -> None:
        spec = (spec or LiteHRNetSpec()).replace(with_head=False, **overrides)
        super().__init__(spec)
        n = len(self.feature_info)
        self.out_indices = tuple(range(n) if out_indices is None else out_indices)
        bad = [i for i in self.out_indices if not -n <= i < n]
        if bad:
            raise ValueError(f"out_indices: {bad} out of range for {n} branches")
        self.feature_info = [self.feature_info[i] for i in self.out_indices]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        features = self.forward_features(x)
        return [features[i] for i in self.out_indices]


# --------------------------------------------------------------------------- builders


def _create_lite_hrnet(
    variant: str,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    **overrides: Any,
) -> LiteHRNet:
    spec = VARIANT_SPECS[variant].replace(**overrides)
    if features_only:
        model: LiteHRNet = LiteHRNetFeatures(spec, out_indices=out_indices)
    else:
        if out_indices is not None:
            raise ValueError("out_indices: only valid with features_only=True")
        model = LiteHRNet(spec)
    model.variant = variant
    return model


@register_model
def lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Lite-HRNet-18: LITE blocks, (2, 4, 2) modules, 40/80/160/320 channels."""
    return _create_lite_hrnet("lite_hrnet_18", **kwargs)


@register_model
def lite_hrnet_30(**kwargs: Any) -> LiteHRNet:
    """Lite-HRNet-30: LITE blocks, (3, 8, 3) modules, 40/80/160/320 channels."""
    return _create_lite_hrnet("lite_hrnet_30", **kwargs)


@register_model
def naive_lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Naive Lite-HRNet-18: shuffle blocks, (2, 4, 2) modules, 30/60/120/240 channels."""
    return _create_lite_hrnet("naive_lite_hrnet_18", **kwargs)


@register_model
def wider_naive_lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Wider naive Lite-HRNet-18: shuffle blocks, (2, 4, 2) modules, 40/80/160/320 channels."""
    return _create_lite_hrnet("wider_naive_lite_hrnet_18", **kwargs)
