"""A test oracle: the official Lite-HRNet forward control flow, run on our modules' weights.

It reproduces what the official code does step by step, including what our implementation
rewrites: ``F.adaptive_avg_pool2d`` with a traced size, the in-place ``y += out[0]`` that
aliases branch 0, the second call of ``fuse_layers[i][0]``, and falsy ``None`` transitions.
Leaf layers (conv, BN, activations) are shared with the model under test; everything that
combines them is restated here independently.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.backbone import LiteHRNet
from ..models.blocks import (
    ConditionalChannelWeighting,
    CrossResolutionWeighting,
    LiteHRModule,
    ShuffleUnit,
)
from ..models.layers import channel_shuffle


def _crw(m: CrossResolutionWeighting, x: list[torch.Tensor]) -> list[torch.Tensor]:
    mini_size = x[-1].size()[-2:]
    out = [F.adaptive_avg_pool2d(s, mini_size) for s in x[:-1]] + [x[-1]]
    out = m.conv2(m.conv1(torch.cat(out, dim=1)))
    out = torch.split(out, m.channels, dim=1)
    return [s * F.interpolate(a, size=s.size()[-2:], mode="nearest") for s, a in zip(x, out)]


def _ccw(m: ConditionalChannelWeighting, x: list[torch.Tensor]) -> list[torch.Tensor]:
    x = [s.chunk(2, dim=1) for s in x]
    x1 = [s[0] for s in x]
    x2 = _crw(m.cross_resolution_weighting, [s[1] for s in x])
    x2 = [dw(s) for s, dw in zip(x2, m.depthwise_convs)]
    x2 = [
        s * sw.conv2(sw.conv1(s.mean(dim=(2, 3), keepdim=True)))
        for s, sw in zip(x2, m.spatial_weighting)
    ]
    return [channel_shuffle(torch.cat([a, b], dim=1), 2) for a, b in zip(x1, x2)]


def _shuffle(m: ShuffleUnit, x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=1)
    return channel_shuffle(torch.cat((x1, m.branch2(x2)), dim=1), 2)


def _module(m: LiteHRModule, x: list[torch.Tensor]) -> list[torch.Tensor]:
    if m.module_type == "LITE":
        out = x
        for block in m.layers:
            out = _ccw(block, out)
    else:
        for i in range(m.num_branches):
            for unit in m.layers[i]:
                x[i] = _shuffle(unit, x[i])
        out = x
    if not m.with_fuse:
        return out
    fuse = [[None if isinstance(f, nn.Identity) else f for f in row] for row in m.fuse_layers]
    out_fuse = []
    for i in range(len(fuse)):
        y = out[0] if i == 0 else fuse[i][0](out[0])
        for j in range(m.num_branches):
            if i == j:
                y += out[j]
            else:
                y += fuse[i][j](out[j])
        out_fuse.append(F.relu(y))
    return out_fuse


def official_forward(model: LiteHRNet, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> the official backbone output [x[0]][0], (B, C_0, H/4, W/4)."""
    stem = model.stem
    x = stem.conv1(x)
    x1, x2 = x.chunk(2, dim=1)
    x2 = stem.linear_conv(stem.depthwise_conv(stem.expand_conv(x2)))
    y_list = [channel_shuffle(torch.cat((stem.branch1(x1), x2), dim=1), 2)]
    for i in range(model.num_stages):
        transition = [
            None if isinstance(t, nn.Identity) else t for t in getattr(model, f"transition{i}")
        ]
        x_list = []
        for j, t in enumerate(transition):
            if t:
                x_list.append(t(y_list[-1]) if j >= len(y_list) else t(y_list[j]))
            else:
                x_list.append(y_list[j])
        for module in getattr(model, f"stage{i}"):
            x_list = _module(module, x_list)
        y_list = x_list
    if not model.spec.with_head:
        return y_list[0]
    xs = y_list[::-1]
    ys, last = [], None
    for i, s in enumerate(xs):
        if last is not None:
            s = s + F.interpolate(last, size=s.size()[-2:], mode="bilinear", align_corners=True)
        s = model.head_layer.projects[i](s)
        ys.append(s)
        last = s
    return ys[-1]
