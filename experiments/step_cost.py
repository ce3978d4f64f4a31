"""Per-iteration CPU cost of the experiment settings, to size their schedules.

    python experiments/step_cost.py [--batch 32] [--steps 4] [--threads 1]

For every setting of the CPU experiments (the ablation's 8 and LITE vs NAIVE's 3) it
times training steps (forward, masked MSE, backward, Adam) on random batches and eval
forwards (the flip test: two passes per crop) in *process CPU time* with one torch thread,
so the figures hold on a machine that other jobs load. Ratios against lite_hrnet_18 at
128x96 turn the measured `make train` speed (docs/training.md) into a per-job estimate.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time

import torch

from lite_hrnet import complexity, create_pose_model
from lite_hrnet.tasks.pose import masked_mse

SETTINGS = [
    # (label, variant, overrides, input (H, W))
    *[
        (
            f"w{w} m{list(m)} {h}x{wd}",
            "lite_hrnet_18",
            {"width": w, "num_modules": m},
            (h, wd),
        )
        for w in (0.5, 1.0)
        for m in ((1, 2, 1), (2, 4, 2))
        for h, wd in ((128, 96), (160, 128))
    ],
    ("naive_lite_hrnet_18 128x96", "naive_lite_hrnet_18", {}, (128, 96)),
    ("wider_naive_lite_hrnet_18 128x96", "wider_naive_lite_hrnet_18", {}, (128, 96)),
]


def cpu_seconds(fn, repeats: int) -> float:
    """Median process CPU seconds of ``fn()`` over ``repeats`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return sorted(times)[len(times) // 2]


def measure(variant: str, overrides: dict, size: tuple[int, int], batch: int, steps: int):
    model = create_pose_model(variant, 17, **overrides)
    counts = complexity(model, size)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, *size)
    target = torch.rand(batch, 17, size[0] // 4, size[1] // 4)
    weight = torch.ones(batch, 17)

    def train_step() -> None:
        optimizer.zero_grad()
        masked_mse(model(x), target, weight).backward()
        optimizer.step()

    model.train()
    train = cpu_seconds(train_step, steps)
    model.eval()
    with torch.no_grad():
        evaluate = cpu_seconds(lambda: (model(x), model(x.flip(3))), steps)
    return counts, train, evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    for label, variant, overrides, size in SETTINGS:
        counts, train, evaluate = measure(variant, overrides, size, args.batch, args.steps)
        rows.append((label, counts, train, evaluate))
    base = next(t for label, _, t, _ in rows if label == "w1.0 m[2, 4, 2] 128x96")
    print(f"batch {args.batch}, {args.threads} thread(s), median of {args.steps} (CPU s)\n")
    print("| setting | params | paper FLOPs | train step | x L-18 128x96 | eval (flip) per crop |")
    print("|---|---|---|---|---|---|")
    for label, counts, train, evaluate in rows:
        print(
            f"| {label} | {counts['params']:,} | {counts['paper_flops'] / 2**20:.1f}M | "
            f"{train:.3f} s | {train / base:.2f} | {evaluate / args.batch * 1e3:.1f} ms |"
        )


if __name__ == "__main__":
    main()
