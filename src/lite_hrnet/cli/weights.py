"""``lite-hrnet weights list``: the published weights by tag, with what was measured."""

from __future__ import annotations

import argparse

from ..models.variants import VARIANTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("weights", help="the published weights (pretrained= tags)")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="tag, data set, input, joints, published metric, URL")


def run(args: argparse.Namespace) -> int:
    rows = [("tag", "dataset", "input", "joints", "published", "URL")]
    for variant, info in VARIANTS.items():
        for w in info.pretrained:
            size = f"{w.input_size[0]}x{w.input_size[1]}"
            metric = f"{w.metric} {w.published:.3f}"
            rows.append((f"{variant}.{w.tag}", w.dataset, size, str(w.num_joints), metric, w.url))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(n) for c, n in zip(row, widths)) + "  " + row[-1])
    print(
        "published: measured by mmpose (COCO val2017 AP with detector boxes and flip test; "
        "MPII val PCKh@0.5)"
    )
    return 0
