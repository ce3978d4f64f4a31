"""Pose ``eval`` and ``predict``.

``eval coco|mpii`` runs a checkpoint (ours, or an official file) over the validation split
with the flip test and prints the COCO AP table or the PCKh table; for COCO it also writes
the predictions in COCO results format. ``predict pose`` draws skeletons onto images.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .args import (
    add_pretrained_argument,
    collect_images,
    download_weights,
    input_size,
    output_names,
    resolve_pretrained,
)
from .keypoints_file import KeypointsFile
from .output_folder import output_folder


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, help="our .ckpt or an official .pth")
    add_pretrained_argument(parser)
    parser.add_argument("--model", help="backbone variant; default: from the checkpoint")
    parser.add_argument("--input", type=input_size, help="input HxW; default: the trained size")
    parser.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        help="the flip test; default: the checkpoint's setting, else on",
    )
    parser.add_argument(
        "--dark",
        action=argparse.BooleanOptionalAction,
        help="DARK decoding instead of the quarter offset; default: the checkpoint's, else off",
    )
    runtime = parser.add_mutually_exclusive_group()
    runtime.add_argument(
        "--onnx",
        type=Path,
        help="run this ONNX export of the checkpoint (e.g. export --int8) in ONNX Runtime "
        "instead of its network; the checkpoint still gives the settings",
    )
    runtime.add_argument(
        "--bf16",
        action="store_true",
        help="run the network as optimize_for_inference(compile=False, dtype=bfloat16)",
    )


def add_pose_eval_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model_arguments(parser)
    parser.add_argument("--data-root", type=Path, required=True, help="the data set folder")
    parser.add_argument("--detections", type=Path, help="COCO person detections (else GT boxes)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument(
        "--output",
        type=Path,
        help="predictions file (COCO results JSON); default: next to the checkpoint",
    )


def _load_module(args: argparse.Namespace, keypoint_set: str | None):
    """The pose module of ``--checkpoint`` or ``--pretrained``, its codec as trained (as
    stored in the checkpoint), with ``--input``, ``--flip`` and ``--dark`` replacing parts."""
    from ..meta.keypoints import KEYPOINT_SETS
    from ..models.hub import check_fits
    from ..tasks.pose import PoseEstimationModule

    overrides = {}
    if keypoint_set is not None:
        overrides["keypoint_set"] = keypoint_set
    if (args.checkpoint is None) == (args.pretrained is None):
        raise ValueError("pass --checkpoint FILE or --pretrained TAG (one of them)")
    tag_size = None
    if args.pretrained is not None:
        args.model, weights = resolve_pretrained(args.pretrained, args.model)
        joints = KEYPOINT_SETS[keypoint_set].num_joints if keypoint_set else None
        check_fits(args.model, weights, joints, args.input)
        tag_size = weights.input_size
        args.checkpoint = download_weights(args.model, weights)
    module = PoseEstimationModule.from_checkpoint(
        str(args.checkpoint), backbone=args.model, **overrides
    )
    # What the command line leaves out stays as the checkpoint has it.
    codec = module.codec
    size = args.input or tag_size
    if size is not None and tuple(size) != codec.input_hw:  # its own heatmap size and sigma
        codec = codec.with_input_hw(size)
    decoding = {k: v for k, v in (("flip_test", args.flip), ("dark", args.dark)) if v is not None}
    module.codec = codec.replace(**decoding)
    _swap_runtime(module, args, module.codec.input_hw)
    return module.eval()


def _swap_runtime(module: Any, args: argparse.Namespace, size: tuple[int, int]) -> None:
    """``--onnx`` or ``--bf16``: the module's network replaced, so that eval and predict
    score it with the same decoding and metric."""
    import torch

    from ..deploy.optimize import optimize_for_inference
    from ..deploy.quantize import OnnxRuntimeModel

    if getattr(args, "onnx", None) is not None:
        model = OnnxRuntimeModel(args.onnx)
        if tuple(model.input_shape[2:]) != size:
            raise ValueError(
                f"--onnx {args.onnx} takes {model.input_shape} images, the "
                f"evaluation {size[0]}x{size[1]}: export it with --input {size[0]}x{size[1]}"
            )
        module.model = model
    elif getattr(args, "bf16", False):
        module.model = optimize_for_inference(module.model, compile=False, dtype=torch.bfloat16)


# Data settings of a checkpoint's training run that its evaluation keeps (unless given);
# the input size, heatmap size and sigma are the module's codec's.
_TRAINED_DATA = ("val_split", "detection_file")


def _trained_data_options(stored: dict[str, Any], fmt: str, data_root: Path) -> dict[str, Any]:
    """The test settings of the run a checkpoint came from, for the same data format; a
    detection file under the run's data root is looked for under ``data_root``."""
    if stored.get("format") != fmt:
        return {}
    options = {k: stored[k] for k in _TRAINED_DATA if stored.get(k) is not None}
    detections, old_root = options.get("detection_file"), stored.get("root")
    if detections and old_root and Path(detections).is_relative_to(old_root):
        options["detection_file"] = str(data_root / Path(detections).relative_to(old_root))
    return options


