"""optimize_for_inference: same outputs as the source model, which stays untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch._dynamo.utils import counters

import lite_hrnet
from lite_hrnet.cli.main import main
from lite_hrnet.deploy import PointwiseConv, fold_batchnorm
from lite_hrnet.deploy.onnx import DEFAULT_OPSET, DYNAMO_MIN_OPSET, export_onnx, onnxruntime_session
from lite_hrnet.testing.weights import non_channels_last_inputs, randomize

MODELS = lite_hrnet.list_models()
# Every block type of a LITE network, small enough to compile or export in seconds.
ONE_STAGE = {"num_modules": (1,), "channels": (8, 16), "num_blocks": (1,), "reduce_ratios": (2,)}


def _assert_close(got: torch.Tensor, expected: torch.Tensor) -> None:
    assert got.shape == expected.shape
    scale = expected.abs().max().item()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("channels_last", [False, True])
def test_pose_model_matches_eager(name: str, channels_last: bool) -> None:
    model = randomize(lite_hrnet.create_pose_model(name)).eval()
    fast = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=channels_last)
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        _assert_close(fast(x), model(x))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())


@pytest.mark.parametrize("name", MODELS)
def test_backbones_match_eager(name: str) -> None:
    x = torch.randn(1, 3, 64, 64)
    backbone = randomize(lite_hrnet.create_backbone(name)).eval()
    features = randomize(
        lite_hrnet.create_backbone(name, features_only=True, out_indices=(0, 2))
    ).eval()
    with torch.no_grad():
        _assert_close(lite_hrnet.optimize_for_inference(backbone, compile=False)(x), backbone(x))
        got = lite_hrnet.optimize_for_inference(features, compile=False)(x)
        expected = features(x)
    assert len(got) == len(expected) == 2
    for g, e in zip(got, expected):
        _assert_close(g, e)


def test_plain_fuse_and_no_fuse_variants() -> None:
    x = torch.randn(1, 3, 64, 32)
    for overrides in ({"fuse_branch0_twice": False}, {"with_fuse": False}):
        model = randomize(lite_hrnet.create_backbone("lite_hrnet_18", **overrides)).eval()
        with torch.no_grad():
            _assert_close(lite_hrnet.optimize_for_inference(model, compile=False)(x), model(x))


@pytest.mark.parametrize("name", MODELS)
def test_channels_last_reaches_every_convolution(name: str) -> None:
    model = lite_hrnet.optimize_for_inference(lite_hrnet.create_pose_model(name), compile=False)
    with torch.no_grad():
        assert non_channels_last_inputs(model.module, torch.randn(1, 3, 128, 96)) == []


def test_source_model_is_untouched() -> None:
    model = randomize(lite_hrnet.create_pose_model("lite_hrnet_18")).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modules_before = [type(m) for m in model.modules()]
    fast = lite_hrnet.optimize_for_inference(model, compile=False)
    assert model.training and not fast.training
    assert all(m.training for m in model.modules())
    assert [type(m) for m in model.modules()] == modules_before
    after = model.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    with pytest.raises(RuntimeError, match="inference-only"):
        fast.train()


@pytest.mark.parametrize("name", MODELS)
def test_optimized_model_keeps_dtype_and_device(name: str) -> None:
    # New modules (the block-diagonal convs) must follow the source's parameters, else a
    # CUDA or float64 model gets float32 CPU weights in places.
    model = randomize(lite_hrnet.create_pose_model(name, **ONE_STAGE)).double().eval()
    fast = lite_hrnet.optimize_for_inference(model, compile=False)
    assert {p.dtype for p in fast.parameters()} == {torch.float64}
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        _assert_close(fast(x), model(x))


def test_bfloat16_takes_and_returns_float32() -> None:
    model = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", **ONE_STAGE)).eval()
    fast = lite_hrnet.optimize_for_inference(model, compile=False, dtype=torch.bfloat16)
    assert {p.dtype for p in fast.parameters()} == {torch.bfloat16}
    x = torch.randn(2, 3, 32, 32)
    got = fast(x)
    with torch.no_grad():
        expected = model(x)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    # bfloat16 keeps 8 bits of mantissa: relative errors of a few percent after many layers.
    assert (got - expected).abs().max() <= 0.05 * expected.abs().max()


def test_fold_batchnorm_on_any_sequential() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Identity(), nn.ReLU()
    )
    randomize(model).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
        folded = fold_batchnorm(model)
        _assert_close(folded(x), expected)
    assert [type(m) for m in folded] == [nn.Conv2d, nn.ReLU]
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)))


@pytest.mark.slow
def test_compiled_model_matches_eager_with_packed_weights() -> None:
    # A one-stage model: compiling the full network takes minutes.
    model = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", **ONE_STAGE)).eval()
    counters.clear()
    fast = lite_hrnet.optimize_for_inference(model)
    x = torch.randn(2, 3, 32, 32)
    got = fast(x)
    with torch.no_grad():
        _assert_close(got, model(x))
    # Freezing took effect: every convolution runs with a pre-packed weight, the 1x1 ones
    # on these small maps as GEMMs (PointwiseConv), the others as oneDNN convolutions.
    gemms = sum(isinstance(m, PointwiseConv) for m in fast.module.modules())
    convs = sum(isinstance(m, nn.Conv2d) for m in fast.module.modules()) - gemms
    assert gemms > 0 and convs > 0
    assert counters["inductor"]["mkldnn_conv_weight_pack_matcher_count"] == convs
    assert counters["inductor"]["mkldnn_linear_weight_pack_matcher_count"] == gemms


@pytest.mark.slow
def test_every_optimized_copy_compiles_past_dynamos_recompile_limit() -> None:
    # Dynamo counts graphs per Python function over all instances of a class; past its
    # limit it runs calls eagerly without an error. Here the limit is 1 and the second
    # copy (another instance of the same class) must still get its own graph.
    torch._dynamo.reset()
    counters.clear()
    x = torch.randn(1, 3, 8, 8)
    with torch._dynamo.config.patch(recompile_limit=1):
        for _ in range(2):
            model = randomize(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))).eval()
            with torch.no_grad():
                _assert_close(lite_hrnet.optimize_for_inference(model)(x), model(x))
    assert counters["stats"]["unique_graphs"] == 2


def test_pointwise_conv_keeps_the_convolution_on_large_maps() -> None:
    conv = randomize(nn.Conv2d(8, 4, 1))
    gemm = PointwiseConv(8, 4, 1)
    gemm.load_state_dict(conv.state_dict())
    for size, calls in ((4, 1), (64, 0)):  # 16 positions: a GEMM; 4096: the convolution
        x = torch.randn(1, 8, size, size).contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), mock.patch.object(F, "linear", wraps=F.linear) as linear:
            _assert_close(gemm(x), conv(x))
        assert linear.call_count == calls
    uncompiled = lite_hrnet.optimize_for_inference(nn.Sequential(conv), compile=False)
    assert not any(isinstance(m, PointwiseConv) for m in uncompiled.modules())  # ONNX export


# One variant per block type; tests/deploy/test_onnx.py already exports every variant.
# The torch.export-based exporter takes ~10x longer: one small model.
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "overrides", "dynamo"),
    [
        ("lite_hrnet_18", {}, False),
        ("naive_lite_hrnet_18", {}, False),
        ("lite_hrnet_18", ONE_STAGE, True),
    ],
)
def test_optimized_onnx_matches_eager(
    tmp_path: Path, name: str, overrides: dict[str, Any], dynamo: bool
) -> None:
    model = randomize(lite_hrnet.create_pose_model(name, **overrides)).eval()
    fast = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
    opset = DYNAMO_MIN_OPSET if dynamo else DEFAULT_OPSET
    path = export_onnx(fast, tmp_path / "m.onnx", (64, 32), opset=opset, dynamo=dynamo)
    if dynamo:  # shape annotations dropped (they make ONNX Runtime slower)
        assert not onnx.load(str(path)).graph.value_info
    session = onnxruntime_session(path, threads=2)
    for batch in (1, 2):
        x = torch.randn(batch, 3, 64, 32)
        (got,) = session.run(None, {"images": x.numpy()})
        with torch.no_grad():
            _assert_close(torch.from_numpy(got), model(x))


def test_dynamo_export_needs_opset_18(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="opset"):
        export_onnx(nn.Conv2d(3, 1, 1), tmp_path / "m.onnx", (8, 8), opset=17, dynamo=True)


@pytest.mark.slow
def test_cli_export_optimize(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pose.onnx"
    argv = ["export", "lite_hrnet_18", "--optimize", "--input", "64x64", "--output", str(out)]
    assert main(argv) == 0
    assert "optimized" in capsys.readouterr().out
    session = onnxruntime_session(out, threads=2)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64), dtype=np.float32)
    (heatmaps,) = session.run(None, {"images": x})
    assert heatmaps.shape == (2, 17, 16, 16)
