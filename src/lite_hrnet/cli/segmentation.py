"""Segmentation ``eval`` and ``predict``: mIoU on a Cityscapes split, masks for images.

``lite-hrnet eval cityscapes`` and ``lite-hrnet predict seg`` (``cli/evaluate.py``,
``cli/predict.py``) dispatch here. ``eval`` prints the per-class IoU table and mIoU of a
checkpoint on a Cityscapes-layout folder. ``predict`` writes, per image, the colourised
prediction blended over the image (``<stem>_overlay.png``) and the prediction in labelIds
(``<stem>_labelIds.png``), the format the Cityscapes benchmark takes. The training extras
(OpenCV, albumentations) are imported when a command runs, so the core install keeps its
small dependency set.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path
from typing import Any

import torch

from .args import collect_images, input_size


def _scales(text: str) -> tuple[float, ...]:
    try:
        scales = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected factors such as 0.75,1,1.25: {text!r}"
        ) from None
    if not scales or min(scales) <= 0:
        raise argparse.ArgumentTypeError(f"scales must be positive, got {text!r}")
    return scales


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint", type=Path, required=True, help="a segmentation checkpoint (.ckpt or .pth)"
    )
    parser.add_argument(
        "--model",
        help="backbone variant; default: the one stored in a Lightning checkpoint",
    )
    parser.add_argument(
        "--num-classes", type=int, help="default: from the checkpoint, else 19 (Cityscapes)"
    )
    parser.add_argument(
        "--base-size",
        type=input_size,
        help="resize images to HxW before the network (e.g. 512x1024 for half resolution)",
    )
    parser.add_argument(
        "--window", type=input_size, help="sliding-window HxW (multiples of 32); default: whole"
    )
    parser.add_argument("--stride", type=input_size, help="sliding-window step HxW")
    parser.add_argument("--scales", type=_scales, default=(1.0,), help="e.g. 0.75,1,1.25")
    parser.add_argument("--flip", action="store_true", help="average with the mirrored image")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def add_segmentation_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of segmentation ``eval`` (checkpoint, data, inference options)."""
    _add_common_arguments(parser)
    parser.add_argument(
        "--data-root", type=Path, required=True, help="folder with leftImg8bit/ and gtFine/"
    )
    parser.add_argument("--split", default="val", choices=("train", "val"))
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")


def add_segmentation_predict_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of segmentation ``predict`` (images, checkpoint, output folder)."""
    parser.add_argument("images", nargs="+", type=Path, help="image files or folders")
    _add_common_arguments(parser)
    parser.add_argument("--output", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--alpha", type=float, default=0.5, help="mask opacity in the overlay")


def _checkpoint_hparams(path: Path) -> dict[str, Any]:
    """The ``hyper_parameters`` of a Lightning checkpoint; {} for other files.

    An unreadable file gives {} here and its precise error from ``load_checkpoint``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # reported by load_checkpoint with the details
        return {}
    hparams = obj.get("hyper_parameters") if isinstance(obj, dict) else None
    return dict(hparams) if isinstance(hparams, dict) else {}


def load_segmentation_model(args: argparse.Namespace) -> tuple[torch.nn.Module, list[str]]:
    """The model of ``--checkpoint`` in eval mode on ``--device``, and its class names."""
    from ..meta.cityscapes import CLASS_NAMES
    from ..models.factory import create_segmentation_model
    from ..models.heads import DEFAULT_HEAD_CHANNELS

    hparams = _checkpoint_hparams(args.checkpoint)
    name = args.model or hparams.get("backbone")
    if name is None:
        raise ValueError(f"{args.checkpoint}: holds no model name; pass --model NAME")
    num_classes = args.num_classes or hparams.get("num_classes", len(CLASS_NAMES))
    model = create_segmentation_model(
        name,
        num_classes,
        head_channels=hparams.get("head_channels", DEFAULT_HEAD_CHANNELS),
        checkpoint_path=args.checkpoint,
        **(hparams.get("backbone_overrides") or {}),
    )
    names = hparams.get("class_names") or (
        list(CLASS_NAMES) if num_classes == len(CLASS_NAMES) else None
    )
    names = list(names) if names else [f"class_{i}" for i in range(num_classes)]
    return model.eval().to(args.device), names