def run_pose_eval(args: argparse.Namespace) -> int:
    from ..data.pose.datamodule import CocoKeypointsDataModule, MpiiDataModule
    from ..training.evaluation import describe_data, evaluate, results_name
    from .args import evaluation_trainer

    module = _load_module(args, args.data)
    if args.data != "coco" and args.detections:
        raise ValueError("--detections: person detections are COCO-only")
    kind = CocoKeypointsDataModule if args.data == "coco" else MpiiDataModule
    options = _trained_data_options(module.datamodule_hparams, args.data, args.data_root)
    options.update(
        batch_size=args.batch_size,
        val_batch_size=args.batch_size,
        num_workers=args.num_workers,
    )
    if args.detections:
        options["detection_file"] = str(args.detections)
    codec = module.codec
    dm = kind(args.data_root, codec=codec, **options)
    cfg = dm.cfg
    (size_h, size_w), (h, w) = codec.input_hw, codec.heatmap_hw
    print(
        f"settings (the checkpoint's unless given): input {size_h}x{size_w}, heatmap "
        f"{h}x{w}, sigma {codec.sigma:g}, flip test {'on' if codec.flip_test else 'off'}, "
        f"decoding {'DARK' if codec.dark else 'quarter offset'}"
    )
    # The predictions of --onnx or --bf16 get their own file, next to what ran.
    ran = args.onnx or args.checkpoint
    tag = "_bf16" if args.bf16 else ""
    output = args.output
    if output is None and args.data == "coco":
        output = ran.with_name(f"{ran.stem}{tag}_{results_name(cfg)}")
    runtime = ""
    if args.onnx:
        runtime = f" in ONNX Runtime ({args.onnx})"
    elif args.bf16:
        runtime = " in bfloat16"
    title = f"{describe_data(cfg)}, {args.checkpoint}{runtime}"
    evaluate(module, dm, evaluation_trainer("auto"), title, output)
    return 0


def add_pose_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", type=Path, help="image files or folders")
    _add_model_arguments(parser)
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


def _boxes_for(
    boxes: dict, names: dict[Path, tuple[str, str]], boxes_file: Path | None
) -> dict[Path, object]:
    """Each input's boxes (N, 4) from ``--boxes`` (looked up by its key, then its file
    name); a warning names the keys of the file that match no input."""
    import warnings

    found = {}
    used = set()
    for path, (key, _) in names.items():
        for name in (key, path.name):
            if name in boxes:
                found[path] = boxes[name]
                used.add(name)
                break
    unused = [name for name in boxes if name not in used]
    if unused:
        warnings.warn(
            f"boxes file {boxes_file}: {len(unused)} of {len(boxes)} image names match no "
            f"input, their boxes are not used (e.g. {', '.join(unused[:3])})",
            stacklevel=2,
        )
    return found


