"""The benchmark suite end to end at a tiny size (speed itself is never asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook

from benchmarks import bench

# The benchmark suite at tiny sizes; its OpenVINO rows run in a pytest process of their own
# (`make test`): a process that has run OpenVINO and then forks can crash later.
pytestmark = [pytest.mark.slow, pytest.mark.openvino]


def test_bench_writes_ratios_against_eager(tmp_path: Path) -> None:
    report = bench.main(
        ["--models", "lite_hrnet_18", "--sizes", "32x32", "--batches", "1", "2",
         "--no-compile", "--no-reference", "--no-data", "--warmup", "1", "--repeats", "3",
         "--train-batch", "2", "--train-settings", "channels_last",
         "--warmup-train", "1", "--repeats-train", "3", "--out", str(tmp_path)]
    )  # fmt: skip
    saved = json.loads((tmp_path / "cpu.json").read_text())
    assert saved["inference"] == json.loads(json.dumps(report["inference"]))
    paths = {(r["path"], r["batch"]) for r in saved["inference"]}
    expected = {"eager", "official control flow", "optimized, eager"}
    assert {(p, b) for p in expected for b in (1, 2)} <= paths
    assert ("onnxruntime, export --optimize", 2) in paths
    assert ("onnxruntime, export --int8", 2) in paths
    assert ("openvino fp32, plain graph", 2) in paths and ("openvino int8", 2) in paths
    assert all(r["speedup"] == 1.0 for r in saved["inference"] if r["path"] == "eager")
    assert all(r["speedup_over"][r["path"]] == 1.0 for r in saved["inference"])
    assert all(r["latency_ms"] > 0 and r["repeats"] >= 3 for r in saved["inference"])
    assert [r["setting"] for r in saved["training"]] == ["eager fp32", "channels_last"]
    markdown = (tmp_path / "cpu.md").read_text()
    assert "| lite_hrnet_18 | 32x32 | optimized, eager |" in markdown
    assert "2 threads" in markdown and "## Training" in markdown


def test_bench_times_a_peer_onnx_beside_ours(tmp_path: Path) -> None:
    import onnx

    import lite_hrnet
    from lite_hrnet.deploy.onnx import export_onnx

    # A peer as mmdeploy writes one: a fixed batch of 1, its own input name.
    peer = export_onnx(lite_hrnet.create_backbone("naive_lite_hrnet_18"), tmp_path / "p.onnx",
                       input_size=(32, 32))  # fmt: skip
    proto = onnx.load(str(peer))
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(proto, str(peer))
    report = bench.main(
        ["--models", "lite_hrnet_18", "--sizes", "32x32", "--batches", "1", "2",
         "--no-compile", "--no-reference", "--no-data", "--no-train", "--warmup", "1",
         "--repeats", "3", "--paths", "openvino fp32, plain graph", "--peer", str(peer),
         "--out", str(tmp_path)]
    )  # fmt: skip
    paths = {(r["path"], r["batch"]) for r in report["inference"]}
    for batch in (1, 2):
        assert ("openvino fp32, plain graph", batch) in paths
        assert ("p (peer), onnxruntime fp32", batch) in paths
        assert ("p (peer), openvino fp32", batch) in paths
    assert (
        "| lite_hrnet_18 | 32x32 | p (peer), onnxruntime fp32 |"
        in (tmp_path / "cpu.md").read_text()
    )
    with pytest.raises(SystemExit):
        bench.parse_args(["--peer", str(tmp_path / "missing.onnx")])


def test_bench_times_training_alone(tmp_path: Path) -> None:
    report = bench.main(
        ["--no-inference", "--no-data", "--sizes", "32x32", "--no-compile",
         "--train-batch", "2", "--train-settings", "fused optimizer",
         "--warmup-train", "1", "--repeats-train", "2", "--out", str(tmp_path)]
    )  # fmt: skip
    assert report["inference"] == []
    rows = {r["setting"]: r for r in report["training"]}
    assert set(rows) == {"eager fp32", "fused optimizer"}
    assert not rows["eager fp32"]["fused_optimizer"] and rows["fused optimizer"]["fused_optimizer"]
    markdown = (tmp_path / "cpu.md").read_text()
    assert "## Inference" not in markdown and "| fused optimizer |" in markdown


def test_optimized_eager_path_runs_the_channels_last_copy(tmp_path: Path) -> None:
    # The ONNX export's NCHW copy once rebound the name that the path's lambda called.
    model = bench.bench_model("lite_hrnet_18", torch.device("cpu"))
    x = torch.randn(1, 3, 64, 64)
    paths = bench.inference_paths(model, x, tmp_path, compile=False, threads=1, reference=False)
    layouts: list[bool] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        if isinstance(module, nn.Conv2d):
            layouts.append(inputs[0].stride(1) == 1)

    hook = register_module_forward_pre_hook(record)
    try:
        with torch.inference_mode():
            paths["optimized, eager"]()
    finally:
        hook.remove()
    assert layouts and all(layouts)


def test_interleaved_takes_turns_in_blocks_after_untimed_calls() -> None:
    calls: list[str] = []
    paths = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    result = bench.interleaved(paths, warmup=2, repeats=5, device=torch.device("cpu"), block=3)
    assert result["a"]["repeats"] == result["b"]["repeats"] == 5
    assert len(result["a"]["round_medians_s"]) == len(result["b"]["round_medians_s"]) == 2
    # Cold starts, then per round and path: 2 untimed calls and a block of timed ones.
    assert calls == ["a", "b"] + ["a"] * 5 + ["b"] * 5 + ["a"] * 4 + ["b"] * 4


def test_speedup_pairs_rounds_so_that_drift_between_rounds_cancels() -> None:
    # The path is 2x faster, but the machine slowed fourfold in round 2 after eager's turn
    # and stayed slow. The ratio of the overall medians would say 1.0 / 2.0.
    eager = {"round_medians_s": [1.0, 1.0, 4.0]}
    fast = {"round_medians_s": [0.5, 2.0, 2.0]}
    assert bench.paired_speedup(eager, fast) == 2.0
    assert bench.paired_speedup(eager, eager) == 1.0
    with pytest.raises(ValueError):
        bench.paired_speedup(eager, {"round_medians_s": [0.5]})


def test_markdown_has_the_data_pipeline_table() -> None:
    report = json.loads(json.dumps(_report_without_rows()))
    report["data_pipeline"] = {
        "samples_per_s_one_process": 301.4,
        "samples_per_s_dataloader_1_worker": 250.2,
        "input": "256x192",
        "cpu": "x86_64",
    }
    markdown = bench.to_markdown(report)
    assert "## Data pipeline (256x192" in markdown
    assert "| 301 samples/s | 250 samples/s |" in markdown


def _report_without_rows() -> dict:
    machine = {"cpu": "cpu", "threads": 2, "torch": "2", "date": "d", "load_average_at_start": 0}
    return {
        "device": "cpu", "command": "c", "machine": machine, "warmup": 1, "block": 5,
        "repeats": 3, "budget": 1.0, "warmup_train": 1, "block_train": 3, "repeats_train": 3,
        "inference": [], "training": [],
    }  # fmt: skip


def test_ort_profile_accounts_for_every_node_of_the_export() -> None:
    from benchmarks import ort_profile

    report = ort_profile.main(["--input", "64x64", "--runs", "2", "--threads", "1"])
    ops = report["ops"]
    assert round(sum(op["nodes"] for op in ops.values())) == report["nodes"] > 100
    assert {"Conv", "Split", "Concat"} <= set(ops)
    assert all(op["us"] > 0 for op in ops.values())
    assert report["dispatch_us_per_node"] > 0


def test_gpu_script_runs_on_the_cpu_at_tiny_sizes(tmp_path: Path) -> None:
    script = Path(bench.__file__).parent / "gpu.sh"
    subprocess.run(
        [str(script), "--device", "cpu", "--sizes", "32x32", "--batches", "1", "2",
         "--train-batch", "2", "--no-compile", "--warmup", "1", "--repeats", "2",
         "--warmup-train", "1", "--repeats-train", "2", "--budget", "1", "--out", str(tmp_path)],
        check=True, env={**os.environ, "PYTHON": sys.executable},
    )  # fmt: skip
    saved = json.loads((tmp_path / "cpu.json").read_text())
    # The script's paths beside eager are CUDA-only: on the CPU, eager alone is timed.
    assert [(r["path"], r["batch"]) for r in saved["inference"]] == [("eager", 1), ("eager", 2)]
    settings = [r["setting"] for r in saved["training"]]
    assert settings == ["eager fp32", "bf16-mixed"]
    assert all(r["batch"] == 2 for r in saved["training"])
