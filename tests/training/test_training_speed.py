"""The training speed options: channels-last convolution backwards and vectorised bool-mask
loads in compiled training graphs, and the fused optimiser."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from lite_hrnet.tasks.compile import (
    compile_for_training,
    fused_optimizer_kwargs,
    vectorise_bool_mask_loads,
)
from lite_hrnet.tasks.pose import PoseEstimationModule


class _ConvBackwardInputs(TorchDispatchMode):
    """Records, for every convolution backward, whether its input and gradient are
    channels-last (channels innermost)."""

    def __init__(self) -> None:
        super().__init__()
        self.channels_last: list[tuple[bool, bool]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.convolution_backward.default:
            grad, x = args[0], args[1]
            self.channels_last.append((grad.stride(1) == 1, x.stride(1) == 1))
        return func(*args, **(kwargs or {}))


def test_compiled_training_keeps_depthwise_backward_channels_last() -> None:
    # A depthwise weight (C, 1, 3, 3) ties C with W; Inductor ordered the saved input after
    # it (N, H, C, W) in the backward graph, where its layout optimisation was off.
    torch._dynamo.reset()
    net = nn.Sequential(
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 8, 1, bias=False),
    ).to(memory_format=torch.channels_last)
    x = torch.randn(2, 8, 12, 10).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    compiled = compile_for_training(net, channels_last=True, dynamic=False)
    loss = compiled(x).square().mean()
    with _ConvBackwardInputs() as seen:
        loss.backward()
    assert len(seen.channels_last) == 2
    assert all(grad and inp for grad, inp in seen.channels_last), seen.channels_last
    expected = torch.autograd.grad(net(x).square().mean(), x)[0]
    torch.testing.assert_close(x.grad, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("channels", [40, 7])  # 7: a masked tail shorter than a vector
def test_compiled_kernels_load_bool_masks_with_vector_instructions(channels: int) -> None:
    # ReLU masks saved for the backward are bool tensors; Inductor's own bool load is a
    # scalar loop (~10x slower in a BatchNorm-backward kernel).
    from torch._inductor.utils import run_and_get_code

    assert vectorise_bool_mask_loads()
    assert vectorise_bool_mask_loads()  # idempotent
    torch._dynamo.reset()
    mask = torch.rand(2, channels, 6, 5) > 0.5
    grad, x = torch.randn(2, channels, 6, 5), torch.randn(2, channels, 6, 5)

    def relu_backward(mask: torch.Tensor, grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.where(mask, 0.0, grad * x)

    # Cached kernels from before the change would be reused: compile afresh.
    with torch._inductor.config.patch(fx_graph_cache=False):
        compiled = torch.compile(relu_backward, dynamic=False)
        got, (code,) = run_and_get_code(compiled, mask, grad, x)
    torch.testing.assert_close(got, relu_backward(mask, grad, x), rtol=0, atol=0)
    assert "at::vec::Vectorized<uint8_t>::loadu(reinterpret_cast<const uint8_t*>" in code
    assert "VecMask<float,1>::from(in_ptr" not in code


def test_fused_optimizer_only_where_pytorch_has_the_kernel() -> None:
    assert fused_optimizer_kwargs([nn.Parameter(torch.randn(3))]) == {"fused": True}
    assert fused_optimizer_kwargs([]) == {}
    assert fused_optimizer_kwargs([torch.zeros(3, dtype=torch.int64)]) == {}
    assert fused_optimizer_kwargs([torch.randn(3, device="meta")]) == {}


@pytest.mark.parametrize("fused", [True, False])
def test_pose_module_builds_the_configured_adam(fused: bool) -> None:
    class _Trainer:  # what configure_optimizers reads of a Lightning Trainer
        estimated_stepping_batches = 10
        max_epochs = 2

    module = PoseEstimationModule(
        backbone_overrides={"num_modules": (1, 1, 1)}, fused_optimizer=fused
    )
    module._trainer = _Trainer()
    optimizer = module.configure_optimizers()["optimizer"]
    assert isinstance(optimizer, torch.optim.Adam)
    assert bool(optimizer.defaults["fused"]) is fused