def run_pose_predict(args: argparse.Namespace) -> int:
    """Draw ``<stem>_pose.png`` per image and write every image's keypoints (N, K, 3) to
    ``keypoints.json``, keyed by file name (``output_names``: inputs that share a stem get
    distinct names), as they are made (``KeypointsFile``). An image that cannot be decoded
    is skipped with a warning and counted."""
    import warnings

    import numpy as np

    from ..codecs.crops import boxes_to_centers_scales
    from ..data.images import CorruptImageWarning, ImageReadError, read_rgb
    from ..formats.boxes import clip_boxes, read_boxes_file
    from ..formats.json_files import json_numbers
    from ..inference.drawing import draw_skeletons, save_rgb

    weights_given = args.checkpoint is not None or args.pretrained is not None
    if weights_given == (args.package is not None):
        raise ValueError(
            "predict pose: give either --checkpoint or --package (or --pretrained TAG)"
        )
    if args.package is not None:
        predict, codec, keypoint_set = _package_predictor(args)
    else:
        module = _load_module(args, None)
        predict, codec, keypoint_set = module.predict_people, module.codec, module.keypoints
    images = collect_images(args.images)
    names = output_names(images)
    boxes = _boxes_for(read_boxes_file(args.boxes) if args.boxes else {}, names, args.boxes)
    output_folder(args.output)
    clipped = empty = 0
    empty_in: list[str] = []
    with KeypointsFile(args.output) as results_file:
        results = results_file.results
        for path, (key, stem) in names.items():
            try:
                image = read_rgb(path)
            except ImageReadError as e:
                warnings.warn(f"{e}; skipped", CorruptImageWarning, stacklevel=1)
                continue
            h, w = image.shape[:2]
            xywh = np.asarray([[0, 0, w, h]], np.float64)
            if path in boxes:
                xywh, changed, dropped = clip_boxes(boxes[path], w, h)
                clipped, empty = clipped + changed, empty + dropped
                empty_in += [key] if dropped else []
            centers, scales = boxes_to_centers_scales(xywh.astype(np.float32), codec)
            keypoints = predict(image, centers, scales)
            results_file.add(key, json_numbers(keypoints, 2))
            out = args.output / f"{stem}_pose.png"
            save_rgb(str(out), draw_skeletons(image, keypoints, keypoint_set, args.threshold))
            print(f"{path} -> {out} ({len(keypoints)} people)")
    skipped = len(names) - len(results)
    print(
        f"wrote {len(results)} of {len(names)} predictions to {args.output}"
        + (f"; skipped {skipped} undecodable images (see the warnings)" if skipped else "")
        + (f"; clipped {clipped} boxes to their image" if clipped else "")
        + (f"; skipped {empty} boxes with no area inside their image" if empty else "")
    )
    if empty:
        warnings.warn(
            f"boxes file {args.boxes}: {empty} boxes have no area inside their image "
            f"(outside it, or a width or height <= 0), skipped (in {', '.join(empty_in[:3])})",
            stacklevel=1,
        )
    if not results:
        raise ValueError(f"none of the {len(names)} images could be decoded")
    return 0


def _package_predictor(args: argparse.Namespace):
    """``predict_people`` on a loaded package, its codec and its keypoint set: those the
    package stores (exported from one of our checkpoints), else the preset with the
    package's number of joints, else as many unnamed joints (no flip test)."""
    from functools import partial

    from ..codecs.heatmap_codec import HeatmapCodec
    from ..deploy.package import load_package
    from ..inference.pose import predict_people
    from ..meta.keypoints import KEYPOINT_SETS, KeypointSet

    package = load_package(args.package, input_size=args.input)
    info, joints = package.info, package.info.outputs
    if info.task != "pose" or joints < 1:
        raise ValueError(
            f"--package {args.package}: a {info.task} package with {joints} outputs; "
            "predict pose needs a pose package"
        )
    meta = info.task_meta or {}
    if "keypoint_set" in meta:
        keypoint_set = KeypointSet.from_dict(meta["keypoint_set"])
    else:
        preset = (k for k in KEYPOINT_SETS.values() if k.num_joints == joints)
        unnamed = KeypointSet(f"{joints} joints", [str(i) for i in range(joints)], named=False)
        keypoint_set = next(preset, unnamed)
    if keypoint_set.num_joints != joints:
        raise ValueError(
            f"--package {args.package}: its keypoint set has {keypoint_set.num_joints} "
            f"joints, its network {joints} outputs"
        )
    if "codec" in meta:
        codec = HeatmapCodec.from_dict(meta["codec"])
        if codec.input_hw != tuple(info.input_size):  # exported at another size
            codec = codec.with_input_hw(info.input_size)
    else:
        codec = HeatmapCodec.from_input_hw(info.input_size)
    decoding = {k: v for k, v in (("flip_test", args.flip), ("dark", args.dark)) if v is not None}
    codec = codec.replace(**decoding)
    flip_index = keypoint_set.flip_index() if keypoint_set.has_flip_pairs else None
    predict = partial(
        predict_people, package, codec=codec, num_joints=joints, flip_index=flip_index,
    )  # fmt: skip
    return predict, codec, keypoint_set
