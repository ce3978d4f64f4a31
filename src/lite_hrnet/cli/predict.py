"""``lite-hrnet predict pose|seg IMAGE... --checkpoint C``: draw predictions as PNGs."""

from __future__ import annotations

import argparse

from .pose import add_pose_predict_arguments, run_pose_predict
from .segmentation import add_segmentation_predict_arguments, run_segmentation_predict


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("predict", help="run a checkpoint on images and draw the results")
    tasks = parser.add_subparsers(dest="task", required=True)
    add_pose_predict_arguments(tasks.add_parser("pose", help="skeletons over the images"))
    add_segmentation_predict_arguments(
        tasks.add_parser("seg", help="colour masks over the images and labelIds PNGs")
    )


def run(args: argparse.Namespace) -> int:
    return run_pose_predict(args) if args.task == "pose" else run_segmentation_predict(args)
