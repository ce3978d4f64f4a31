"""Pose ``eval`` and ``predict``.

``eval coco|mpii`` runs a checkpoint (ours, or an official file) over the validation split
with the flip test and prints the COCO AP table or the PCKh table; for COCO it also writes
the predictions in COCO results format. ``predict pose`` draws skeletons onto images.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..formats.json_files import KEYPOINTS_RESULTS_FILE
from .args import add_pretrained_argument, collect_images, input_size, output_names
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
        help="run this ONNX export of the checkpoint (e.g. export --int8) in ONNX Runtime, "
        "or an OpenVINO IR (.xml, export --format openvino) in OpenVINO, instead of its "
        "network; the checkpoint still gives the settings",
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


def _estimator(args: argparse.Namespace, keypoint_set: str | None, **options: Any):
    """The ``PoseEstimator`` of ``--checkpoint``, ``--pretrained`` or ``--package`` with
    the command line's overrides (what it leaves out stays as the source has it)."""
    import torch

    from ..inference.estimator import PoseEstimator

    if args.checkpoint is not None and args.pretrained is not None:
        raise ValueError("pass --checkpoint FILE or --pretrained TAG (one of them)")
    source = getattr(args, "package", None) or args.checkpoint or args.pretrained
    if source is None:
        raise ValueError("pass --checkpoint FILE or --pretrained TAG (one of them)")
    estimator = PoseEstimator(
        source,
        model=args.model,
        keypoint_set=keypoint_set,
        input_size=args.input,
        flip_test=args.flip,
        dark=args.dark,
        dtype=torch.bfloat16 if args.bf16 else None,
        onnx=args.onnx,
        **options,
    )
    if args.pretrained is not None:
        print(f"weights {args.pretrained}: {estimator.source.path}")
    return estimator


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
    from ..tasks.pose import PoseEstimationModule
    from ..training.evaluation import describe_data, evaluate, results_name
    from .args import evaluation_trainer

    if args.data != "coco" and args.detections:
        raise ValueError("--detections: person detections are COCO-only")
    estimator = _estimator(args, args.data)
    module = PoseEstimationModule.for_estimator(estimator)
    weights = estimator.source.path
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
    ran = args.onnx or weights
    tag = "_bf16" if args.bf16 else ""
    output = args.output
    if output is None and args.data == "coco":
        output = ran.with_name(f"{ran.stem}{tag}_{results_name(cfg)}")
    runtime = ""
    if args.onnx:
        engine = "OpenVINO" if args.onnx.suffix.lower() == ".xml" else "ONNX Runtime"
        runtime = f" in {engine} ({args.onnx})"
    elif args.bf16:
        runtime = " in bfloat16"
    title = f"{describe_data(cfg)}, {weights}{runtime}"
    evaluate(module, dm, evaluation_trainer("auto"), title, output)
    return 0


