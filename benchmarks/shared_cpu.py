"""Training steps on a CPU that other work shares: the OpenMP spin setting against the load.

    python -m benchmarks.shared_cpu [--spincounts default 10000 0] [--competitors 0 1] [--steps 10]

Each cell is a fresh process that times ``--steps`` training steps of lite_hrnet_18 on the
``make train`` settings (128x96 input, batch 32, MSE on 32x24 heatmaps, Adam) with torch's
default threads, and reports the median of the steps after the first two. ``competitors``
busy-loop processes (one core each) run beside it. ``GOMP_SPINCOUNT`` is how many rounds
libgomp's waiting threads spin before they sleep; it is read when torch loads libgomp, so
each setting needs its own process. Prints a Markdown table (median seconds per step).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_CHILD = """
import sys, time, torch
from lite_hrnet import create_pose_model
torch.manual_seed(0)
model = create_pose_model("lite_hrnet_18", num_joints=17)
optimizer = torch.optim.Adam(model.parameters(), 1e-3)
x, target = torch.randn(32, 3, 128, 96), torch.randn(32, 17, 32, 24)
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    loss = ((model(x) - target) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(time.perf_counter() - start, flush=True)
"""


@contextmanager
def competing_load(processes: int) -> Iterator[None]:
    """``processes`` busy loops, each keeping one core busy, for the duration."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def step_seconds(spincount: str, steps: int) -> float:
    """Median seconds per training step in a new process, the first two steps left out."""
    env = dict(os.environ)
    env.pop("GOMP_SPINCOUNT", None)
    if spincount != "default":
        env["GOMP_SPINCOUNT"] = spincount
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(steps)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    times = [float(line) for line in out.stdout.split()]
    return statistics.median(times[2:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spincounts", nargs="+", default=["default", "10000", "0"])
    parser.add_argument("--competitors", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    if args.steps < 3:
        parser.error("--steps must be at least 3 (the first two are warm-up)")
    print(f"load average at the start: {os.getloadavg()[0]:.2f}", flush=True)
    header = [f"{n} busy loop{'s' if n != 1 else ''}" for n in args.competitors]
    print("| GOMP_SPINCOUNT | " + " | ".join(header) + " |")
    print("|---|" + "---|" * len(header), flush=True)
    for spincount in args.spincounts:
        cells = []
        for competitors in args.competitors:
            with competing_load(competitors):
                cells.append(f"{step_seconds(spincount, args.steps):.2f} s")
        print(f"| {spincount} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
