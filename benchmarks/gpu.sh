#!/usr/bin/env bash
# The GPU figures users train and serve with, in one run (about 8 minutes on one GPU, most
# of it compiling): writes benchmarks/results/cuda.{md,json} through benchmarks/bench.py.
#   training, lite_hrnet_18 at 256x192, batch 64: fp32 eager, bf16-mixed,
#     bf16-mixed + channels_last + compile (images/s, peak memory, compile cold start);
#   inference at batch 1 and 64: eager, optimize_for_inference's rewrite under CUDA graphs
#     (torch.compile mode="reduce-overhead"), bf16 + channels_last, and bf16 under CUDA
#     graphs (latency, peak memory, cold start).
# Extra arguments go to benchmarks.bench and override these, e.g. on a CPU at tiny sizes:
#   benchmarks/gpu.sh --device cpu --sizes 32x32 --batches 1 2 --train-batch 2 --no-compile
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" -m benchmarks.bench \
    --device cuda --models lite_hrnet_18 --sizes 256x192 --batches 1 64 \
    --paths "optimized + CUDA graphs" "bf16 + channels_last" \
        "bf16 + channels_last + compile, CUDA graphs" \
    --no-reference --no-data --warmup 5 --repeats 50 --block 10 --budget 10 \
    --train-batch 64 --train-settings "bf16-mixed" "channels_last + compile + bf16-mixed" \
    --warmup-train 2 --block-train 5 --repeats-train 20 \
    "$@"
