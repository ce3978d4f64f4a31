"""BatchNorm folding, and the merging of parallel 1x1 convolutions into one."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every ``Conv2d -> BatchNorm2d`` pair of every ``nn.Sequential`` in ``model``,
    in place, and drop ``nn.Identity`` children of sequences. ``model`` must be in eval
    mode (the running statistics are what gets folded). Returns ``model``.
    """
    if model.training:
        raise ValueError("fold_batchnorm: the model must be in eval mode")
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        keep: dict[str, nn.Module] = {}
        for k, name in enumerate(names):
            child = seq._modules[name]
            if isinstance(child, nn.Identity):
                continue
            previous = names[k - 1] if k else None
            if isinstance(child, nn.BatchNorm2d) and isinstance(keep.get(previous), nn.Conv2d):
                keep[previous] = fuse_conv_bn_eval(keep[previous], child)
                continue
            keep[name] = child
        seq._modules.clear()
        seq._modules.update(keep)
    return model


def block_diagonal_conv(convs: list[nn.Conv2d]) -> nn.Conv2d:
    """One 1x1 conv equal to running the 1x1 ``convs`` side by side on concatenated inputs:
    (B, sum C_in, H, W) -> (B, sum C_out, H, W)."""
    like = convs[0].weight
    conv = nn.Conv2d(
        sum(c.in_channels for c in convs),
        sum(c.out_channels for c in convs),
        1,
        device=like.device,
        dtype=like.dtype,
    )
    with torch.no_grad():
        conv.weight.copy_(torch.block_diag(*(c.weight.flatten(1) for c in convs))[..., None, None])
        conv.bias.copy_(torch.cat([c.bias for c in convs]))
    return conv
