"""Parameter, MAC and paper-convention FLOP counts of any model, by forward hooks.

The paper's FLOPs come from the official ``tools/summary_network.py``, which runs
tensorwatch's copy of torchstat. Its rules are reproduced here, quirks included.
"""

from __future__ import annotations

import math

import torch
from torch import nn

_ADAPTIVE_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_POOLS = (nn.AvgPool2d, nn.MaxPool2d)
_COUNTED = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Upsample, *_ADAPTIVE_POOLS, *_POOLS)


def _adaptive_pool_flops(x: torch.Tensor, out: torch.Tensor) -> int:
    """Per output cell, (window height + 1) * (window width + 1) per input plane.

    The "+ 1" is tensorwatch's; a global pool of (C, H, W) counts C * (H + 1) * (W + 1).
    """
    (h, w), (oh, ow) = x.shape[-2:], out.shape[-2:]
    rows = sum(math.ceil((i + 1) * h / oh) - math.floor(i * h / oh) + 1 for i in range(oh))
    cols = sum(math.ceil((j + 1) * w / ow) - math.floor(j * w / ow) + 1 for j in range(ow))
    return x.shape[0] * x.shape[1] * rows * cols


def _paper_flops(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> int:
    """tensorwatch-torchstat's count for one call of a leaf module."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        macs = out.numel() * (module.in_channels // module.groups) * kh * kw
        return macs + (out.numel() if module.bias is not None else 0)
    if isinstance(module, nn.BatchNorm2d):
        return x.numel() * (2 if module.affine else 1)
    if isinstance(module, nn.Upsample):
        # torchstat multiplies the batch by out[0].shape[1:], i.e. H*W without channels.
        return out.shape[0] * out.shape[-2] * out.shape[-1]
    if isinstance(module, _ADAPTIVE_POOLS):
        return _adaptive_pool_flops(x, out)
    if isinstance(module, _POOLS):
        kernel = nn.modules.utils._pair(module.kernel_size)
        return out.numel() * kernel[0] * kernel[1]
    return x.numel()  # ReLU


def complexity(
    model: nn.Module, input_size: tuple[int, int] = (256, 192), in_channels: int | None = None
) -> dict[str, int]:
    """Count one image of ``input_size`` = (H, W) through ``model``.

    Returns:
        params: number of parameters.
        macs: multiply-accumulates of every convolution call (``torch.utils.flop_counter``
            halved).
        paper_flops: the paper's convention (tensorwatch's torchstat): only leaf modules
            count, and a module called several times counts once (its last call); conv MACs
            plus bias adds, BatchNorm 2 per element, ReLU 1 per element, ``nn.Upsample``
            H*W (no channels), adaptive pooling C*(H+1)*(W+1) for a global pool; functional
            ops, Sigmoid and products are free. The paper prints it divided by 2**20.
    """
    if in_channels is None:
        first_conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        in_channels = first_conv.in_channels if first_conv is not None else 3
    macs = 0
    last_call: dict[nn.Module, int] = {}

    def count(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal macs
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs += output.numel() * (module.in_channels // module.groups) * kh * kw
        last_call[module] = _paper_flops(module, inputs[0], output)

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, _COUNTED)]
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, in_channels, *input_size, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "macs": macs,
        "paper_flops": sum(last_call.values()),
    }
