"""Training speed options that the task modules and the benchmark share: compiling a
network for training (with vectorised bool-mask loads in Inductor's C++ kernels), and the
fused optimiser kernels. None changes the math.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import torch

FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")

# Inductor's C++ line for a vector load of a bool tensor as a float mask (torch 2.13).
_BOOL_MASK_LOAD = re.compile(r"^at::vec::VecMask<float,1>::from\((?P<ptr>.+), (?P<count>[^,]+)\)$")


def compile_for_training(fn: Callable[..., Any], channels_last: bool, **kwargs: Any) -> Any:
    """``torch.compile(fn, **kwargs)`` for training; with ``channels_last``, Inductor also
    keeps every convolution's backward channels-last.

    Inductor decides its layout optimisation per graph, from the forward convolutions it
    sees, and the backward graph has none. There it orders each convolution backward's
    input like the weight's strides; a channels-last depthwise weight (C, 1, 3, 3) ties C
    with W, so the input became an N, H, C, W copy, and ATen ran its non-channels-last
    depthwise backward, up to 10x slower (compiled lite_hrnet_18 at batch 16: 60 such
    calls per step). Forcing the optimisation keeps both graphs channels-last. It also
    vectorises Inductor's bool-mask loads (``vectorise_bool_mask_loads``).
    """
    options = {"force_layout_optimization": True} if channels_last else None
    vectorise_bool_mask_loads()
    return torch.compile(fn, options=options, **kwargs)


def vectorise_bool_mask_loads() -> bool:
    """Make Inductor's C++ kernels load bool tensors as masks with vector instructions.

    A compiled training graph saves each ReLU's mask (``output <= 0``, a bool tensor) for
    its backward. Inductor loads it through ``VecMask<float,1>::from(const bool*, count)``,
    a scalar loop through a stack buffer: a BatchNorm-backward kernel of lite_hrnet_18 on a
    (16, 80, 32, 24) map took 2.6 ms for its elementwise pass, against 0.25 ms with the
    mask from a vector compare. The same 16 (8 on AVX2) bytes load as ``uint8`` lanes,
    convert to float, and compare with 0: bools are stored as 0 or 1, so the mask is the
    same. Inductor's code for other loads is untouched; where its bool load line is not
    the expected one (another torch version), nothing changes. The change is to Inductor's
    code generator, so it holds process-wide from the first call; kernels that Inductor
    compiled and cached before keep their scalar loads. Returns whether the loads are
    vectorised. Idempotent.
    """
    try:
        from torch._inductor.codegen.cpp import CppVecKernel
    except ImportError:
        return False
    load_line = getattr(CppVecKernel, "_get_vec_load_line", None)
    if load_line is None:
        return False
    if getattr(load_line, "_lite_hrnet_bool_masks", False):
        return True

    def get_vec_load_line(self, var, index, dtype, load_mask=None):  # type: ignore[no-untyped-def]
        line = load_line(self, var, index, dtype, load_mask)
        match = _BOOL_MASK_LOAD.match(line) if dtype == torch.bool and not load_mask else None
        if match is None:
            return line
        as_bytes = f"reinterpret_cast<const uint8_t*>({match['ptr']})"
        lanes = f"at::vec::Vectorized<uint8_t>::loadu({as_bytes}, {match['count']})"
        return (
            f"at::vec::VecMask<float,1>(at::vec::convert<float>({lanes})"
            " != at::vec::Vectorized<float>(0.0f))"
        )

    get_vec_load_line._lite_hrnet_bool_masks = True  # type: ignore[attr-defined]
    CppVecKernel._get_vec_load_line = get_vec_load_line
    return True


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