def _infer(model: torch.nn.Module, images: torch.Tensor, args: argparse.Namespace) -> torch.Tensor:
    from ..inference.segmentation import segment_probabilities

    return segment_probabilities(
        model, images, scales=args.scales, flip=args.flip, window=args.window, stride=args.stride
    )


def run_segmentation_eval(args: argparse.Namespace) -> int:
    """Evaluate ``--checkpoint`` on ``--data-root``/``--split``; print the IoU table."""
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from ..data.segmentation.dataset import CityscapesDataset, collate_segmentation
    from ..data.segmentation.transforms import build_eval_transform
    from ..metrics.segmentation import SegmentationIoU, format_iou_table

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    model, names = load_segmentation_model(args)
    dataset = CityscapesDataset(args.data_root, args.split, build_eval_transform(args.base_size))
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        collate_fn=collate_segmentation,
    )
    metric = SegmentationIoU(len(names)).to(args.device)
    skipped = 0
    for batch in loader:
        skipped += batch["num_skipped"]
        if "image" not in batch:
            continue
        labels = batch["label"].to(args.device)
        probs = _infer(model, batch["image"].to(args.device), args)
        if probs.shape[-2:] != labels.shape[-2:]:  # the network input was resized
            probs = F.interpolate(
                probs, size=labels.shape[-2:], mode="bilinear", align_corners=False
            )
        metric.update(probs.argmax(dim=1), labels)
    result = metric.compute()
    evaluated = len(dataset) - skipped
    print(f"{args.checkpoint} on {args.data_root} ({args.split}, {evaluated} images)")
    print(format_iou_table(result["iou"].cpu(), names))
    print(f"mIoU {result['mIoU'].item():.4f}  pixel accuracy {result['accuracy'].item():.4f}")
    if skipped:
        print(f"skipped {skipped} undecodable samples (see the warnings)")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        iou = {n: None if math.isnan(v) else v for n, v in zip(names, result["iou"].tolist())}
        summary = {
            "checkpoint": str(args.checkpoint),
            "split": args.split,
            "images": evaluated,
            "skipped": skipped,
            "mIoU": result["mIoU"].item(),
            "accuracy": result["accuracy"].item(),
            "iou": iou,
        }
        args.output.write_text(json.dumps(summary, indent=2))
    return 0


def _output_stem(path: Path) -> str:
    return path.stem.removesuffix("_leftImg8bit")


def run_segmentation_predict(args: argparse.Namespace) -> int:
    """Write ``<stem>_overlay.png`` and ``<stem>_labelIds.png`` for every input image."""
    import cv2
    import numpy as np
    import torch.nn.functional as F

    from ..data.segmentation.dataset import CorruptImageWarning, read_rgb
    from ..data.segmentation.transforms import normalize_image
    from ..inference.segmentation import overlay
    from ..meta.cityscapes import NUM_CLASSES, train_ids_to_label_ids

    if not 0 <= args.alpha <= 1:
        raise ValueError(f"--alpha must be in 0..1, got {args.alpha}")
    images = collect_images(args.images)
    model, names = load_segmentation_model(args)
    if len(names) != NUM_CLASSES:
        raise ValueError(f"predict writes Cityscapes labelIds: needs 19 classes, not {len(names)}")
    args.output.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in images:
        image = read_rgb(path)
        if image is None:
            warnings.warn(f"{path}: cannot be decoded; skipped", CorruptImageWarning, stacklevel=1)
            continue
        x = normalize_image(image)[None].to(args.device)
        if args.base_size is not None:
            x = F.interpolate(x, size=args.base_size, mode="bilinear", align_corners=False)
        probs = _infer(model, x, args)
        probs = F.interpolate(probs, size=image.shape[:2], mode="bilinear", align_corners=False)
        train_ids = probs[0].argmax(dim=0).cpu().numpy().astype(np.uint8)
        stem = _output_stem(path)
        blended = overlay(image, train_ids, args.alpha)
        cv2.imwrite(str(args.output / f"{stem}_overlay.png"), blended[..., ::-1])
        cv2.imwrite(str(args.output / f"{stem}_labelIds.png"), train_ids_to_label_ids(train_ids))
        written += 1
    print(f"wrote {written} of {len(images)} predictions to {args.output}")
    if written == 0:
        raise ValueError(f"none of the {len(images)} images could be decoded")
    return 0
