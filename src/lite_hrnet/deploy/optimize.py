"""Inference optimisation: ``optimize_for_inference(model)`` -> a faster model, same outputs.

Lite-HRNet is slow for its FLOPs because every block runs dozens of tiny ops. The rewrite
here computes the same function with far fewer of them:

- BatchNorm folds into the preceding convolution (any ``Conv2d -> BatchNorm2d`` pair inside
  an ``nn.Sequential``, so every ``ConvModule``); identity modules in sequences are dropped.
- The fuse layers add the coarse terms hierarchically, c_1 + up(c_2 + up(c_3)), so each
  nearest upsampling runs once per level instead of once per term at the finest size.
- The spatial-weighting gates of all branches run as one block-diagonal two-layer MLP on
  the concatenated pooled vectors: 2 convolutions per block instead of 2 per branch.
- ``channel_shuffle(cat(a, b), 2)`` becomes one ``stack`` (one copy instead of two), and
  channel halves one ``split``; every reshape has constant sizes (-1 for the batch), so the
  ONNX graph carries no shape arithmetic. On channels-last tensors the stack runs on the
  NHWC views, so that every convolution gets a channels-last input: a mixed layout costs
  oneDNN a reorder per call (compiled, batch 1: 14.7 ms with them, 10.1 without).

Compiling the result with Inductor (``compile=True``, the default) then fuses the remaining
pointwise ops; on the CPU, 1x1 convolutions on small maps run as matrix products there (see
``PointwiseConv``). ``compile=False`` gives the rewritten eager model, which also exports
to ONNX.
"""

from __future__ import annotations

import copy
from contextlib import ExitStack

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..models.blocks import ConditionalChannelWeighting, LiteHRModule, ShuffleUnit, Stem
from ..models.layers import adaptive_avg_pool_to, channels_innermost, pointwise_conv_as_gemm

__all__ = ["InferenceModel", "PointwiseConv", "fold_batchnorm", "optimize_for_inference"]


# --------------------------------------------------------------------------- generic passes


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


