"""``lite-hrnet report MULTIRUN_DIR``: an experiment README (command, table, plot) of a sweep."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="write an experiment README from a `lite-hrnet train -m` folder",
        description="One table row per job (the overrides that differ between jobs, test "
        "metrics, params, MACs, paper FLOPs, training images/s, failures) and a plot of the "
        "metric against paper FLOPs, saved next to the README. An existing README with the "
        "report markers keeps everything outside them.",
    )
    parser.add_argument("sweep", type=Path, help="the multirun folder, e.g. multirun/<date>")
    parser.add_argument("--out", type=Path, help="README to write (default: SWEEP/README.md)")
    parser.add_argument("--title", help="heading of a new README (default: the folder name)")
    parser.add_argument("--question", help="the question the experiment answers")
    parser.add_argument("--plot", default="results.png", help="plot file name, next to --out")
    parser.add_argument("--metric", help="metric plotted (default: AP, PCKh or mIoU)")
    parser.add_argument("--color", help="swept key that colours the plot (default: the first)")


def run(args: argparse.Namespace) -> int:
    from ..reporting.experiment import write_report

    out, png = write_report(
        args.sweep,
        out=args.out,
        title=args.title,
        question=args.question,
        plot_name=args.plot,
        metric=args.metric,
        color_key=args.color,
    )
    print(f"report written to {out}" + (f", plot {png}" if png else " (no finished job to plot)"))
    return 0
