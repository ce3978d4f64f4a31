"""Pose ``eval`` and ``predict``.

``eval coco|mpii`` runs a checkpoint (ours, or an official file) over the validation split
with the flip test and prints the COCO AP table or the PCKh table; for COCO it also writes
the predictions in COCO results format. ``predict pose`` draws skeletons onto images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .args import collect_images, input_size


def _add_model_arguments(parser: argparse.ArgumentParser, checkpoint_required: bool = True) -> None:
    parser.add_argument(
        "--checkpoint",
        type=Path,
        required=checkpoint_required,
        help="our .ckpt or an official .pth",
    )
    parser.add_argument("--model", help="backbone variant; default: from the checkpoint")
    parser.add_argument("--input", type=input_size, help="input HxW; default: the trained size")
    parser.add_argument("--no-flip", action="store_true", help="disable the flip test")
    parser.add_argument(
        "--dark", action="store_true", help="DARK decoding instead of the quarter offset"
    )


def add_pose_eval_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model_arguments(parser)
    parser.add_argument("--data-root", type=Path, required=True, help="the data set folder")
    parser.add_argument("--detections", type=Path, help="COCO person detections (else GT boxes)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--output", type=Path, help="predictions file (COCO results JSON)")


def _load_module(args: argparse.Namespace, keypoint_set: str | None):
    from ..data.pose.datamodule import MpiiDataConfig, PoseDataConfig
    from ..tasks.pose import PoseEstimationModule

    overrides = {"flip_test": not args.no_flip, "dark": args.dark}
    if keypoint_set is not None:
        overrides["keypoint_set"] = keypoint_set
    module = PoseEstimationModule.from_checkpoint(
        str(args.checkpoint), backbone=args.model, **overrides
    )
    trained = module.datamodule_hparams.get("input_size")
    size = args.input or (tuple(trained) if trained else None)
    if size is None:  # the data set's default
        mpii = module.hparams.keypoint_set == "mpii"
        size = (MpiiDataConfig if mpii else PoseDataConfig)().input_size
    return module.eval(), tuple(size)


def run_pose_eval(args: argparse.Namespace) -> int:
    from ..data.pose.datamodule import CocoKeypointsDataModule, MpiiDataModule
    from ..metrics.tables import format_table
    from .args import evaluation_trainer

    module, size = _load_module(args, args.data)
    if args.data != "coco" and args.detections:
        raise ValueError("--detections: person detections are COCO-only")
    kind = CocoKeypointsDataModule if args.data == "coco" else MpiiDataModule
    options: dict[str, Any] = dict(
        input_size=list(size),
        batch_size=args.batch_size,
        val_batch_size=args.batch_size,
        num_workers=args.num_workers,
    )
    if args.detections:
        options["detection_file"] = str(args.detections)
    dm = kind(args.data_root, **options)
    dm.setup("test")  # bad data fails here, before the trainer starts
    output = args.output or (Path("predictions_coco.json") if args.data == "coco" else None)
    module.results_file = str(output) if output else None
    evaluation_trainer("auto").test(module, datamodule=dm, verbose=False)
    boxes = f"detections {args.detections}" if args.detections else "ground-truth boxes"
    print(
        format_table(
            module.last_metrics,
            title=f"{args.data} {args.data_root} ({boxes}), "
            f"input {size[0]}x{size[1]}, {args.checkpoint}",
        )
    )
    if output:
        print(f"predictions written to {output}")
    return 0


def add_pose_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", type=Path, help="image files or folders")
    _add_model_arguments(parser, checkpoint_required=False)
    parser.add_argument(
        "--package",
        type=Path,
        help="an AOTInductor package (lite-hrnet export --format pt2) instead of --checkpoint",
    )
    parser.add_argument(
        "--boxes",
        type=Path,
        help='JSON {"image file name": [[x, y, w, h], ...]}; default: the whole image',
    )
    parser.add_argument("--output", type=Path, default=Path("predictions"), help="output folder")
    parser.add_argument("--threshold", type=float, default=0.3, help="joint score to draw")


def _read_boxes(path: Path | None) -> dict[str, list[list[float]]]:
    if path is None:
        return {}
    from ..formats.json_files import read_json

    data = read_json(path, "boxes file")
    ok = isinstance(data, dict) and all(
        isinstance(v, list) and all(isinstance(b, list) and len(b) >= 4 for b in v)
        for v in data.values()
    )
    if not ok:
        raise ValueError(f"boxes file {path} must map image names to [[x, y, w, h], ...] lists")
    return data


def run_pose_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data.images import read_rgb
    from ..inference.drawing import draw_skeletons, save_rgb
    from ..inference.pose import boxes_to_centers_scales

    if (args.checkpoint is None) == (args.package is None):
        raise ValueError("predict pose: give either --checkpoint or --package")
    if args.package is not None:
        predict, size, keypoint_set = _package_predictor(args)
    else:
        module, size = _load_module(args, None)
        predict, keypoint_set = module.predict_people, module.keypoints
    boxes = _read_boxes(args.boxes)
    args.output.mkdir(parents=True, exist_ok=True)
    results = {}
    for path in collect_images(args.images):
        image = read_rgb(path)
        h, w = image.shape[:2]
        xywh = np.asarray([b[:4] for b in boxes.get(path.name, [[0, 0, w, h]])], np.float32)
        centers, scales = boxes_to_centers_scales(xywh, size)
        keypoints = predict(image, centers, scales, size)
        out = args.output / f"{path.stem}_pose.png"
        save_rgb(str(out), draw_skeletons(image, keypoints, keypoint_set, args.threshold))
        results[path.name] = keypoints.round(2).tolist()
        print(f"{path} -> {out} ({len(keypoints)} people)")
    (args.output / "keypoints.json").write_text(json.dumps(results))
    return 0


def _package_predictor(args: argparse.Namespace):
    """``predict_people`` on a loaded package, its input size and keypoint set; the keypoint
    set is the one with the package's number of joints."""
    from functools import partial

    from ..deploy.package import load_package
    from ..inference.pose import predict_people
    from ..meta.keypoints import KEYPOINT_SETS

    package = load_package(args.package, input_size=args.input)
    joints = package.info.outputs
    keypoint_set = next((k for k in KEYPOINT_SETS.values() if k.num_joints == joints), None)
    if package.info.task != "pose" or keypoint_set is None:
        raise ValueError(
            f"--package {args.package}: a {package.info.task} package with {joints} outputs; "
            f"predict pose needs a pose package of {' or '.join(KEYPOINT_SETS)} joints"
        )
    flip_index = None if args.no_flip else keypoint_set.flip_index()
    predict = partial(
        predict_people, package, num_joints=joints, flip_index=flip_index, dark=args.dark
    )
    return predict, package.info.input_size, keypoint_set