def _shuffle_cat(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``channel_shuffle(torch.cat((a, b), 1), 2)``, channels a0, b0, a1, b1, ...: one copy
    instead of two, and constant reshape sizes (-1 for the dynamic batch) in ONNX.
    """
    c, h, w = (int(v) for v in a.shape[1:])
    if channels_innermost(a):  # stacking the NHWC views keeps the output channels-last
        nhwc = torch.stack((a.permute(0, 2, 3, 1), b.permute(0, 2, 3, 1)), dim=4)
        return nhwc.reshape(-1, h, w, 2 * c).permute(0, 3, 1, 2)
    return torch.stack((a, b), dim=2).reshape(-1, 2 * c, h, w)


def _block_diagonal_conv(convs: list[nn.Conv2d]) -> nn.Conv2d:
    """One 1x1 conv equal to running the 1x1 ``convs`` side by side on concatenated inputs."""
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


class PointwiseConv(nn.Conv2d):
    """A 1x1 convolution that runs as a matrix product on small maps:
    (B, C_in, H, W) -> (B*H*W, C_in) @ W^T -> (B, C_out, H, W), over the channels-last view.

    Under Inductor with frozen weights on the CPU that is one MKL GEMM with a packed weight.
    A oneDNN convolution call costs ~25 us even on a 1x1 map with a pre-packed weight
    (its set-up, 2 threads); the GEMM of a 140 -> 35 layer takes 3 us, of 192 positions
    x 140 -> 17 11 us. Set-up dominates this net's small maps at batch 1 (lite_hrnet_18,
    256x192: ~140 such calls; 18.7 -> 16.3 ms per image). Maps of more than
    ``GEMM_MAX_ROWS`` positions (B x H x W) keep the convolution, whose fused epilogues
    (add, ReLU) win there. Shapes are static in the compiled graphs, so the choice is made
    once per graph, when it is traced.
    """

    GEMM_MAX_ROWS = 1024

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] * x.shape[2] * x.shape[3] > self.GEMM_MAX_ROWS:
            return super().forward(x)
        return pointwise_conv_as_gemm(x, self)


def _pointwise_convs_as_gemm(model: nn.Module) -> nn.Module:
    """Swap every plain 1x1 ``nn.Conv2d`` of ``model`` for a ``PointwiseConv`` sharing its
    parameters, in place. Returns ``model``."""
    for parent in list(model.modules()):
        for name, conv in parent.named_children():
            plain = type(conv) is nn.Conv2d and conv.kernel_size == (1, 1)
            if plain and conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1:
                gemm = PointwiseConv(conv.in_channels, conv.out_channels, 1, bias=False)
                gemm.weight, gemm.bias = conv.weight, conv.bias
                setattr(parent, name, gemm)
    return model


# --------------------------------------------------------------------------- lean blocks


class _LeanStem(nn.Module):
    """``Stem`` after BN folding, with the one-copy channel shuffle."""

    def __init__(self, stem: Stem) -> None:
        super().__init__()
        self.conv1 = stem.conv1
        self.branch1 = stem.branch1
        self.branch2 = nn.Sequential(stem.expand_conv, stem.depthwise_conv, stem.linear_conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = _halves(self.conv1(x))
        return _shuffle_cat(self.branch1(x1), self.branch2(x2))


class _LeanShuffleUnit(nn.Module):
    """``ShuffleUnit`` after BN folding, with the one-copy channel shuffle."""

    def __init__(self, unit: ShuffleUnit) -> None:
        super().__init__()
        self.branch2 = unit.branch2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = _halves(x)
        return _shuffle_cat(x1, self.branch2(x2))


class _LeanChannelWeighting(nn.Module):
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
        # Folded SpatialWeighting: conv1 = (conv, ReLU), conv2 = (conv, Sigmoid).
        sws = list(block.spatial_weighting)
        self.spatial_weighting = nn.Sequential(
            _block_diagonal_conv([sw.conv1[0] for sw in sws]),
            nn.ReLU(),
            _block_diagonal_conv([sw.conv2[0] for sw in sws]),
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


class _LeanLiteHRModule(nn.Module):
    """``LiteHRModule`` after BN folding, with the coarse fuse terms added hierarchically:
    sum_j up_{2^(j-i)}(c_j) = up_2(c_{i+1} + up_2(c_{i+2} + ...)), nearest upsampling.
    """

    def __init__(self, module: LiteHRModule) -> None:
        super().__init__()
        self.module_type = module.module_type
        self.num_branches = module.num_branches
        self.with_fuse = module.with_fuse
        self.fuse_branch0_twice = module.fuse_branch0_twice
        self.layers = module.layers
        if self.with_fuse:
            rows = []
            for i, row in enumerate(module.fuse_layers):
                cells: list[nn.Module] = []
                for j, cell in enumerate(row):
                    if j > i:
                        conv, upsample = cell  # folded: conv (with bias), nn.Upsample
                        assert isinstance(upsample, nn.Upsample) and upsample.mode == "nearest"
                        cells.append(conv)
                    else:
                        cells.append(cell)
                rows.append(nn.ModuleList(cells))
            self.fuse_layers = nn.ModuleList(rows)
            self.relu = module.relu

    # The blocks and the fuse run as in LiteHRModule; only the coarse terms differ.
    forward = LiteHRModule.forward
    _fuse = LiteHRModule._fuse

    def _add_coarser(
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


_LEAN: dict[type[nn.Module], type[nn.Module]] = {
    Stem: _LeanStem,
    ShuffleUnit: _LeanShuffleUnit,
    ConditionalChannelWeighting: _LeanChannelWeighting,
    LiteHRModule: _LeanLiteHRModule,
}


def _replace_blocks(model: nn.Module) -> nn.Module:
    """Swap every Lite-HRNet block for its lean equivalent (children first), in place."""
    for name, child in model.named_children():
        _replace_blocks(child)
        lean = _LEAN.get(type(child))
        if lean is not None:
            setattr(model, name, lean(child))
    lean_root = _LEAN.get(type(model))
    return lean_root(model) if lean_root is not None else model


# --------------------------------------------------------------------------- entry point


# Inductor settings for the compiled path. Freezing turns the weights into constants, so
# every convolution becomes a oneDNN (CPU) or cuDNN call with a pre-packed weight and its
# ReLU/sigmoid/add fused in (without it each CPU call re-packs its weight, or takes ATen's
# slow im2col path for small batch-1 inputs). ``torch.compile(options=...)`` does not apply
# freezing (torch 2.13), hence the patch around every call: compilation happens lazily
# inside the first call of each shape.
_INDUCTOR_OPTIONS = {"freezing": True}
# CPU only: the C++ wrapper removes the Python call overhead per kernel (on CUDA it fails
# to autotune frozen graphs). Inductor's tiling heuristics pick 2-D tiles for this net's
# many small channels-last pointwise kernels that run slower than the plain vectorised loop
# (batch 16: 245 -> 213 ms per call of lite_hrnet_18 at 256x192, one thread).
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
    seen), compiled on the first call for each input shape: 1-2 minutes for
    lite_hrnet_18 on 2 CPU cores (more on a busy machine). Frozen graphs bypass
    Inductor's graph cache, so every process compiles again (its C++ kernels are cached).
    """

    def __init__(self, module: nn.Module, compile: bool, channels_last: bool) -> None:
        super().__init__()
        self.module = module
        self.channels_last = channels_last
        self.compiled = compile
        # A plain function, not a registered submodule: the state dict stays the module's.
        # dynamic=False: every input shape gets its own static-shape graph; otherwise the
        # second batch size recompiles with a symbolic batch and loses specialisations.
        self._run = torch.compile(module.forward, dynamic=False) if compile else module.forward

    def train(self, mode: bool = True) -> InferenceModel:
        if mode:
            raise RuntimeError("InferenceModel is inference-only (BatchNorm is folded)")
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
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


def optimize_for_inference(
    model: nn.Module, *, compile: bool = True, channels_last: bool = True
) -> nn.Module:
    """A faster inference copy of ``model``; ``model`` itself is left untouched.

    Works on a ``LiteHRNet`` backbone (also ``features_only``), a ``PoseModel`` and, for the
    BatchNorm folding, any module with ``Conv2d -> BatchNorm2d`` pairs in sequences. The
    copy is in eval mode, has BatchNorm folded into the convolutions and Lite-HRNet blocks
    replaced by lean equivalents (see the module docstring); outputs equal the source
    model's in eval mode to float32 rounding.

    Args:
        model: the source model, in any mode; its eval-mode function is what is optimised.
        compile: compile with Inductor and frozen weights (first call per shape compiles).
        channels_last: feed the convolutions NHWC inputs (the layout oneDNN is fastest in).

    Returns:
        An ``InferenceModel``: call it like the source model; it runs under ``no_grad``.
    """
    lean = copy.deepcopy(model).eval()
    lean = _replace_blocks(fold_batchnorm(lean))
    on_cpu = all(p.device.type == "cpu" for p in lean.parameters())
    if compile and on_cpu:
        lean = _pointwise_convs_as_gemm(lean)
    if channels_last:
        lean = lean.to(memory_format=torch.channels_last)
    return InferenceModel(lean, compile=compile, channels_last=channels_last).eval()
