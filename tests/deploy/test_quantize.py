"""int8 ONNX: quantised from a tiny calibration set it still finds the same joints as
float32; clear errors for missing or misshaped calibration images; the ONNX Runtime module
wrapper; ``lite-hrnet export --int8`` end to end on generated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import lite_hrnet
from lite_hrnet.cli.main import main
from lite_hrnet.deploy.onnx import export_onnx
from lite_hrnet.deploy.quantize import (
    DEFAULT_KEEP_FLOAT,
    OnnxRuntimeModel,
    onnx_input_shape,
    quantize_onnx,
)
from lite_hrnet.testing.weights import variance_preserving
from tests.support import TINY_BACKBONE

SIZE = (64, 64)


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny pose model's ``export --optimize`` graph at 64x64, with weights whose heatmaps
    have real peaks (``variance_preserving``)."""
    model = variance_preserving(lite_hrnet.create_pose_model("lite_hrnet_18", **TINY_BACKBONE))
    lean = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
    return export_onnx(lean, tmp_path_factory.mktemp("onnx") / "fp32.onnx", input_size=SIZE)


def _images(n: int, seed: int) -> torch.Tensor:
    """Smooth random images (normalised scale), more like photos than white noise."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randn(n, 3, SIZE[0] // 8, SIZE[1] // 8, generator=gen)
    return torch.nn.functional.interpolate(coarse, size=SIZE, mode="bilinear")


def test_int8_finds_the_joints_float32_finds(fp32_onnx: Path, tmp_path: Path) -> None:
    calibration = [_images(4, seed) for seed in range(4)]
    int8 = quantize_onnx(fp32_onnx, tmp_path / "int8.onnx", calibration)
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    x = _images(8, seed=100)  # not calibrated on
    ref, got = OnnxRuntimeModel(fp32_onnx, threads=2)(x), OnnxRuntimeModel(int8, threads=2)(x)
    assert got.shape == ref.shape == (8, 17, 16, 16) and got.dtype == torch.float32
    # The heatmaps' shapes: correlation over each map's pixels, its mean taken out.
    centred = [h - h.mean((2, 3), keepdim=True) for h in (ref, got)]
    correlation = np.corrcoef(*(h.flatten().numpy() for h in centred))[0, 1]
    assert correlation > 0.98, correlation
    # The decoded joints: the peak within one heatmap pixel of float32's, for most maps.
    a, b = (h.flatten(2).argmax(2) for h in (ref, got))
    width = ref.shape[3]
    near = ((a // width - b // width).abs() <= 1) & ((a % width - b % width).abs() <= 1)
    assert near.float().mean() > 0.7, near.float().mean()


def _float_convs(path: Path) -> set[str]:
    """The Conv nodes of ``path`` whose weight is a float32 initializer (not dequantised)."""
    graph = onnx.load(str(path)).graph
    floats = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    return {n.name for n in graph.node if n.op_type == "Conv" and n.input[1] in floats}


def _quantize_count(path: Path) -> int:
    return sum(n.op_type == "QuantizeLinear" for n in onnx.load(str(path)).graph.node)


@pytest.mark.parametrize("method", ["percentile", "entropy"])
def test_a_short_last_batch_calibrates(fp32_onnx: Path, tmp_path: Path, method: str) -> None:
    # 13 crops in batches of 8: the last has 5 (percentile and entropy could not stack it).
    crops = _images(13, seed=7)
    uneven = quantize_onnx(
        fp32_onnx, tmp_path / "uneven.onnx", [crops[:8], crops[8:]], method=method
    )
    single = quantize_onnx(fp32_onnx, tmp_path / "single.onnx", list(crops.split(1)), method=method)
    # The same ranges as the crops one by one.
    ranges = [
        {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(str(p)).graph.initializer}
        for p in (uneven, single)
    ]
    assert ranges[0].keys() == ranges[1].keys()
    for name, value in ranges[0].items():
        np.testing.assert_allclose(value, ranges[1][name], rtol=1e-5, err_msg=name)


def test_default_keeps_the_last_stage_and_the_head_float(fp32_onnx: Path, tmp_path: Path) -> None:
    calibration = [_images(2, 0)]
    convs = {n.name for n in onnx.load(str(fp32_onnx)).graph.node if n.op_type == "Conv"}
    kept = {c for c in convs if any(scope in c for scope in DEFAULT_KEEP_FLOAT)}
    assert "/keypoint_head/final_layer/Conv" in kept and len(kept) < len(convs) / 2
    default = quantize_onnx(fp32_onnx, tmp_path / "a.onnx", calibration)
    assert _float_convs(default) == kept
    everything = quantize_onnx(fp32_onnx, tmp_path / "b.onnx", calibration, keep_float=())
    assert _float_convs(everything) == set()
    # Only the convolutions: fewer tensors quantised than with every op (Add, Mul, ...).
    conv_only = quantize_onnx(fp32_onnx, tmp_path / "c.onnx", calibration, op_types=["Conv"])
    counts = [_quantize_count(p) for p in (conv_only, default, everything)]
    assert 0 < counts[0] < counts[1] < counts[2], counts


def test_keep_float_naming_no_node_is_refused(fp32_onnx: Path, tmp_path: Path) -> None:
    message = r"fp32\.onnx: no node name contains keep_float \['/nope/'\]"
    with pytest.raises(ValueError, match=message):
        quantize_onnx(fp32_onnx, tmp_path / "a.onnx", [_images(1, 0)], keep_float=["/nope/"])


def test_calibration_errors_name_the_problem(fp32_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no calibration images"):
        quantize_onnx(fp32_onnx, tmp_path / "a.onnx", [])
    with pytest.raises(ValueError, match=r"shape \(2, 3, 128, 96\).*\(N, 3, 64, 64\)"):
        quantize_onnx(fp32_onnx, tmp_path / "a.onnx", [np.zeros((2, 3, 128, 96), np.float32)])
    with pytest.raises(FileNotFoundError, match=r"missing\.onnx"):
        quantize_onnx(tmp_path / "missing.onnx", tmp_path / "a.onnx", [_images(1, 0)])


def test_onnxruntime_module_checks_the_input_size(fp32_onnx: Path) -> None:
    model = OnnxRuntimeModel(fp32_onnx)
    assert onnx_input_shape(fp32_onnx) == ("batch", 3, *SIZE)
    with pytest.raises(ValueError, match=r"fp32.onnx takes images \('batch', 3, 64, 64\)"):
        model(torch.zeros(1, 3, 128, 96))


@pytest.mark.slow
def test_export_int8_cli_on_generated_data(coco_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "int8.onnx"
    argv = ["export", "lite_hrnet_18", "--input", "64x64", "--int8", "--output", str(out)]
    assert main([*argv, "--calibration-root", str(coco_root), "--calibration-images", "6"]) == 0
    assert "int8 QDQ calibrated on 6 crops" in capsys.readouterr().out
    assert main([*argv, "--calibration-root", str(coco_root), "--calibration-images", "2",
                 "--quantize-ops", "Conv", "--keep-float", "--output", str(out)]) == 0  # fmt: skip
    assert "quantised ops: Conv, kept float32: nothing" in capsys.readouterr().out
    assert onnx_input_shape(out) == ("batch", 3, 64, 64)
    heatmaps = OnnxRuntimeModel(out)(torch.zeros(2, 3, 64, 64))
    assert heatmaps.shape == (2, 17, 16, 16) and torch.isfinite(heatmaps).all()
    assert main([*argv]) == 2
    assert "--int8 needs calibration images" in capsys.readouterr().err
    assert main([*argv, "--calibration-root", str(tmp_path)]) == 2
    assert "no annotations/person_keypoints_train2017.json" in capsys.readouterr().err
    assert main([*argv, "--calibration-root", str(coco_root), "--quantize-ops", "all", "Conv"]) == 2
    assert "'all' or op types, not both" in capsys.readouterr().err
