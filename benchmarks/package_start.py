"""How long a new process takes from its start to the first output of a package.

    python -m benchmarks.package_start model.pt2 --runs 3 --threads 2

Each run is a fresh Python process that imports lite_hrnet, loads the package
(``lite_hrnet.deploy.load_package``) and runs one batch-1 input of its size, then a second
one; the figure is the wall time the parent saw from starting it to its exit, and the
parts it printed: the import, the load, the first call and the second call (a warm one,
for comparison). Prints one JSON object with every run and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_CHILD = """
import sys, time
t = [time.perf_counter()]
import torch
from lite_hrnet.deploy import load_package
torch.set_num_threads(int(sys.argv[2]))
t.append(time.perf_counter())
package = load_package(sys.argv[1])
t.append(time.perf_counter())
x = torch.randn(1, package.info.in_channels, *package.info.input_size)
for _ in range(2):
    package(x)
    t.append(time.perf_counter())
print(*(b - a for a, b in zip(t, t[1:])))
"""
PARTS = ("import_s", "load_s", "first_call_s", "second_call_s")


def new_process_first_output(package: Path, threads: int) -> dict[str, float]:
    """One fresh process: its wall time to the first output and the parts it reported."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(package), str(threads)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": str(threads)},
    )
    wall = time.perf_counter() - start
    parts = dict(zip(PARTS, (float(v) for v in done.stdout.split()[-len(PARTS) :])))
    return {
        "process_s": wall,
        "import_and_load_s": parts["import_s"] + parts["load_s"],
        **parts,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    runs = [new_process_first_output(args.package, args.threads) for _ in range(args.runs)]
    report = {
        "package": str(args.package),
        "threads": args.threads,
        "runs": runs,
        **{f"median_{k}": statistics.median(r[k] for r in runs) for k in runs[0]},
    }
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
