"""Top-down data pipeline throughput: 640x480 JPEGs on disk -> 256x192 training samples
with heatmap targets, in samples/s for one worker process.

    python -m benchmarks.data_pipeline [--input 256x192] [--count 400]

``python -m benchmarks.bench`` runs it too (its data-pipeline table; ``--no-data`` skips).

It writes a small synthetic COCO set (the same generator and reader as training) to
``$LITE_HRNET_CACHE/bench_coco`` on first use, then times ``TopDownDataset.__getitem__``
in this process with one OpenCV and one torch thread, as in a DataLoader worker, and
through a DataLoader with one worker process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
from pathlib import Path

import cv2
import torch

from benchmarks.bench import samples_per_second
from lite_hrnet.cli.args import input_size
from lite_hrnet.data.pose.datamodule import CocoKeypointsDataModule
from lite_hrnet.synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco


def measure(size: tuple[int, int] = (256, 192), count: int = 400, repeats: int = 3) -> dict:
    """Median samples/s of the top-down training pipeline at ``size`` = (H, W): in one
    process with one OpenCV and one torch thread (what one DataLoader worker does), and
    through a DataLoader with one worker process. Sets both thread counts to 1."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    cache = Path(os.environ.get("LITE_HRNET_CACHE", "~/.cache/lite-hrnet")).expanduser()
    root = cache / "bench_coco"
    ensure_synthetic_coco(root, PoseSceneConfig(num_train_images=150, num_val_images=1))
    dm = CocoKeypointsDataModule(root, input_size=size, batch_size=32, num_workers=1)
    dm.setup("fit")
    dataset = dm.datasets["train"]

    def items():
        return (dataset[i % len(dataset)] for i in itertools.count())

    loader = dm.train_dataloader()

    def batches():
        return (b for _ in itertools.count() for b in loader)

    in_process = [samples_per_second(items, count, 20) for _ in range(repeats)]
    per_batch = [samples_per_second(batches, count // 32, 2) for _ in range(repeats)]
    return {
        "samples_per_s_one_process": statistics.median(in_process),
        "samples_per_s_dataloader_1_worker": statistics.median([r * 32 for r in per_batch]),
        "input": f"{size[0]}x{size[1]}",
        "cpu": platform.processor() or platform.machine(),
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=input_size, default=(256, 192))
    parser.add_argument("--count", type=int, default=400, help="samples per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure(args.input, args.count, args.repeats)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
