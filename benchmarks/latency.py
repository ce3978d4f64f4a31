"""CPU latency of a variant: our eager model vs the official control flow on the same weights.

    python -m benchmarks.latency --model lite_hrnet_18 --input 256x192 --threads 2 --compile

Run from the repository root. Reports medians after warm-up, and the ratio to the official
control flow (tests/official_semantics.py: traced-size adaptive pooling, in-place fuse, the
second call of ``fuse_layers[i][0]``), measured in the same run, interleaved.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import torch
from tests.official_semantics import official_forward

import lite_hrnet
from lite_hrnet.cli.args import input_size


def _time(fn, x: torch.Tensor) -> float:
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="lite_hrnet_18")
    parser.add_argument("--input", type=input_size, default=(256, 192))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument(
        "--compile", action="store_true", help="also time torch.compile (compiling takes minutes)"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = lite_hrnet.create_pose_model(args.model).eval()
    x = torch.randn(args.batch, 3, *args.input)
    paths = {
        "ours (eager)": model,
        "official control flow": lambda t: model.keypoint_head(official_forward(model.backbone, t)),
    }
    if args.compile:
        paths["ours (torch.compile)"] = torch.compile(model)
    times: dict[str, list[float]] = {name: [] for name in paths}
    with torch.inference_mode():
        for _ in range(args.warmup):
            for fn in paths.values():
                fn(x)
        for i in range(args.repeats):
            for name, fn in paths.items():
                times[name].append(_time(fn, x))
            if (i + 1) % 10 == 0:
                print(f"  {i + 1}/{args.repeats} repeats", file=sys.stderr)
    base = statistics.median(times["official control flow"])
    rows = {
        name: {"median_ms": 1e3 * statistics.median(t), "speedup": base / statistics.median(t)}
        for name, t in times.items()
    }
    h, w = args.input
    print(
        f"{args.model} {h}x{w} batch {args.batch}, {args.threads} threads, torch "
        f"{torch.__version__}, {platform.processor() or platform.machine()}"
    )
    for name, row in rows.items():
        print(f"  {name:24s} {row['median_ms']:8.2f} ms   x{row['speedup']:.2f}")
    print(json.dumps({"model": args.model, "input": [h, w], "batch": args.batch, **rows}))


if __name__ == "__main__":
    main()
