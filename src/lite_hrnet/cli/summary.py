"""``lite-hrnet summary NAME``: parameters, MACs and the paper's FLOPs of a variant."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..meta.cityscapes import NUM_CLASSES as CITYSCAPES_CLASSES
from ..models import complexity, create_backbone, create_pose_model, list_models, variant_info
from ..models.factory import create_segmentation_model
from .args import add_model_arguments, head_joints


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("summary", help=__doc__.split(":", 1)[1].strip())
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--task",
        choices=("pose", "segmentation"),
        default="pose",
        help="segmentation: the HRNet segmentation head instead of --joints (e.g. --input "
        "512x1024)",
    )
    parser.add_argument(
        "--classes", type=int, default=CITYSCAPES_CLASSES, help="segmentation classes"
    )


def summarize(name: str, input_size: tuple[int, int], joints: int | None) -> dict[str, Any]:
    """Counts of the pose model (``joints`` None: the variant's default head; 0: the
    backbone alone) on one image of ``input_size`` (H, W)."""
    if joints is not None and joints < 0:
        raise ValueError(f"--joints must be >= 0, got {joints}")
    if joints == 0:
        model = create_backbone(name)
    else:
        model = create_pose_model(name, num_joints=joints)
        joints = model.num_joints
    counts = complexity(model, input_size)
    return {"model": name, "input": list(input_size), "joints": joints, **counts}


def summarize_segmentation(
    name: str, input_size: tuple[int, int], num_classes: int
) -> dict[str, Any]:
    """Counts of the segmentation model (backbone branches + HRNet head) on one image."""
    model = create_segmentation_model(name, num_classes)
    counts = complexity(model, input_size)
    return {"model": name, "input": list(input_size), "classes": num_classes, **counts}


def run(args: argparse.Namespace) -> int:
    if args.name not in list_models():
        raise ValueError(f"unknown model {args.name!r}; available: {list_models()}")
    args.input = args.input or variant_info(args.name).input_size
    if args.task == "segmentation":
        result = summarize_segmentation(args.name, args.input, args.classes)
        head = f"{args.classes}-class segmentation head"
    else:
        result = summarize(args.name, args.input, head_joints(args))
        head = f"{result['joints']}-joint head" if result["joints"] else "backbone only"
    if args.json:
        print(json.dumps(result))
        return 0
    h, w = args.input
    print(f"{args.name} at {h}x{w} ({head})")
    print(f"  params       {result['params']:,}")
    print(f"  conv MACs    {result['macs'] / 1e6:.1f}M")
    print(f"  paper FLOPs  {result['paper_flops'] / 2**20:.1f}M  (the paper's convention, 2^20)")
    return 0
