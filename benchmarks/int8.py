"""int8 in ONNX Runtime: which ops and nodes to quantise, against the float32 ``export --optimize``
graph, at batch 1 in paired rounds (``bench.interleaved``).

    python -m benchmarks.int8 --input 128x96 --threads 2
    python -m benchmarks.int8 --checkpoint best.ckpt --calibration-root DIR --input 128x96

Without ``--checkpoint`` the model has random weights of a trained network's scale
(``bench.bench_model``) and is calibrated on smooth random images; with it, on person
crops of ``--calibration-root`` (``lite-hrnet export --int8``'s calibration). Each
variant's row: its batch-1 latency, its ratio against float32 ONNX Runtime, and how close
its heatmaps are (correlation of the mean-free maps) on the first calibration batch.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

import lite_hrnet
from benchmarks.bench import bench_model, calibration_images, interleaved, paired_speedup
from lite_hrnet.cli.args import input_size
from lite_hrnet.deploy.onnx import export_onnx, onnxruntime_session
from lite_hrnet.deploy.quantize import quantize_onnx

# quantize_onnx's keyword arguments; op_types None: every op ONNX Runtime has an int8 form
# of; keep_float (): every node quantised.
VARIANTS: dict[str, dict[str, Any]] = {
    "export --int8 (default)": {},
    "all ops, minmax, nothing float": {"method": "minmax", "keep_float": ()},
    "all ops, nothing float": {"keep_float": ()},
    "Conv only": {"op_types": ["Conv"]},
    "Conv, Add, Mul": {"op_types": ["Conv", "Add", "Mul"]},
}


def _centred_correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean(axis=(2, 3), keepdims=True)
    b = b - b.mean(axis=(2, 3), keepdims=True)
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lite_hrnet_18")
    parser.add_argument("--input", type=input_size, default=(128, 96))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--calibration-root", type=Path)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.checkpoint is not None:
        model = lite_hrnet.create_pose_model(args.model, checkpoint_path=args.checkpoint).eval()
    else:
        model = bench_model(args.model, torch.device("cpu"))
    if args.calibration_root is not None:
        from lite_hrnet.cli.calibration import calibration_batches

        batches = calibration_batches(args.calibration_root, "train2017", args.input, 64)
    else:
        batches = [b.numpy() for b in calibration_images(args.input)]
    lean = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
    x = np.ascontiguousarray(batches[0][:1])
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(lean, Path(tmp) / "fp32.onnx", input_size=args.input)
        sessions = {"float32": onnxruntime_session(fp32, threads=args.threads)}
        for name in args.variants:
            path = quantize_onnx(fp32, Path(tmp) / f"{len(sessions)}.onnx", batches,
                                 **VARIANTS[name])  # fmt: skip
            sessions[name] = onnxruntime_session(path, threads=args.threads)
        (ref,) = sessions["float32"].run(None, {"images": batches[0]})
        paths = {k: (lambda s=s: s.run(None, {"images": x})) for k, s in sessions.items()}
        result = interleaved(paths, 3, args.repeats, torch.device("cpu"), block=10)
        for name, session in sessions.items():
            (out,) = session.run(None, {"images": batches[0]})
            rows[name] = {
                "latency_ms": 1e3 * result[name]["median_s"],
                "x_float32": paired_speedup(result["float32"], result[name]),
                "heatmap_correlation": _centred_correlation(ref, out),
            }
    h, w = args.input
    print(f"{args.model} {h}x{w}, batch 1, {args.threads} threads")
    print("| graph | batch-1 ms | x float32 ORT | heatmap correlation |\n|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['latency_ms']:.2f} | x{r['x_float32']:.2f} | "
              f"{r['heatmap_correlation']:.4f} |")  # fmt: skip
    print(json.dumps(rows))
    return rows


if __name__ == "__main__":
    main()
