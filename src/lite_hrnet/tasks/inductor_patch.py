"""A patch of Inductor's C++ code generator: bool tensors load as vector masks.

A compiled training graph saves each ReLU's mask (``output <= 0``, a bool tensor) for its
backward. Inductor's C++ backend loads such a mask through
``VecMask<float,1>::from(const bool*, count)``, a scalar loop through a stack buffer, which
made the BatchNorm-backward kernels of a compiled lite_hrnet_18 step several times slower
than the same kernels with the mask from a vector compare. The patch emits that compare
instead: the same 16 (8 on AVX2) bytes load as ``uint8``
lanes, convert to float and compare with 0. Bools are stored as 0 or 1, so the mask is the
same.

Scope: it replaces the private ``CppVecKernel._get_vec_load_line`` of
``torch._inductor.codegen.cpp`` for the whole process, from the first call of
``vectorise_bool_mask_loads`` on (kernels that Inductor compiled and cached before keep
their scalar loads). Every other load line is returned unchanged, other mask widths
(``VecMask<float,2>``) included. It applies only on the
torch versions in ``SUPPORTED_TORCH``, the versions whose generated line it was written
against and tested on (``tests/tasks/test_inductor_patch.py``, which fails when the line
no longer matches or when torch is a version not listed here), and it says so on rank 0
when it applies. A bool load line of another form is left alone with a warning.
"""

from __future__ import annotations

import re
import warnings

import torch
from lightning.pytorch.utilities import rank_zero_info

from ..deploy.aoti_loader import torch_minor_version

SUPPORTED_TORCH = ("2.13",)
# Inductor's C++ line for a vector load of a bool tensor as a float mask (torch 2.13).
BOOL_MASK_LOAD = re.compile(r"^at::vec::VecMask<float,1>::from\((?P<ptr>.+), (?P<count>[^,]+)\)$")
_MARK = "_lite_hrnet_bool_masks"


def is_supported() -> bool:
    """Whether this torch is one the patch was written for."""
    return torch_minor_version() in SUPPORTED_TORCH


def _patched(load_line):  # type: ignore[no-untyped-def]
    warned = False

    def get_vec_load_line(self, var, index, dtype, load_mask=None):  # type: ignore[no-untyped-def]
        nonlocal warned
        line = load_line(self, var, index, dtype, load_mask)
        if dtype != torch.bool or load_mask:
            return line
        match = BOOL_MASK_LOAD.match(line)
        if match is None:
            # Other mask widths (VecMask<float,2> in 32-lane kernels) are not this patch's;
            # a float-mask load it does not recognise means Inductor's line changed.
            if not warned and line.startswith("at::vec::VecMask<float,1>::from("):
                warnings.warn(
                    f"lite_hrnet.tasks.inductor_patch: Inductor's bool load line {line!r} is "
                    "not the one the patch was written for; it is left unchanged",
                    stacklevel=2,
                )
                warned = True
            return line
        as_bytes = f"reinterpret_cast<const uint8_t*>({match['ptr']})"
        lanes = f"at::vec::Vectorized<uint8_t>::loadu({as_bytes}, {match['count']})"
        return (
            f"at::vec::VecMask<float,1>(at::vec::convert<float>({lanes})"
            " != at::vec::Vectorized<float>(0.0f))"
        )

    setattr(get_vec_load_line, _MARK, True)
    return get_vec_load_line


def vectorise_bool_mask_loads() -> bool:
    """Apply the patch once (idempotent); returns whether it is active.

    Does nothing and returns False on a torch version outside ``SUPPORTED_TORCH`` or
    where Inductor's C++ backend lacks the patched method.
    """
    if not is_supported():
        return False
    try:
        from torch._inductor.codegen.cpp import CppVecKernel
    except ImportError:
        return False
    load_line = getattr(CppVecKernel, "_get_vec_load_line", None)
    if load_line is None:
        return False
    if getattr(load_line, _MARK, False):
        return True
    CppVecKernel._get_vec_load_line = _patched(load_line)
    rank_zero_info(
        f"lite_hrnet: Inductor's C++ kernels now load bool masks with vector instructions "
        f"(a patch of CppVecKernel._get_vec_load_line for torch {torch_minor_version()}; "
        "see lite_hrnet.tasks.inductor_patch)"
    )
    return True