def add_pose_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "images",
        nargs="*",
        type=Path,
        metavar="INPUTS",
        help="image files, folders of images, video files (.mp4 .mov .avi .mkv ...); "
        "with --frames each folder is one video",
    )
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
    parser.add_argument(
        "--detector",
        metavar="TAG",
        default="none",
        help="person detector for images without --boxes, e.g. rtmdet_nano "
        "(lite_hrnet.inference.detection.list_detectors()); none: the whole image",
    )
    parser.add_argument("--output", type=Path, default=Path("predictions"), help="output folder")
    parser.add_argument("--threshold", type=float, default=0.3, help="joint score to draw")
    video = parser.add_argument_group(
        "videos and cameras",
        "a video gives <stem>_pose.mp4 and <stem>.json (per frame: index, time, each "
        "person's track id, box, score, keypoints); a camera a window (frames to "
        "<output>/camera<N>_frames/ without a display) and camera<N>.json",
    )
    video.add_argument(
        "--frames",
        action="store_true",
        help="each folder given is the frames of one video (natural order), not a set of images",
    )
    video.add_argument(
        "--camera", type=int, metavar="N", help="run on camera N until q / Esc / Ctrl-C"
    )
    video.add_argument(
        "--track",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give each person of a video a track id (default: on)",
    )
    video.add_argument(
        "--smooth", action="store_true", help="smooth each track's keypoints (One-Euro filter)"
    )
    video.add_argument(
        "--detect-every",
        type=int,
        default=1,
        metavar="N",
        help="run --detector on every N-th frame, cropping the frames between at the "
        "previous frame's keypoints (default: 1, every frame)",
    )
    video.add_argument(
        "--fps", type=float, help="frame rate of a folder of frames or a camera (default: 30)"
    )
    many = parser.add_argument_group(
        "many images",
        "with --workers or --devices, images run through Lightning's predict loop: workers "
        "decode, detect and crop, each device predicts its share, keypoints.json is written "
        "(no drawings); boxes from --boxes, else the --detector's, else the whole image",
    )
    many.add_argument(
        "--workers", type=int, default=0, metavar="N", help="DataLoader workers (default: 0)"
    )
    many.add_argument(
        "--devices",
        type=int,
        default=1,
        metavar="N",
        help="processes, one per device (DDP over N GPUs, or N CPU processes; default: 1)",
    )


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
    is skipped with a warning and counted. Each video (and folder of frames with
    ``--frames``, and ``--camera``) runs through ``PoseEstimator.video`` to its own files
    (``inference.video_files``); frames it could not read are counted in its summary."""
    weights_given = args.checkpoint is not None or args.pretrained is not None
    if weights_given == (args.package is not None):
        raise ValueError(
            "predict pose: give either --checkpoint or --package (or --pretrained TAG)"
        )
    detector = None if args.detector.lower() == "none" else args.detector
    videos, stills = _split_inputs(args.images, args.frames)
    if not args.images and args.camera is None:
        raise ValueError("predict pose: give images, folders or videos, or --camera N")
    estimator = _estimator(args, None, detector=detector)
    output_folder(args.output)
    if stills and (args.workers > 0 or args.devices > 1):
        _predict_many_images(args, estimator, stills)
    elif stills:
        _predict_images(args, estimator, stills)
    # A video's <stem>.json never replaces the images' keypoints.json or a camera's file.
    camera = f"camera{args.camera}" if args.camera is not None else None
    taken = {Path(KEYPOINTS_RESULTS_FILE).stem} if stills else set()
    if camera is not None:
        taken.add(camera)
    for path, (_, stem) in output_names(videos, taken).items():
        _predict_video(args, estimator, path, stem)
    if camera is not None:
        _predict_video(args, estimator, args.camera, camera)
    return 0


def _split_inputs(inputs: list[Path], frames: bool) -> tuple[list[Path], list[Path]]:
    """(videos, image inputs): video files by their suffix, and folders with ``--frames``;
    the rest are images and folders of images."""
    from ..inference.frames import VIDEO_SUFFIXES

    videos, stills = [], []
    for path in inputs:
        is_video = path.is_dir() if frames else path.suffix.lower() in VIDEO_SUFFIXES
        (videos if is_video else stills).append(path)
    return videos, stills


def _predict_video(args: argparse.Namespace, estimator: Any, source: Path | int, stem: str) -> None:
    """One video, folder of frames or camera through ``PoseEstimator.video`` to files
    (``inference.video_files``), and its summary line."""
    from ..inference.video_files import save_pose_video, show_pose_video

    video = estimator.video(
        source, track=args.track, smooth=args.smooth, detect_every=args.detect_every, fps=args.fps
    )
    if isinstance(source, int):
        summary = show_pose_video(video, args.output, stem, args.threshold)
    else:
        summary = save_pose_video(video, args.output, stem, args.threshold)
    print(summary.line())
    if summary.problems:
        print(summary.problems.report())


def _predict_many_images(args: argparse.Namespace, estimator: Any, inputs: list[Path]) -> None:
    """``--workers``/``--devices``: the images through Lightning's predict loop
    (``training.image_prediction``) to ``keypoints.json``."""
    import torch

    from ..formats.boxes import read_boxes_file
    from ..tasks.pose_prediction import PosePredictionModule
    from ..training.image_prediction import predict_images

    if args.workers < 0 or args.devices < 1:
        raise ValueError("--workers must be >= 0 and --devices >= 1")
    images = collect_images(inputs)
    names = output_names(images)
    boxes = _boxes_for(read_boxes_file(args.boxes) if args.boxes else {}, names, args.boxes)
    keys = [names[path][0] for path in images]
    on_torch = isinstance(estimator.network, torch.nn.Module)
    result = predict_images(
        PosePredictionModule.for_estimator(estimator),
        images,
        keys,
        args.output,
        {names[path][0]: b for path, b in boxes.items()},
        find_boxes=estimator.detector,
        num_workers=args.workers,
        accelerator="auto" if on_torch else "cpu",
        devices=args.devices,
        strategy="ddp" if args.devices > 1 else "auto",
    )
    if result is None:  # not the first rank: it wrote its share
        return
    skipped = len(result.skipped)
    print(
        f"wrote {len(result.predicted)} of {len(images)} predictions to {result.path}"
        + (f"; skipped {skipped} undecodable images (see the warnings)" if skipped else "")
    )
    if not result.predicted:
        raise ValueError(f"none of the {len(images)} images could be decoded")


def _predict_images(args: argparse.Namespace, estimator: Any, inputs: list[Path]) -> None:
    """Each image's skeletons and keypoints (see ``run_pose_predict``)."""
    import warnings

    import numpy as np

    from ..data.images import CorruptImageWarning, ImageReadError, read_rgb
    from ..formats.boxes import clip_boxes, read_boxes_file
    from ..formats.json_files import PREDICTION_DECIMALS, json_numbers
    from ..inference.drawing import draw_skeletons, save_rgb

    images = collect_images(inputs)
    names = output_names(images)
    boxes = _boxes_for(read_boxes_file(args.boxes) if args.boxes else {}, names, args.boxes)
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
            xywh = None  # the detector's boxes, else the whole image
            if path in boxes:
                xywh, changed, dropped = clip_boxes(boxes[path], w, h)
                clipped, empty = clipped + changed, empty + dropped
                empty_in += [key] if dropped else []
            people = estimator.predict_image(image, xywh)
            keypoints = np.zeros((0, estimator.keypoint_set.num_joints, 3), np.float32)
            if people:
                keypoints = np.stack([person.keypoints for person in people])
            results_file.add(key, json_numbers(keypoints, PREDICTION_DECIMALS))
            out = args.output / f"{stem}_pose.png"
            drawn = draw_skeletons(image, keypoints, estimator.keypoint_set, args.threshold)
            save_rgb(str(out), drawn)
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
