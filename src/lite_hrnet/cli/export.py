"""``lite-hrnet export NAME``: write a model to ONNX or to an ahead-of-time package (.pt2)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..deploy.onnx import DEFAULT_OPSET, DYNAMO_MIN_OPSET, export_onnx
from ..deploy.optimize import optimize_for_inference
from ..deploy.package import export_package
from ..models import create_backbone, create_pose_model, create_segmentation_model
from ..models.hub import check_fits, pretrained_weights
from .args import add_model_arguments, add_pretrained_argument


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("export", help=__doc__.split(":", 1)[1].strip())
    add_model_arguments(parser)
    parser.add_argument(
        "--checkpoint", type=Path, help="weights (any format load_checkpoint reads)"
    )
    add_pretrained_argument(parser)
    parser.add_argument(
        "--output", type=Path, required=True, help="the file to write (.onnx or .pt2)"
    )
    parser.add_argument(
        "--format",
        choices=("onnx", "pt2"),
        default="onnx",
        help="onnx, or pt2: an AOTInductor package of the optimised model for this torch "
        "(lite_hrnet.deploy.load_package, predict --package; compiles for minutes)",
    )
    parser.add_argument(
        "--task",
        choices=("pose", "segmentation"),
        default="pose",
        help="pose: heatmap head with --joints; segmentation: head with --classes",
    )
    parser.add_argument(
        "--classes", type=int, default=19, help="segmentation classes (--task segmentation)"
    )
    parser.add_argument(
        "--opset",
        type=int,
        help=f"ONNX opset (default {DEFAULT_OPSET}; {DYNAMO_MIN_OPSET} with --dynamo)",
    )
    parser.add_argument(
        "--dynamo",
        action="store_true",
        help="use the torch.export-based exporter (same graph speed, slower to export)",
    )
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="export optimize_for_inference(model): BatchNorm folded, lean blocks",
    )


def run(args: argparse.Namespace) -> int:
    if args.joints < 0:
        raise ValueError(f"--joints must be >= 0, got {args.joints}")
    weights = {"checkpoint_path": args.checkpoint, "pretrained": args.pretrained}
    if args.pretrained:
        check_fits(args.name, pretrained_weights(args.name, args.pretrained), input_size=args.input)
    if args.task == "segmentation":
        model = create_segmentation_model(args.name, num_classes=args.classes, **weights)
    elif args.joints == 0:
        model = create_backbone(args.name, **weights)
    else:
        model = create_pose_model(args.name, num_joints=args.joints, **weights)
    if args.format == "pt2":
        return _export_package(args, model)
    if args.optimize:
        # The eager rewrite, NCHW: ONNX Runtime chooses its own layout.
        model = optimize_for_inference(model, compile=False, channels_last=False)
    opset = args.opset or (DYNAMO_MIN_OPSET if args.dynamo else DEFAULT_OPSET)
    path = export_onnx(model, args.output, args.input, opset=opset, dynamo=args.dynamo)
    h, w = args.input
    kind = ", optimized" if args.optimize else ""
    print(f"wrote {path} ({args.name}{kind}, input (batch, 3, {h}, {w}), dynamic batch)")
    return 0


def _export_package(args: argparse.Namespace, model: Any) -> int:
    h, w = args.input
    task = args.task if args.task == "segmentation" or args.joints else "backbone"
    outputs = args.classes if task == "segmentation" else args.joints
    path = export_package(
        model.eval(), args.output, input_size=args.input, variant=args.name, task=task,
        outputs=outputs,
    )  # fmt: skip
    print(f"wrote {path} ({args.name}, {task}, AOTInductor, input (batch, 3, {h}, {w}))")
    return 0
