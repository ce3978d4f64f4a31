"""OpenVINO IRs: float32 outputs equal the eager model's (as ONNX Runtime's do) on every
registered variant, with the precision hint set explicitly; bf16 is stored and run; int8
by NNCF keeps the float scopes and finds the joints float32 finds; ``lite-hrnet export
--format openvino`` end to end on generated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import lite_hrnet
from lite_hrnet.cli.main import main
from lite_hrnet.deploy.onnx import export_onnx
from lite_hrnet.deploy.openvino import (
    OpenVinoModel,
    export_openvino,
    openvino_precision,
    quantize_openvino,
)
from lite_hrnet.deploy.quantize import OnnxRuntimeModel
from lite_hrnet.testing.weights import randomize, variance_preserving
from tests.support import TINY_BACKBONE

# OpenVINO in a pytest process of its own (`make test`): a process that has run it
# and then forks can crash in a later garbage collection.
pytestmark = pytest.mark.openvino

ov = pytest.importorskip("openvino")

MODELS = lite_hrnet.list_models()
# Every block type of a variant, small enough to export and compile in seconds.
ONE_STAGE = {"num_modules": (1,), "channels": (8, 16), "num_blocks": (1,), "reduce_ratios": (2,)}
SIZE = (64, 64)


def _assert_close(got: torch.Tensor, expected: torch.Tensor) -> None:
    assert got.shape == expected.shape
    scale = expected.abs().max().item()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", MODELS)
def test_float32_ir_and_onnx_equal_eager(name: str, tmp_path: Path) -> None:
    model = randomize(lite_hrnet.create_pose_model(name, **ONE_STAGE)).eval()
    lean = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
    for graph, tag in ((model, "plain"), (lean, "optimized")):
        ir = export_openvino(graph, tmp_path / f"{tag}.xml", input_size=(64, 32))
        onnx_path = export_onnx(graph, tmp_path / f"{tag}.onnx", input_size=(64, 32))
        assert ir.with_suffix(".bin").is_file() and openvino_precision(ir) == "f32"
        # This CPU's default hint may be bf16: f32 must be set, or these would differ.
        openvino, ort = OpenVinoModel(ir, threads=2), OnnxRuntimeModel(onnx_path, threads=2)
        assert openvino.precision == "f32"
        for batch in (1, 3):  # the batch axis stays dynamic
            x = torch.randn(batch, 3, 64, 32)
            with torch.no_grad():
                expected = model(x)
            _assert_close(openvino(x), expected)
            _assert_close(ort(x), expected)


def test_optimized_graph_shuffles_in_one_openvino_node(tmp_path: Path) -> None:
    # The lean blocks' shuffles export in the form OpenVINO fuses (ShuffleChannels), so
    # that it keeps its channels-last layout through them instead of reordering.
    model = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", **ONE_STAGE)).eval()
    lean = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
    ir = export_openvino(lean, tmp_path / "lean.xml", input_size=(64, 32))
    runtime = OpenVinoModel(ir).compiled.get_runtime_model()
    kinds = [op.get_rt_info()["layerType"].astype(str) for op in runtime.get_ordered_ops()]
    # The stem's and every shuffle unit's and block's shuffle: one node each.
    assert kinds.count("ShuffleChannels") >= 3


@pytest.fixture(scope="module")
def tiny_pose() -> torch.nn.Module:
    """A tiny pose model whose heatmaps have real peaks (``variance_preserving``)."""
    return variance_preserving(lite_hrnet.create_pose_model("lite_hrnet_18", **TINY_BACKBONE))


@pytest.fixture(scope="module")
def fp32_ir(tiny_pose, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_openvino(tiny_pose, tmp_path_factory.mktemp("ir") / "fp32.xml", SIZE)


def _images(n: int, seed: int) -> torch.Tensor:
    """Smooth random images (normalised scale), more like photos than white noise."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randn(n, 3, SIZE[0] // 8, SIZE[1] // 8, generator=gen)
    return torch.nn.functional.interpolate(coarse, size=SIZE, mode="bilinear")


def test_bf16_is_stored_and_a_given_precision_wins(tiny_pose, tmp_path: Path) -> None:
    ir = export_openvino(tiny_pose, tmp_path / "bf16.xml", SIZE, precision="bf16")
    assert openvino_precision(ir) == "bf16"
    x = _images(2, seed=1)
    with torch.no_grad():
        expected = tiny_pose.eval()(x)
    f32 = OpenVinoModel(ir, precision="f32")
    assert f32.precision == "f32"
    _assert_close(f32(x), expected)
    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU runs no bf16: the plugin would fall back to f32")
    bf16 = OpenVinoModel(ir)
    assert bf16.precision == "bf16"
    got = bf16(x)
    assert not torch.allclose(got, expected, rtol=1e-4, atol=1e-4)  # it did run in bf16
    assert (got - expected).abs().max() < 0.05 * expected.abs().max()


