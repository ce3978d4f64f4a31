"""``lite-hrnet export NAME``: write a pose model (or backbone) to ONNX."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..deploy.onnx import DEFAULT_OPSET, DYNAMO_MIN_OPSET, export_onnx
from ..deploy.optimize import optimize_for_inference
from ..models import create_backbone, create_pose_model
from ..models.hub import check_fits, pretrained_weights
from .args import add_model_arguments, add_pretrained_argument


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("export", help=__doc__.split(":", 1)[1].strip())
    add_model_arguments(parser)
    parser.add_argument(
        "--checkpoint", type=Path, help="weights (any format load_checkpoint reads)"
    )
    add_pretrained_argument(parser)
    parser.add_argument("--output", type=Path, required=True, help="the .onnx file to write")
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
    if args.joints == 0:
        model = create_backbone(args.name, **weights)
    else:
        model = create_pose_model(args.name, num_joints=args.joints, **weights)
    if args.optimize:
        # The eager rewrite, NCHW: ONNX Runtime chooses its own layout.
        model = optimize_for_inference(model, compile=False, channels_last=False)
    opset = args.opset or (DYNAMO_MIN_OPSET if args.dynamo else DEFAULT_OPSET)
    path = export_onnx(model, args.output, args.input, opset=opset, dynamo=args.dynamo)
    h, w = args.input
    kind = ", optimized" if args.optimize else ""
    print(f"wrote {path} ({args.name}{kind}, input (batch, 3, {h}, {w}), dynamic batch)")
    return 0
