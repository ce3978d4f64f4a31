"""Lean equivalents of the Lite-HRNet blocks for inference, after BatchNorm folding.

Lite-HRNet is slow for its FLOPs because every block runs dozens of tiny ops. The lean
blocks compute the same function with far fewer of them:

- The fuse layers add the coarse terms hierarchically, c_1 + up(c_2 + up(c_3)), so each
  nearest upsampling runs once per level instead of once per term at the finest size.
- The spatial-weighting gates of all branches run as one block-diagonal two-layer MLP on
  the concatenated pooled vectors: 2 convolutions per block instead of 2 per branch.
- ``channel_shuffle(cat(a, b), 2)`` becomes one ``stack`` (one copy instead of two; for
  OpenVINO the pattern it fuses into one node, ``transpose_shuffles``), and
  channel halves one ``split``; every reshape has constant sizes (-1 for the batch), so the
  ONNX graph carries no shape arithmetic. On channels-last tensors the stack runs on the
  NHWC views, so that every convolution gets a channels-last input (a mixed layout costs
  oneDNN a reorder per call).

Each lean block takes over the children of the block it replaces, by their official names
(``conv1``, ``branch1``, ``fuse_layers``, ...), so the parameters are shared, not copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..models.blocks import ConditionalChannelWeighting, LiteHRModule, ShuffleUnit, Stem
from ..models.layers import adaptive_avg_pool_to, channels_innermost
from .folding import block_diagonal_conv


def _halves(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(B, C, H, W) -> two (B, C/2, H, W) views; one ONNX ``Split`` with constant sizes."""
    return torch.split(x, int(x.shape[1]) // 2, dim=1)


def _upsample(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Nearest upsampling of x to like's (H, W), an exact integer factor (a power of 2).

    A constant ``scale_factor`` exports as one ``Resize`` with constant scales, which ONNX
    Runtime runs in its blocked NCHWc layout; Inductor fuses it into the consumer's loop.
    """
    s = int(like.shape[2]) // int(x.shape[2])
    return x if s == 1 else F.interpolate(x, scale_factor=float(s), mode="nearest")


_transpose_shuffles = False


@contextmanager
def transpose_shuffles() -> Iterator[None]:
    """Within it, the lean blocks' channel shuffles run (and trace) as Concat -> Reshape ->
    Transpose -> Reshape, the pattern OpenVINO fuses into one ShuffleChannels node in its
    own channels-last layout; the stacked form made it reorder to NCHW and back around
    every shuffle. For the OpenVINO export only: ONNX Runtime gains nothing from it, in
    float32 or int8 (``python -m benchmarks.shuffle_form``)."""
    global _transpose_shuffles
    previous, _transpose_shuffles = _transpose_shuffles, True
    try:
        yield
    finally:
        _transpose_shuffles = previous


def _shuffle_cat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``channel_shuffle(torch.cat((a, b), 1), 2)``, channels a0, b0, a1, b1, ...: one copy
    instead of two, and constant reshape sizes (-1 for the dynamic batch) in ONNX.

    Within ``transpose_shuffles()`` it is the textbook form instead, for OpenVINO.
    """
    c, h, w = (int(v) for v in a.shape[1:])
    if _transpose_shuffles:
        pairs = torch.cat((a, b), dim=1).reshape(-1, 2, c, h, w)
        return pairs.transpose(1, 2).reshape(-1, 2 * c, h, w)
    if channels_innermost(a):  # stacking the NHWC views keeps the output channels-last
        nhwc = torch.stack((a.permute(0, 2, 3, 1), b.permute(0, 2, 3, 1)), dim=4)
        return nhwc.reshape(-1, h, w, 2 * c).permute(0, 3, 1, 2)
    return torch.stack((a, b), dim=2).reshape(-1, 2 * c, h, w)


class LeanStem(nn.Module):
    """``Stem`` after BN folding, with the one-copy channel shuffle."""

    def __init__(self, stem: Stem) -> None:
        super().__init__()
        self.conv1 = stem.conv1
        self.branch1 = stem.branch1
        self.branch2 = nn.Sequential(stem.expand_conv, stem.depthwise_conv, stem.linear_conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = _halves(self.conv1(x))
        return _shuffle_cat(self.branch1(x1), self.branch2(x2))


class LeanShuffleUnit(nn.Module):
    """``ShuffleUnit`` after BN folding, with the one-copy channel shuffle."""

    def __init__(self, unit: ShuffleUnit) -> None:
        super().__init__()
        self.branch2 = unit.branch2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = _halves(x)
        return _shuffle_cat(x1, self.branch2(x2))


class LeanChannelWeighting(nn.Module):
    """``ConditionalChannelWeighting`` after BN folding.

    Cross-resolution gates multiply through a broadcast view; the spatial-weighting MLPs of
    all branches are one block-diagonal MLP on the concatenated pooled vectors (B, sum C_b).
    """

    def __init__(self, block: ConditionalChannelWeighting) -> None:
        super().__init__()
        crw = block.cross_resolution_weighting
        self.channels = list(crw.channels)
        self.crw = nn.Sequential(crw.conv1, crw.conv2)
        self.depthwise_convs = block.depthwise_convs
        # Each folded SpatialWeighting holds conv1 = (conv, ReLU) and conv2 = (conv, Sigmoid).
        sws = list(block.spatial_weighting)
        self.spatial_weighting = nn.Sequential(
            block_diagonal_conv([sw.conv1.conv for sw in sws]),
            nn.ReLU(),
            block_diagonal_conv([sw.conv2.conv for sw in sws]),
            nn.Sigmoid(),
        )

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        splits = [_halves(x) for x in xs]
        halves = [s[1] for s in splits]
        h, w = halves[-1].shape[-2:]
        pooled = [adaptive_avg_pool_to(x, (h, w)) for x in halves[:-1]] + [halves[-1]]
        gates = self.crw(torch.cat(pooled, dim=1)).split(self.channels, dim=1)
        ys = [dw(x * _upsample(g, x)) for x, g, dw in zip(halves, gates, self.depthwise_convs)]
        means = torch.cat([F.adaptive_avg_pool2d(y, 1) for y in ys], dim=1)
        sw = self.spatial_weighting(means).split(self.channels, dim=1)
        return [_shuffle_cat(s[0], y * g) for s, y, g in zip(splits, ys, sw)]


class LeanLiteHRModule(LiteHRModule):
    """``LiteHRModule`` after BN folding, with the coarse fuse terms added hierarchically:
    sum_j up_{2^(j-i)}(c_j) = up_2(c_{i+1} + up_2(c_{i+2} + ...)), nearest upsampling.

    It takes over the module's blocks and fuse layers (without the ``nn.Upsample`` that
    ends each coarser cell) and runs ``LiteHRModule.forward`` and ``fuse``; only
    ``add_coarser_terms`` differs.
    """

    def __init__(self, module: LiteHRModule) -> None:
        nn.Module.__init__(self)  # the layers exist already: take them over
        self.num_branches = module.num_branches
        self.module_type = module.module_type
        self.with_fuse = module.with_fuse
        self.fuse_branch0_twice = module.fuse_branch0_twice
        self.layers = module.layers
        if self.with_fuse:
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(
                    _without_upsample(cell) if j > i else cell for j, cell in enumerate(row)
                )
                for i, row in enumerate(module.fuse_layers)
            )
            self.relu = module.relu

    def add_coarser_terms(
        self, y: torch.Tensor, out: list[torch.Tensor], row: nn.ModuleList, i: int
    ) -> torch.Tensor:
        n = self.num_branches
        if i == n - 1:
            return y
        coarse = row[n - 1](out[n - 1])
        for j in range(n - 2, i, -1):
            c = row[j](out[j])
            coarse = c + _upsample(coarse, c)
        return y + _upsample(coarse, y)


def _without_upsample(cell: nn.Sequential) -> nn.Sequential:
    """A coarser fuse cell (1x1 conv, folded BN, nearest ``nn.Upsample``) without its
    upsampling, which the lean fuse does once per level."""
    upsample = [m for m in cell if isinstance(m, nn.Upsample)]
    if len(upsample) != 1 or upsample[0].mode != "nearest":
        raise ValueError(f"a coarser fuse cell ends with one nearest nn.Upsample, got {cell}")
    return nn.Sequential(*(m for m in cell if not isinstance(m, nn.Upsample)))


_LEAN: dict[type[nn.Module], type[nn.Module]] = {
    Stem: LeanStem,
    ShuffleUnit: LeanShuffleUnit,
    ConditionalChannelWeighting: LeanChannelWeighting,
    LiteHRModule: LeanLiteHRModule,
}


def replace_blocks(model: nn.Module) -> nn.Module:
    """Swap every Lite-HRNet block for its lean equivalent (children first), in place;
    returns the model (itself replaced if it is a block)."""
    for name, child in model.named_children():
        replace_blocks(child)
        lean = _LEAN.get(type(child))
        if lean is not None:
            setattr(model, name, lean(child))
    lean_root = _LEAN.get(type(model))
    return lean_root(model) if lean_root is not None else model