def _fake_quantized_inputs(path: Path) -> set[str]:
    """The names of the IR's convolutions whose data input comes through a FakeQuantize."""
    names = set()
    for op in ov.Core().read_model(str(path)).get_ordered_ops():
        if op.get_type_name() in ("Convolution", "GroupConvolution"):
            source = op.input_value(0).get_node()
            if source.get_type_name() == "FakeQuantize":
                names.add(op.get_friendly_name())
    return names


@pytest.mark.slow
def test_int8_keeps_the_head_float_and_finds_the_joints(
    tiny_pose, fp32_ir: Path, tmp_path: Path
) -> None:
    # 13 crops in batches of 8 and 5: any count calibrates.
    crops = _images(13, seed=7)
    calibration = [crops[:8], crops[8:]]
    fp32 = fp32_ir
    int8 = export_openvino(tiny_pose, tmp_path / "int8.xml", SIZE, calibration=calibration)
    everything = export_openvino(
        tiny_pose, tmp_path / "all.xml", SIZE, calibration=calibration, keep_float=()
    )
    default, all_ops = _fake_quantized_inputs(int8), _fake_quantized_inputs(everything)
    assert default and not any("/keypoint_head/" in n or "/stage2/" in n for n in default)
    assert any("/keypoint_head/" in n for n in all_ops) and len(all_ops) > len(default)
    x = _images(8, seed=100)  # not calibrated on
    ref, got = OpenVinoModel(fp32, threads=2)(x), OpenVinoModel(int8, threads=2)(x)
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


def test_errors_name_the_problem(tiny_pose, fp32_ir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"written as NAME.xml"):
        export_openvino(tiny_pose, tmp_path / "model.onnx", SIZE)
    with pytest.raises(ValueError, match=r"precision: one of f32, bf16, got 'fp16'"):
        export_openvino(tiny_pose, tmp_path / "a.xml", SIZE, precision="fp16")
    ir = ov.Core().read_model(str(fp32_ir))
    with pytest.raises(ValueError, match=r"no op name contains keep_float \['/nothing/'\]"):
        quantize_openvino(ir, [_images(1, 0)], keep_float=["/nothing/"])
    with pytest.raises(ValueError, match=r"calibration batch 1 has shape \(1, 3, 32, 32\)"):
        quantize_openvino(ir, [_images(1, 0), torch.zeros(1, 3, 32, 32)])
    with pytest.raises(ValueError, match="no calibration images"):
        quantize_openvino(ir, [])
    with pytest.raises(FileNotFoundError, match="OpenVINO IR not found"):
        OpenVinoModel(tmp_path / "missing.xml")
    model = OpenVinoModel(fp32_ir)
    assert model.input_shape == ("batch", 3, *SIZE)
    with pytest.raises(ValueError, match=r"fp32.xml takes images \('batch', 3, 64, 64\)"):
        model(torch.zeros(1, 3, 128, 96))


@pytest.mark.slow
def test_export_openvino_cli_on_generated_data(coco_root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "model.xml"
    argv = ["export", "lite_hrnet_18", "--input", "64x64", "--format", "openvino"]
    assert main([*argv, "--output", str(out)]) == 0
    assert "OpenVINO IR, runs in f32" in capsys.readouterr().out
    assert out.is_file() and out.with_suffix(".bin").is_file()
    int8 = tmp_path / "int8.xml"
    assert main([*argv, "--output", str(int8), "--int8", "--bf16", "--calibration-root",
                 str(coco_root), "--calibration-images", "5"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "int8 (NNCF) calibrated on 5 crops" in printed and "runs in bf16" in printed
    assert openvino_precision(int8) == "bf16"
    heatmaps = OpenVinoModel(int8)(torch.zeros(2, 3, 64, 64))
    assert heatmaps.shape == (2, 17, 16, 16) and torch.isfinite(heatmaps).all()
    assert main([*argv, "--output", str(tmp_path / "m.onnx")]) == 2
    assert "written as NAME.xml" in capsys.readouterr().err
    assert main(["export", "lite_hrnet_18", "--bf16", "--output", str(tmp_path / "m.onnx")]) == 2
    assert "use it with --format openvino" in capsys.readouterr().err
    assert main([*argv, "--output", str(int8), "--int8", "--calibration-root", str(coco_root),
                 "--calibration-method", "entropy"]) == 2  # fmt: skip
    assert "--calibration-method: ONNX Runtime's quantiser only" in capsys.readouterr().err
