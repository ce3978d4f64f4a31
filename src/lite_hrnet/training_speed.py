"""Training speed options that the task modules and the benchmark share: compiling a
network for training, and the fused optimiser kernels. Neither changes the math.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")


def compile_for_training(fn: Callable[..., Any], channels_last: bool, **kwargs: Any) -> Any:
    """``torch.compile(fn, **kwargs)`` for training; with ``channels_last``, Inductor also
    keeps every convolution's backward channels-last.

    Inductor decides its layout optimisation per graph, from the forward convolutions it
    sees, and the backward graph has none. There it orders each convolution backward's
    input like the weight's strides; a channels-last depthwise weight (C, 1, 3, 3) ties C
    with W, so the input became an N, H, C, W copy, and ATen ran its non-channels-last
    depthwise backward, up to 10x slower (compiled lite_hrnet_18 at batch 16: 60 such
    calls per step). Forcing the optimisation keeps both graphs channels-last.
    """
    options = {"force_layout_optimization": True} if channels_last else None
    return torch.compile(fn, options=options, **kwargs)


def fused_optimizer_kwargs(params: Iterable[torch.Tensor]) -> dict[str, bool]:
    """``{"fused": True}`` where PyTorch has a fused Adam/AdamW/SGD kernel for all of
    ``params`` (floating point, on the CPU or CUDA), else ``{}``.

    The fused step computes the same update in one kernel per parameter group instead of
    a dozen small ops per tensor: lite_hrnet_18 has 806 parameter tensors, and its Adam
    step takes 7 ms fused against 32 ms unfused (2 CPU threads).
    """
    params = list(params)
    supported = all(
        p.device.type in FUSED_OPTIMIZER_DEVICES and p.is_floating_point() for p in params
    )
    return {"fused": True} if params and supported else {}
