"""Compiled training: the compile-friendly modules equal the reference ones, the swap keeps
the state dict, the backward stays channels-last, and the fused optimiser."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import lite_hrnet
from lite_hrnet.models.layers import ConvModule, Interpolate
from lite_hrnet.tasks.base import fused_optimizer_kwargs
from lite_hrnet.tasks.compile import (
    BroadcastNearest,
    BroadcastUpsample,
    GemmOnVectors,
    MatmulBilinear,
    compile_for_training,
    prepare_for_compiled_training,
)
from lite_hrnet.tasks.pose import PoseEstimationModule
from lite_hrnet.testing.weights import randomize

FORMATS = [torch.contiguous_format, torch.channels_last]


def _capture_graph(
    fn: Callable[..., torch.Tensor], *args: torch.Tensor
) -> tuple[torch.Tensor, list[str]]:
    """Run ``fn`` under torch.compile with a backend that records the traced ops."""
    ops: list[str] = []

    def backend(gm: torch.fx.GraphModule, example_inputs: list[torch.Tensor]):
        ops.extend(
            str(n.target) for n in gm.graph.nodes if n.op in ("call_function", "call_module")
        )
        return gm.forward

    torch._dynamo.reset()
    return torch.compile(fn, backend=backend, fullgraph=True)(*args), ops


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("factor", [1, 2, 4])
def test_nearest_upsampling_is_a_broadcast_under_compile(
    memory_format: torch.memory_format, factor: int
) -> None:
    x = torch.randn(2, 6, 3, 5).contiguous(memory_format=memory_format)
    size = (3 * factor, 5 * factor)
    expected = F.interpolate(x, scale_factor=float(factor), mode="nearest")
    module, resize = BroadcastUpsample(factor), BroadcastNearest()
    assert torch.equal(module(x), expected)
    assert torch.equal(resize(x, size), expected)
    for fn in (module, lambda t: resize(t, size)):
        out, ops = _capture_graph(fn, x)
        assert torch.equal(out, expected)
        assert out.is_contiguous(memory_format=memory_format)
        # Inductor turns interpolate's backward into a scatter-add; the broadcast's is a sum.
        assert not any("interpolate" in op or "upsample" in op for op in ops), ops


@pytest.mark.parametrize("memory_format", FORMATS)
def test_broadcast_upsampling_has_interpolates_gradient(memory_format: torch.memory_format) -> None:
    x = torch.randn(2, 6, 3, 5).contiguous(memory_format=memory_format).requires_grad_()
    grad = torch.randn(2, 6, 12, 20)
    (expected,) = torch.autograd.grad(F.interpolate(x, scale_factor=4.0, mode="nearest"), x, grad)
    torch._dynamo.reset()
    compiled = torch.compile(BroadcastUpsample(4), backend="aot_eager", fullgraph=True)
    (got,) = torch.autograd.grad(compiled(x), x, grad)
    torch.testing.assert_close(got, expected)


def test_compiled_upsampling_rejects_a_size_that_is_not_a_multiple() -> None:
    torch._dynamo.reset()
    resize = BroadcastNearest()
    compiled = torch.compile(lambda t: resize(t, (6, 9)), backend="eager")
    with pytest.raises(ValueError, match=r"\(6, 9\) is not \(3, 5\)"):
        compiled(torch.randn(1, 2, 3, 5))


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize(("size", "out"), [((8, 6), (16, 12)), ((3, 5), (7, 11)), ((4, 4), (4, 4))])
def test_bilinear_upsampling_is_two_products_in_compiled_training(
    memory_format: torch.memory_format, size: tuple[int, int], out: tuple[int, int]
) -> None:
    x = torch.randn(2, 6, *size).contiguous(memory_format=memory_format).requires_grad_()
    grad = torch.randn(2, 6, *out)
    expected = Interpolate("bilinear", align_corners=True)(x, out)
    (expected_grad,) = torch.autograd.grad(expected, x, grad)
    resize = MatmulBilinear()
    torch.testing.assert_close(resize(x, out), expected, rtol=0, atol=1e-6)

    got, ops = _capture_graph(lambda t: resize(t, out), x)
    # Inductor lowers interpolate's backward to a scatter-add; a product's is a product.
    assert not any("interpolate" in op or "upsample" in op for op in ops), ops
    assert got.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: resize(t, out), backend="aot_eager")
    (got_grad,) = torch.autograd.grad(compiled(x), x, grad)
    torch.testing.assert_close(got_grad, expected_grad, rtol=0, atol=1e-5)


def test_bilinear_upsampling_stays_interpolate_in_compiled_inference() -> None:
    # Without a backward the gather fuses into the following add; products would not.
    x = torch.randn(1, 4, 8, 6)
    resize = MatmulBilinear()
    with torch.no_grad():
        out, ops = _capture_graph(lambda t: resize(t, (16, 12)), x)
    assert any("interpolate" in op for op in ops), ops
    assert torch.equal(out, F.interpolate(x, size=(16, 12), mode="bilinear", align_corners=True))


@pytest.mark.parametrize("memory_format", FORMATS)
def test_pointwise_conv_module_on_vectors_is_a_gemm_under_compile(
    memory_format: torch.memory_format,
) -> None:
    torch.manual_seed(0)
    gate = ConvModule(12, 3, norm=False)  # conv (with bias) + ReLU, as in spatial weighting
    x = torch.randn(4, 12, 1, 1).contiguous(memory_format=memory_format).requires_grad_()
    expected = gate(x)
    expected_grads = torch.autograd.grad(expected.sum(), [x, gate.conv.weight, gate.conv.bias])

    prepare_for_compiled_training(gate)
    assert isinstance(gate.conv, GemmOnVectors)
    got, ops = _capture_graph(lambda t: gate(t), x)
    assert not any("conv" in op for op in ops), ops
    assert any("linear" in op for op in ops), ops
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    torch._dynamo.reset()
    compiled = torch.compile(gate, backend="aot_eager")
    got_grads = torch.autograd.grad(compiled(x).sum(), [x, gate.conv.weight, gate.conv.bias])
    for g, e in zip(got_grads, expected_grads):
        torch.testing.assert_close(g, e, rtol=0, atol=1e-5)


def test_conv_modules_on_larger_maps_stay_convolutions_under_compile() -> None:
    pointwise, depthwise = ConvModule(6, 6), ConvModule(6, 6, 3, groups=6)
    prepare_for_compiled_training(pointwise)
    prepare_for_compiled_training(depthwise)
    for module, size in ((pointwise, (2, 2)), (depthwise, (1, 1))):
        x = torch.randn(2, 6, *size)
        _, ops = _capture_graph(lambda t, m=module: m(t), x)
        assert any("conv" in op for op in ops), ops


@pytest.mark.parametrize("name", lite_hrnet.list_models())
def test_prepared_network_computes_the_reference_function(name: str) -> None:
    reference = randomize(lite_hrnet.create_pose_model(name, width=0.5, num_modules=(1, 1, 1)))
    prepared = prepare_for_compiled_training(
        randomize(lite_hrnet.create_pose_model(name, width=0.5, num_modules=(1, 1, 1)))
    )
    assert list(prepared.state_dict()) == list(reference.state_dict())
    kinds = {type(m) for m in prepared.modules()}
    assert nn.Upsample not in kinds and Interpolate not in kinds  # every one swapped
    expected_kinds = {BroadcastUpsample, MatmulBilinear, GemmOnVectors}
    if reference.backbone.spec.module_type == "LITE":  # the cross-resolution gates
        expected_kinds |= {BroadcastNearest}
    assert expected_kinds <= kinds
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    expected = reference.train()(x)
    got = prepared.train()(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    (ge,) = torch.autograd.grad(expected.square().sum(), x)
    (gg,) = torch.autograd.grad(got.square().sum(), x)
    torch.testing.assert_close(gg, ge, rtol=1e-4, atol=1e-5)
    # The paper's FLOP count is unchanged by the swap.
    assert lite_hrnet.complexity(prepared, (64, 64)) == lite_hrnet.complexity(reference, (64, 64))


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


@pytest.mark.slow
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
