"""``lite-hrnet eval coco|mpii|cityscapes --checkpoint C --data-root DIR ...``."""

from __future__ import annotations

import argparse

from .pose import add_pose_eval_arguments, run_pose_eval
from .segmentation import add_segmentation_eval_arguments, run_segmentation_eval


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate a checkpoint on a validation split")
    datasets = parser.add_subparsers(dest="dataset", required=True)
    add_pose_eval_arguments(datasets.add_parser("coco", help="COCO keypoint AP (pycocotools)"))
    add_pose_eval_arguments(datasets.add_parser("mpii", help="MPII PCKh"))
    add_segmentation_eval_arguments(datasets.add_parser("cityscapes", help="Cityscapes mIoU"))


def run(args: argparse.Namespace) -> int:
    if args.dataset == "cityscapes":
        return run_segmentation_eval(args)
    args.data = args.dataset
    return run_pose_eval(args)
