"""Where a batch-1 call goes, per op class, in OpenVINO and ONNX Runtime, with a floor per
class from this machine's measured memory bandwidth and matrix-product peak.

    python -m benchmarks.op_classes                  # lite_hrnet_18, 256x192, 2 threads
    python -m benchmarks.op_classes --runs 100 --model lite_hrnet_30

Times are each node's median over ``--runs`` profiled calls (OpenVINO's performance
counters, ONNX Runtime's profiler), summed per class; "per-call overhead" is the median
wall time of unprofiled calls less the summed node times (OpenVINO only: ONNX Runtime's
profiler adds its own cost to every node's time, so there the shares matter). Bytes moved
per node are its activations in and out plus its weights; MACs are the convolutions'
(output elements x weights per output). A class's floor is the sum over its nodes of
max(bytes / bandwidth, MACs / peak): bandwidth is ``torch.add`` over 1 MiB tensors (a
batch-1 activation's size, so the caches' bandwidth, not DRAM's) and the peak a 1024 x
1024 float32 matrix product, each the fastest of its calls on one thread, times
``--threads`` (``machine_rates``: what the cores can do; on a shared machine, calls on two
threads also count the waits for a descheduled thread, up to 100x slower here). The model
has random weights of a trained network's scale (``bench.bench_model``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from math import prod
from pathlib import Path
from typing import Any

import numpy as np
import torch

import lite_hrnet
from benchmarks.bench import bench_model
from lite_hrnet.cli.args import input_size
from lite_hrnet.deploy.onnx import export_onnx, onnxruntime_session
from lite_hrnet.deploy.openvino import compile_openvino, export_openvino

CLASSES = (
    "dense convolutions (1x1, stem 3x3)",
    "depthwise convolutions",
    "channel shuffle, split, concat",
    "gates (pooling, small 1x1, sigmoid, multiply)",
    "fuse layers (resampling, adds)",
    "layout conversions",
    "other",
)
_CONV = {"Convolution", "GroupConvolution", "Conv", "FusedConv"}
_LAYOUT = {"Reorder", "ReorderInput", "ReorderOutput"}
_MOVE = {
    "ShuffleChannels", "Split", "VariadicSplit", "Concatenation", "Concat", "Reshape",
    "Transpose", "Slice", "Gather", "StridedSlice",
}  # fmt: skip


def op_class(name: str, op: str, weight: tuple[int, ...] | None) -> str:
    """The class of a node named ``name`` (the exporter's module path) of type ``op``;
    ``weight`` is a convolution's weight shape (depthwise: one input channel per group)."""
    if op in _LAYOUT:
        return "layout conversions"
    if "weighting" in name:
        return "gates (pooling, small 1x1, sigmoid, multiply)"
    if op in _CONV or op.endswith("Conv"):
        depthwise = weight is not None and prod(weight[-3:-2]) == 1 and weight[-1] > 1
        return "depthwise convolutions" if depthwise else "dense convolutions (1x1, stem 3x3)"
    if op in _MOVE:
        return "channel shuffle, split, concat"
    if "fuse_layers" in name or op in {"Interpolate", "Resize", "Add", "Eltwise"}:
        return "fuse layers (resampling, adds)"
    return "other"


def machine_rates(threads: int, repeats: int = 50) -> dict[str, float]:
    """{"bytes_per_s": ``torch.add`` over three 1 MiB float32 tensors (read, read, write),
    "macs_per_s": a 1024 x 1024 float32 matrix product}: the fastest of ``repeats`` calls
    on one thread, times ``threads``."""
    torch.set_num_threads(1)

    def fastest_s(fn: Callable[[], Any]) -> float:
        for _ in range(5):
            fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    a, b, c = (torch.randn(1 << 18) for _ in range(3))
    n = 1024
    m1, m2 = torch.randn(n, n), torch.randn(n, n)
    rates = {
        "bytes_per_s": threads * 3 * a.numel() * 4 / fastest_s(lambda: torch.add(a, b, out=c)),
        "macs_per_s": threads * n**3 / fastest_s(lambda: torch.mm(m1, m2)),
    }
    torch.set_num_threads(threads)
    return rates


def _wall_ms(call: Callable[[], Any], runs: int) -> float:
    for _ in range(5):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def openvino_nodes(ir: Path, x: np.ndarray, runs: int, threads: int) -> list[dict[str, Any]]:
    """Every executed node of the compiled IR: name, op type, median ms over ``runs``
    profiled calls, bytes moved, MACs."""
    compiled = compile_openvino(ir, "f32", threads, perf_counters=True)
    request = compiled.create_infer_request()
    times: dict[str, list[float]] = defaultdict(list)
    for k in range(5 + runs):
        request.infer({0: x})
        if k >= 5:
            for info in request.profiling_info:
                if info.status == info.Status.EXECUTED:
                    times[info.node_name].append(info.real_time.total_seconds() * 1e3)
    nodes = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        name = op.get_friendly_name()
        if name not in times:
            continue
        rt = op.get_rt_info()
        kind = rt["layerType"].astype(str)
        names = rt["originalLayersNames"].astype(str)
        shapes, weight = [], None
        for i in range(op.get_input_size()):
            source = op.input_value(i)
            shape = tuple(source.get_shape()) if source.get_partial_shape().is_static else ()
            shapes.append(shape)
            if kind == "Convolution" and i == 1:
                weight = shape
        out = tuple(op.get_output_shape(0)) if op.get_output_partial_shape(0).is_static else ()
        macs = prod(out) * prod(weight[-3:]) if weight else 0
        nodes.append({
            "name": names, "op": kind, "ms": statistics.median(times[name]),
            "bytes": 4 * (sum(prod(s) for s in shapes) + prod(out)), "macs": macs,
            "class": op_class(names, kind, weight),
        })  # fmt: skip
    return nodes


def onnxruntime_nodes(path: Path, x: np.ndarray, runs: int, threads: int, prefix: str) -> list:
    """As ``openvino_nodes``, from ONNX Runtime's profiler events."""
    session = onnxruntime_session(path, threads=threads, profile_prefix=prefix)
    for _ in range(5 + runs):
        session.run(None, {"images": x})
    events = json.loads(Path(session.end_profiling()).read_text())
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    per_call = len({e["name"] for e in kernels})
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in kernels[-runs * per_call :]:
        by_name[e["name"]].append(e)
    nodes = []
    for name, evs in by_name.items():
        args = evs[0]["args"]
        ins = [tuple(next(iter(d.values()))) for d in args.get("input_type_shape", [])]
        outs = [tuple(next(iter(d.values()))) for d in args.get("output_type_shape", [])]
        op = args["op_name"]
        weight = ins[1] if (op in _CONV or op.endswith("Conv")) and len(ins) > 1 else None
        macs = prod(outs[0]) * prod(weight[1:]) if weight and outs else 0
        node = name.removesuffix("_kernel_time")
        nodes.append({
            "name": node, "op": op, "ms": statistics.median(e["dur"] for e in evs) / 1e3,
            "bytes": 4 * sum(prod(s) for s in (*ins, *outs)), "macs": macs,
            "class": op_class(node, op, weight),
        })  # fmt: skip
    return nodes


def class_table(
    nodes: list[dict[str, Any]], wall_ms: float | None, rates: dict[str, float]
) -> dict:
    """{class: {"nodes", "ms", "floor_ms", "mb", "mmacs"}} plus "per-call overhead" (the
    wall time ``wall_ms`` less the node times) if ``wall_ms`` is given."""
    table: dict[str, dict[str, float]] = {
        c: {"nodes": 0, "ms": 0.0, "floor_ms": 0.0, "mb": 0.0, "mmacs": 0.0} for c in CLASSES
    }
    for n in nodes:
        row = table[n["class"]]
        row["nodes"] += 1
        row["ms"] += n["ms"]
        row["mb"] += n["bytes"] / 1e6
        row["mmacs"] += n["macs"] / 1e6
        row["floor_ms"] += 1e3 * max(
            n["bytes"] / rates["bytes_per_s"], n["macs"] / rates["macs_per_s"]
        )
    if wall_ms is not None:
        overhead = wall_ms - sum(n["ms"] for n in nodes)
        table["per-call overhead"] = {
            "nodes": 0,
            "ms": overhead,
            "floor_ms": 0,
            "mb": 0,
            "mmacs": 0,
        }
    return table


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lite_hrnet_18")
    parser.add_argument("--input", type=input_size, default=(256, 192))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50, help="profiled calls")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rates = machine_rates(args.threads)
    model = bench_model(args.model, torch.device("cpu"))
    lean = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
    x = np.random.default_rng(0).standard_normal((1, 3, *args.input), dtype=np.float32)
    tables: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for graph, tag in ((model, "plain"), (lean, "export --optimize")):
            onnx_path = export_onnx(graph, Path(tmp) / f"{len(tables)}.onnx", args.input)
            ir = export_openvino(graph, Path(tmp) / f"{len(tables)}.xml", args.input)
            request = compile_openvino(ir, "f32", args.threads).create_infer_request()
            wall = _wall_ms(lambda r=request: r.infer({0: x}), args.runs)
            nodes = openvino_nodes(ir, x, args.runs, args.threads)
            tables[f"OpenVINO fp32, {tag} graph"] = class_table(nodes, wall, rates)
            nodes = onnxruntime_nodes(onnx_path, x, args.runs, args.threads, f"{tmp}/p{tag[0]}")
            tables[f"ONNX Runtime fp32, {tag} graph (profiled)"] = class_table(nodes, None, rates)
    print(
        f"{args.model} {args.input[0]}x{args.input[1]}, batch 1, {args.threads} threads; "
        f"bandwidth {rates['bytes_per_s'] / 1e9:.1f} GB/s (1 MiB torch.add), peak "
        f"{rates['macs_per_s'] / 1e9:.1f} GMAC/s (1024^2 float32 mm)"
    )
    for title, table in tables.items():
        total = sum(r["ms"] for r in table.values())
        floor = sum(r["floor_ms"] for r in table.values())
        print(f"\n{title}: {total:.1f} ms per call, floor {floor:.2f} ms")
        print("| class | nodes | ms | share | MB moved | MMACs | floor ms |")
        print("|---|---|---|---|---|---|---|")
        for name, r in table.items():
            print(
                f"| {name} | {r['nodes']:.0f} | {r['ms']:.2f} | {100 * r['ms'] / total:.0f}% | "
                f"{r['mb']:.1f} | {r['mmacs']:.1f} | {r['floor_ms']:.2f} |"
            )
    return {"rates": rates, "tables": tables}


if __name__ == "__main__":
    main()
