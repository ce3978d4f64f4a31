"""Segmentation ``eval`` and ``predict``: mIoU on a split, masks for images.

``lite-hrnet eval cityscapes`` and ``lite-hrnet predict seg`` (``cli/evaluate.py``,
``cli/predict.py``) dispatch here. Both take the class table from the checkpoint (names,
palette, ignore index, the ids the data set's masks store), and ``eval`` its data layout
too (Cityscapes for checkpoints without one). ``eval`` prints the per-class IoU table and
mIoU of a checkpoint on a data folder. ``predict`` writes, per image, the prediction in the
palette blended over the image (``<stem>_overlay.png``) and the prediction in the data
set's own label ids (``<stem>_labelIds.png``: Cityscapes' labelIds, the format its
benchmark takes). The training extras
(OpenCV, albumentations) are imported when a command runs, so the core install keeps its
small dependency set.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from ..meta.cityscapes import NUM_CLASSES as CITYSCAPES_CLASSES
from .args import collect_images, input_size, output_names
from .output_folder import output_folder


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
        "--num-classes",
        type=int,
        help="default: from the checkpoint (its class table, else its head)",
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
    parser.add_argument(
        "--scales", type=_scales, help="e.g. 0.75,1,1.25; default: the checkpoint's, else 1"
    )
    parser.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        help="average with the mirrored image; default: the checkpoint's setting, else off",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def add_segmentation_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of segmentation ``eval`` (checkpoint, data, inference options)."""
    _add_common_arguments(parser)
    parser.add_argument(
        "--data-root",
        type=Path,
        required=True,
        help="the data folder, in the layout the checkpoint was trained on (Cityscapes' "
        "leftImg8bit/ and gtFine/ for checkpoints that do not record one)",
    )
    parser.add_argument(
        "--split", default="val", help="the split's folder name (default val; ADE20K: validation)"
    )
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument(
        "--output",
        type=Path,
        help="the results JSON (mIoU, per-class IoU); default: next to the checkpoint",
    )


def add_segmentation_predict_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of segmentation ``predict`` (images, checkpoint, output folder)."""
    parser.add_argument("images", nargs="+", type=Path, help="image files or folders")
    _add_common_arguments(parser)
    parser.add_argument("--output", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--alpha", type=float, default=0.5, help="mask opacity in the overlay")


def build_segmenter(args: argparse.Namespace):
    """The ``Segmenter`` of ``--checkpoint`` with this command's inference settings (what
    the command line leaves out stays as the checkpoint has it), on ``--device``."""
    from ..inference.segmenter import Segmenter

    return Segmenter(
        args.checkpoint,
        args.device,
        model=args.model,
        num_classes=args.num_classes,
        window=args.window,
        stride=args.stride,
        scales=args.scales,
        flip=args.flip,
        base_size=args.base_size,
    )


def run_segmentation_eval(args: argparse.Namespace) -> int:
    """Evaluate ``--checkpoint`` on ``--data-root``/``--split`` with the checkpoint's own
    data and test settings unless given; print the IoU table and write the results JSON."""
    from ..tasks.segmentation import SegmentationModule
    from ..training.evaluation import describe_data, evaluate
    from .args import evaluation_trainer

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    module = SegmentationModule.for_segmenter(build_segmenter(args)).to(args.device)
    trained = module.datamodule_hparams.get("base_size")
    base_size = args.base_size or trained
    dm = _evaluation_datamodule(
        module,
        root=str(args.data_root),
        val_split=args.split,
        base_size=list(base_size) if base_size else None,
        val_batch_size=args.batch_size,
        num_workers=args.num_workers,
    )
    cfg = module.cfg
    window = f"window {cfg.val_window}, stride {cfg.val_stride}" if cfg.val_window else "whole"
    flip = "on" if cfg.val_flip else "off"
    print(
        f"settings (the checkpoint's unless given): scales {cfg.val_scales}, flip {flip}, "
        f"{window} images, base size {base_size or 'full'}"
    )
    kind = "cityscapes" if module.class_table.names == _cityscapes_names() else "segmentation"
    output = args.output or args.checkpoint.with_name(
        f"{args.checkpoint.stem}_predictions_{kind}.json"
    )
    title = f"{describe_data(dm.cfg)}, {args.checkpoint}"
    evaluate(module, dm, evaluation_trainer(args.device), title, output)
    return 0


def run_segmentation_predict(args: argparse.Namespace) -> int:
    """Write ``<stem>_overlay.png`` and ``<stem>_labelIds.png`` for every input image."""
    import numpy as np

    from ..data.images import CorruptImageWarning, ImageReadError, read_rgb
    from ..inference.drawing import save_image, save_rgb

    if not 0 <= args.alpha <= 1:
        raise ValueError(f"--alpha must be in 0..1, got {args.alpha}")
    images = collect_images(args.images)
    segmenter = build_segmenter(args)
    output_folder(args.output)
    names = output_names(images)  # inputs that share a stem get distinct outputs
    written = 0
    for path, (_, name) in names.items():
        try:
            image = read_rgb(path)
        except ImageReadError as e:
            warnings.warn(f"{e}; skipped", CorruptImageWarning, stacklevel=1)
            continue
        classes = segmenter(image)
        stem = name.removesuffix("_leftImg8bit")
        drawn = segmenter.overlay(image, classes, args.alpha)
        save_rgb(str(args.output / f"{stem}_overlay.png"), drawn)
        label_ids = segmenter.class_table.to_label_ids(classes.astype(np.uint8))
        save_image(str(args.output / f"{stem}_labelIds.png"), label_ids)
        written += 1
    print(f"wrote {written} of {len(names)} predictions to {args.output}")
    if written == 0:
        raise ValueError(f"none of the {len(names)} images could be decoded")
    return 0


def _cityscapes_names() -> tuple[str, ...]:
    from ..meta.cityscapes import CLASS_NAMES

    return CLASS_NAMES


def _evaluation_datamodule(module: Any, **options: Any):
    """The data module of the checkpoint's data config (its layout and class table) with
    ``options`` replaced; Cityscapes' for checkpoints that record no layout."""
    from ..data.segmentation.datamodule import (
        CityscapesDataConfig,
        SegmentationDataConfig,
        segmentation_datamodule,
    )

    trained = dict(module.datamodule_hparams)
    kind = SegmentationDataConfig if "image_dir" in trained else CityscapesDataConfig
    known = {f for f in kind.__dataclass_fields__}
    # The training run's synthetic settings would regenerate data: evaluate what is there.
    values = {k: v for k, v in trained.items() if k in known and k != "synthetic"}
    config = kind(**{**values, **options})
    if config.class_table() != module.class_table:
        raise ValueError(
            f"the checkpoint's classes ({', '.join(module.class_table.names)}) differ from its "
            f"data config's ({', '.join(config.class_table().names)})"
        )
    return segmentation_datamodule(config)


def segmentation_classes(checkpoint: Path | None) -> int:
    """The number of classes a segmentation checkpoint's head has (its class table, else
    its classifier's rows); the Cityscapes table's without a checkpoint."""
    if checkpoint is None:
        return CITYSCAPES_CLASSES
    from ..inference.checkpoints import segmentation_options_from_state_dict
    from ..models.checkpoint import read_checkpoint_file, read_state_dict

    obj = read_checkpoint_file(checkpoint)
    hparams = obj.get("hyper_parameters") if isinstance(obj, dict) else None
    if isinstance(hparams, dict) and hparams.get("class_names"):
        return len(hparams["class_names"])
    options = segmentation_options_from_state_dict(read_state_dict(checkpoint))
    return options.get("num_classes", CITYSCAPES_CLASSES)
