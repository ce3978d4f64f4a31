"""Where ONNX Runtime spends a batch-1 call of the ``export --optimize`` graph: node time
per op type, from ORT's own profiler, and ORT's dispatch cost per node.

    python -m benchmarks.ort_profile                          # lite_hrnet_18, 256x192, 2 threads
    python -m benchmarks.ort_profile --model lite_hrnet_30 --runs 100
    python -m benchmarks.ort_profile --int8 --input 128x96   # the export --int8 graph

The model has random weights of a trained network's scale (``bench.bench_model``). The
profiler adds its own overhead, so the shares matter, not the absolute times. The dispatch
cost is the time per node of a chain of tiny elementwise nodes (1 x 16 x 8 x 8), the floor
that any node pays whatever it computes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

import lite_hrnet
from benchmarks.bench import bench_model, calibration_images
from lite_hrnet.cli.args import input_size
from lite_hrnet.deploy.onnx import export_onnx, onnxruntime_session
from lite_hrnet.deploy.quantize import quantize_onnx


def op_times(
    session_path: Path, x: np.ndarray, runs: int, threads: int, prefix: str
) -> tuple[int, dict[str, dict[str, float]]]:
    """Profile ``runs`` calls after 5 untimed ones. Returns (nodes per call,
    {op type: {"nodes": per call, "us": per call}}) from ORT's ``*_kernel_time`` events.
    """
    session = onnxruntime_session(session_path, threads=threads, profile_prefix=prefix)
    for _ in range(5 + runs):
        session.run(None, {"images": x})
    events = json.loads(Path(session.end_profiling()).read_text())
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    # The untimed calls are profiled too: keep the last ``runs`` calls' events.
    nodes_per_call = len({e["name"] for e in kernels})
    kernels = kernels[-runs * nodes_per_call :]
    ops: dict[str, dict[str, float]] = defaultdict(lambda: {"nodes": 0.0, "us": 0.0})
    for e in kernels:
        ops[e["args"]["op_name"]]["nodes"] += 1 / runs
        ops[e["args"]["op_name"]]["us"] += e["dur"] / runs
    return nodes_per_call, dict(ops)


def dispatch_us_per_node(path: Path, threads: int, nodes: int = 1000, runs: int = 50) -> float:
    """Median time per node of a chain of ``nodes`` alternating Relu/Neg nodes."""
    import onnx
    from onnx import TensorProto, helper

    chain, previous = [], "images"
    for i in range(nodes):
        chain.append(helper.make_node("Relu" if i % 2 else "Neg", [previous], [f"t{i}"]))
        previous = f"t{i}"
    shape = [1, 16, 8, 8]
    graph = helper.make_graph(
        chain,
        "chain",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, shape)],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    session = onnxruntime_session(path, threads=threads)
    feed = {"images": np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
    for _ in range(10):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return 1e6 * statistics.median(times) / nodes


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lite_hrnet_18")
    parser.add_argument("--input", type=input_size, default=(256, 192))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=60, help="profiled calls")
    parser.add_argument(
        "--int8", action="store_true", help="profile the int8 (QDQ) graph of export --int8"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lean = lite_hrnet.optimize_for_inference(
        bench_model(args.model, torch.device("cpu")), compile=False, channels_last=False
    )
    x = np.random.default_rng(0).standard_normal((1, 3, *args.input), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = export_onnx(lean, Path(tmp) / "model.onnx", input_size=args.input)
        if args.int8:
            model_path = quantize_onnx(
                model_path, Path(tmp) / "int8.onnx", calibration_images(args.input)
            )
        nodes, ops = op_times(model_path, x, args.runs, args.threads, f"{tmp}/profile")
        dispatch = dispatch_us_per_node(Path(tmp) / "chain.onnx", args.threads)
    total = sum(op["us"] for op in ops.values())
    kind = ", int8" if args.int8 else ""
    print(f"{args.model} {args.input[0]}x{args.input[1]}{kind}, batch 1, {args.threads} threads: "
          f"{nodes} nodes after ORT's optimisations, {total / 1e3:.1f} ms of node time per "
          f"call (profiled), dispatch {dispatch:.2f} us per node")  # fmt: skip
    print("| op | nodes | us per call | share |\n|---|---|---|---|")
    for name, op in sorted(ops.items(), key=lambda item: -item[1]["us"]):
        print(f"| {name} | {op['nodes']:.0f} | {op['us']:.0f} | {100 * op['us'] / total:.1f}% |")
    return {"nodes": nodes, "ops": ops, "dispatch_us_per_node": dispatch}


if __name__ == "__main__":
    main()
