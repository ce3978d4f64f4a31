"""The small layers: channel shuffle, nearest and bilinear upsampling in both memory formats,
eager and under torch.compile."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from lite_hrnet.models.layers import (
    ConvModule,
    NearestUpsample,
    channel_shuffle,
    upsample_bilinear_aligned_to,
    upsample_nearest_to,
)

FORMATS = [torch.contiguous_format, torch.channels_last]


def _shuffle_reference(x: torch.Tensor, groups: int) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


@pytest.mark.parametrize("memory_format", FORMATS)
def test_channel_shuffle_keeps_the_memory_format(memory_format: torch.memory_format) -> None:
    x = torch.randn(2, 12, 5, 4).contiguous(memory_format=memory_format)
    out = channel_shuffle(x, 2)
    assert torch.equal(out, _shuffle_reference(x, 2))
    assert out.is_contiguous(memory_format=memory_format)


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
    module = NearestUpsample(factor)
    assert torch.equal(module(x), expected)
    assert torch.equal(upsample_nearest_to(x, size), expected)
    for fn in (module, lambda t: upsample_nearest_to(t, size)):
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
    compiled = torch.compile(NearestUpsample(4), backend="aot_eager", fullgraph=True)
    (got,) = torch.autograd.grad(compiled(x), x, grad)
    torch.testing.assert_close(got, expected)


def test_compiled_upsampling_rejects_a_size_that_is_not_a_multiple() -> None:
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: upsample_nearest_to(t, (6, 9)), backend="eager")
    with pytest.raises(ValueError, match=r"\(6, 9\) is not \(3, 5\)"):
        compiled(torch.randn(1, 2, 3, 5))


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize(("size", "out"), [((8, 6), (16, 12)), ((3, 5), (7, 11)), ((4, 4), (4, 4))])
def test_bilinear_upsampling_is_two_products_in_compiled_training(
    memory_format: torch.memory_format, size: tuple[int, int], out: tuple[int, int]
) -> None:
    x = torch.randn(2, 6, *size).contiguous(memory_format=memory_format).requires_grad_()
    grad = torch.randn(2, 6, *out)
    expected = F.interpolate(x, size=out, mode="bilinear", align_corners=True)
    (expected_grad,) = torch.autograd.grad(expected, x, grad)
    assert torch.equal(upsample_bilinear_aligned_to(x, out), expected)  # eager: interpolate

    got, ops = _capture_graph(lambda t: upsample_bilinear_aligned_to(t, out), x)
    # Inductor lowers interpolate's backward to a scatter-add; a product's is a product.
    assert not any("interpolate" in op or "upsample" in op for op in ops), ops
    assert got.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: upsample_bilinear_aligned_to(t, out), backend="aot_eager")
    (got_grad,) = torch.autograd.grad(compiled(x), x, grad)
    torch.testing.assert_close(got_grad, expected_grad, rtol=0, atol=1e-5)


def test_bilinear_upsampling_stays_interpolate_in_compiled_inference() -> None:
    # Without a backward the gather fuses into the following add; products would not.
    x = torch.randn(1, 4, 8, 6)
    with torch.no_grad():
        _, ops = _capture_graph(lambda t: upsample_bilinear_aligned_to(t, (16, 12)), x)
    assert any("interpolate" in op for op in ops), ops


@pytest.mark.parametrize("memory_format", FORMATS)
def test_pointwise_conv_module_on_vectors_is_a_gemm_under_compile(
    memory_format: torch.memory_format,
) -> None:
    torch.manual_seed(0)
    gate = ConvModule(12, 3, norm=False)  # conv (with bias) + ReLU, as in spatial weighting
    x = torch.randn(4, 12, 1, 1).contiguous(memory_format=memory_format).requires_grad_()
    expected = gate(x)
    expected_grads = torch.autograd.grad(expected.sum(), [x, gate.conv.weight, gate.conv.bias])

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
    for module, size in ((pointwise, (2, 2)), (depthwise, (1, 1))):
        x = torch.randn(2, 6, *size)
        _, ops = _capture_graph(lambda t, m=module: m(t), x)
        assert any("conv" in op for op in ops), ops
