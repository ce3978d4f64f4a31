"""``optimize_for_inference(model)``: a faster model with the same outputs.

The copy has BatchNorm folded into the convolutions (``folding``) and the Lite-HRNet blocks
replaced by lean equivalents (``lean_blocks``). Compiling it with Inductor
(``compile=True``, the default) then fuses the remaining pointwise ops; on the CPU, 1x1
convolutions on small maps run as matrix products there (``pointwise``). ``compile=False``
gives the rewritten eager model, which also exports to ONNX.
"""

from __future__ import annotations

import copy
from contextlib import ExitStack

import torch
from torch import nn

from .folding import fold_batchnorm
from .lean_blocks import replace_blocks
from .pointwise import swap_pointwise_convs

__all__ = ["InferenceModel", "optimize_for_inference"]


# Inductor settings for the compiled path. Freezing turns the weights into constants, so
# every convolution becomes a oneDNN (CPU) or cuDNN call with a pre-packed weight and its
# ReLU/sigmoid/add fused in (without it each CPU call re-packs its weight, or takes ATen's
# slow im2col path for small batch-1 inputs). ``torch.compile(options=...)`` does not apply
# freezing (torch 2.13), hence the patch around every call: compilation happens lazily
# inside the first call of each shape.
_INDUCTOR_OPTIONS = {"freezing": True}
# CPU only: the C++ wrapper removes the Python call overhead per kernel (on CUDA it fails
# to autotune frozen graphs). Inductor's tiling heuristics pick 2-D tiles for this net's
# many small channels-last pointwise kernels that run slower than the plain vectorised loop.
_INDUCTOR_CPU_OPTIONS = {"cpp_wrapper": True, "cpp.enable_tiling_heuristics": False}
# Dynamo keeps at most ``recompile_limit`` (8) graphs per Python function, counted over all
# models of one class in a process (every shape, every optimised copy); past it, calls
# silently run eagerly. An InferenceModel compiles one graph per input shape by design.
_RECOMPILE_LIMIT = 64


class InferenceModel(nn.Module):
    """Inference-only wrapper returned by ``optimize_for_inference``.

    ``forward`` runs without autograd and returns what the source model returns. The
    rewritten eager model is ``self.module``; with ``compile=True`` calls go through an
    Inductor graph with frozen weights (later changes to ``self.module``'s weights are not
    seen), compiled on the first call for each input shape (minutes on a CPU; the cold
    starts are in ``benchmarks/README.md``). Frozen graphs bypass Inductor's graph cache,
    so every process compiles again (its C++ kernels are cached).
    """

    def __init__(
        self,
        module: nn.Module,
        compile: bool,
        channels_last: bool,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.module = module
        self.channels_last = channels_last
        self.compiled = compile
        self.dtype = dtype
        # A plain function, not a registered submodule: the state dict stays the module's.
        # dynamic=False: every input shape gets its own static-shape graph; otherwise the
        # second batch size recompiles with a symbolic batch and loses specialisations.
        self._run = torch.compile(module.forward, dynamic=False) if compile else module.forward

    def train(self, mode: bool = True) -> InferenceModel:
        if mode:
            raise RuntimeError("InferenceModel is inference-only (BatchNorm is folded)")
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if self.dtype is not None:
            # The input in the weights' dtype, every output back in float32.
            return _to_float(self._forward(x.to(self.dtype)))
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), ExitStack() as stack:
            if self.compiled:
                from torch._dynamo import config as dynamo_config  # loaded by torch.compile
                from torch._inductor import config

                cpu = _INDUCTOR_CPU_OPTIONS if x.device.type == "cpu" else {}
                stack.enter_context(config.patch({**_INDUCTOR_OPTIONS, **cpu}))
                limit = max(dynamo_config.recompile_limit, _RECOMPILE_LIMIT)
                stack.enter_context(dynamo_config.patch(recompile_limit=limit))
            return self._run(x)


def _to_float(out: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    return out.float() if isinstance(out, torch.Tensor) else [t.float() for t in out]


def optimize_for_inference(
    model: nn.Module,
    *,
    compile: bool = True,
    channels_last: bool = True,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """A faster inference copy of ``model``; ``model`` itself is left untouched.

    Works on a ``LiteHRNet`` backbone (also ``features_only``), a ``PoseModel`` and, for the
    BatchNorm folding, any module with ``Conv2d -> BatchNorm2d`` pairs in sequences. The
    copy is in eval mode, has BatchNorm folded into the convolutions and Lite-HRNet blocks
    replaced by lean equivalents (``lean_blocks``); outputs equal the source
    model's in eval mode to float32 rounding.

    Args:
        model: the source model, in any mode; its eval-mode function is what is optimised.
        compile: compile with Inductor and frozen weights (first call per shape compiles).
        channels_last: feed the convolutions NHWC inputs (the layout oneDNN is fastest in).
        dtype: run in this dtype, e.g. ``torch.bfloat16`` for the CPU's AMX or AVX-512
            bf16 units: weights and inputs are cast to it, outputs back to float32
            (accuracy and speed in ``benchmarks/README.md``). None: the model's own dtype.

    Returns:
        An ``InferenceModel``: call it like the source model; it runs under ``no_grad``.
    """
    lean = copy.deepcopy(model).eval()
    lean = replace_blocks(fold_batchnorm(lean))
    on_cpu = all(p.device.type == "cpu" for p in lean.parameters())
    if compile and on_cpu:
        lean = swap_pointwise_convs(lean)
    if dtype is not None:
        lean = lean.to(dtype)
    if channels_last:
        lean = lean.to(memory_format=torch.channels_last)
    return InferenceModel(lean, compile, channels_last, dtype).eval()
