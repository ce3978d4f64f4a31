"""1x1 convolutions as matrix products on small maps.

A oneDNN convolution call has a fixed set-up cost whatever its size, which dominates on
this network's many small maps (the gates' (B, C, 1, 1) vectors, the coarsest branches at
batch 1); a GEMM over the channels-last view has almost none. Under Inductor with frozen
weights a ``PointwiseConv`` becomes one MKL GEMM with a packed weight
(``tests/deploy/test_optimize.py`` counts them; the compiled path's speed is in
``benchmarks/README.md``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pointwise_conv_as_gemm(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A 1x1, ungrouped, stride-1 ``conv`` as a matrix product over x's NHWC view:
    (B, C_in, H, W) -> (B*H*W, C_in) @ W^T -> (B, C_out, H, W)."""
    y = F.linear(x.permute(0, 2, 3, 1), conv.weight.flatten(1), conv.bias)
    return y.permute(0, 3, 1, 2)


class PointwiseConv(nn.Conv2d):
    """A 1x1 convolution that runs as a matrix product (``pointwise_conv_as_gemm``) on maps
    of at most ``GEMM_MAX_ROWS`` positions (B x H x W), and as a convolution on larger ones,
    where the convolution's fused epilogues (add, ReLU) win. The choice is made once per
    graph, when it is traced; a graph with a symbolic batch (an exported dynamic batch)
    takes the GEMM only where it holds for every batch the graph accepts.
    """

    GEMM_MAX_ROWS = 1024

    def use_gemm(self, x: torch.Tensor) -> bool:
        rows = x.shape[0] * x.shape[2] * x.shape[3]
        if isinstance(rows, int):
            return rows <= self.GEMM_MAX_ROWS
        # Imported here, where a trace has loaded it: it pulls in sympy, which loading and
        # running a package (a cold start) does not need.
        from torch.fx.experimental.symbolic_shapes import statically_known_true

        return statically_known_true(rows <= self.GEMM_MAX_ROWS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pointwise_conv_as_gemm(x, self) if self.use_gemm(x) else super().forward(x)


def is_plain_pointwise(conv: nn.Module) -> bool:
    """A plain ``nn.Conv2d`` with a 1x1 kernel, stride 1, no padding and one group."""
    return (
        type(conv) is nn.Conv2d
        and conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.padding == (0, 0)
        and conv.groups == 1
    )


def swap_pointwise_convs(model: nn.Module, kind: type[PointwiseConv] = PointwiseConv) -> nn.Module:
    """Replace every plain 1x1 ``nn.Conv2d`` of ``model`` by a ``kind`` sharing its
    parameters (same state-dict keys), in place. Returns ``model``."""
    for parent in list(model.modules()):
        for name, conv in parent.named_children():
            if is_plain_pointwise(conv):
                gemm = kind(conv.in_channels, conv.out_channels, 1, bias=False, device="meta")
                gemm.weight, gemm.bias = conv.weight, conv.bias
                setattr(parent, name, gemm)
    return model
