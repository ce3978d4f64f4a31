"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from ..meta.keypoints import KEYPOINT_SETS
from ..models import list_models
from ..models.hub import CHECK_HASH_ENV, PretrainedWeights, download_pretrained, pretrained_weights


def input_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``256x192``) into (H, W)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 256x192, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return h, w


def add_model_arguments(parser: argparse.ArgumentParser, input_from: str | None = None) -> None:
    """NAME, ``--input``, ``--joints`` and ``--keypoints``. ``--input`` defaults to None,
    so that the command can tell whether it was given; it then falls back to the variant's
    default input size (``variant_info(name).input_size``), or first to ``input_from``
    (where else it may come from, for the help text). ``--joints`` defaults to None:
    ``head_joints`` settles it."""
    parser.add_argument("name", help=f"registered variant: {', '.join(list_models())}")
    parser.add_argument(
        "--input",
        type=input_size,
        help="input HxW (default: "
        + (f"{input_from}, else " if input_from else "")
        + "the variant's default input size, 256x192 for the paper's)",
    )
    head = parser.add_mutually_exclusive_group()
    head.add_argument(
        "--joints",
        type=int,
        help="heatmap head joints; 0 = backbone alone (default: those of --keypoints, of "
        "the weights, else the variant's default head)",
    )
    head.add_argument(
        "--keypoints",
        choices=sorted(KEYPOINT_SETS),
        help="a head for this keypoint set's joints",
    )


def head_joints(args: argparse.Namespace) -> int | None:
    """The joints ``--joints`` or ``--keypoints`` ask for (None: neither says); a
    negative count raises a ValueError."""
    if args.keypoints is not None:
        return KEYPOINT_SETS[args.keypoints].num_joints
    if args.joints is not None and args.joints < 0:
        raise ValueError(f"--joints must be >= 0, got {args.joints}")
    return args.joints


def add_pretrained_argument(parser: argparse.ArgumentParser) -> None:
    """``--pretrained TAG``: published weights by name (``lite-hrnet weights list``)."""
    parser.add_argument(
        "--pretrained",
        metavar="TAG",
        help="published weights, e.g. lite_hrnet_18.coco_256x192 (lite-hrnet weights list), "
        f"downloaded into the torch hub cache; {CHECK_HASH_ENV}=0 skips the hash check",
    )


def resolve_pretrained(tag: str, variant: str | None) -> tuple[str, PretrainedWeights]:
    """The variant and the weights of ``--pretrained TAG`` (a full ``variant.tag`` name, or
    a short tag with ``variant`` given)."""
    name, dot, _ = tag.rpartition(".")
    variant = variant or (name if dot else None)
    if variant is None:
        raise ValueError(f"--pretrained {tag}: name the variant, e.g. lite_hrnet_18.{tag}")
    return variant, pretrained_weights(variant, tag)


def download_weights(variant: str, weights: PretrainedWeights) -> Path:
    """The local file of ``weights`` (downloaded once into the torch hub cache)."""
    path = download_pretrained(variant, weights.tag)
    print(f"weights {variant}.{weights.tag}: {path}")
    return path


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def _images_below(folder: Path, ancestors: frozenset[Path] = frozenset()) -> list[Path]:
    """The images anywhere below ``folder``, through symlinked folders too (``Path.rglob``
    does not follow them before Python 3.13). A link to a folder that is being walked
    already (a loop) is not followed again, with a warning."""
    import warnings

    real = folder.resolve()
    if real in ancestors:
        warnings.warn(
            f"{folder} links back to {real}, a folder above it; not followed", stacklevel=3
        )
        return []
    ancestors = ancestors | {real}
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        warnings.warn(f"cannot list {folder} ({e.strerror}); its images are left out", stacklevel=3)
        return []
    images: list[Path] = []
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir():  # follows links
            images += _images_below(path, ancestors)
        elif path.suffix.lower() in IMAGE_EXTENSIONS:  # a broken link too: a counted skip
            images.append(path)
    return images


def collect_images(paths: list[Path]) -> list[Path]:
    """Files as given, plus the images anywhere below given folders (sorted), symlinked
    folders included."""
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            images += sorted(_images_below(path))
        elif path.is_file():
            images.append(path)
        else:
            raise FileNotFoundError(f"image not found: {path}")
    if not images:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {paths}")
    return images


def output_names(images: list[Path], taken: Iterable[str] = ()) -> dict[Path, tuple[str, str]]:
    """A distinct (key, stem) per input image, so that no output overwrites another (nor
    a file of one of the stems ``taken`` already).

    The key names the input in a results file: its file name (``x.png`` for ``a/x.png``),
    or, when other inputs share its stem, its path below the folder they have in common
    (``a/x.png`` and ``b/x.png``). The stem names its output files: the key without its
    extension and with ``_`` for ``/`` (``x``; ``a_x`` and ``b_x``), the extension kept
    where only it differs (``x_png`` and ``x_jpg``), a counter added where even that clashes.
    """
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for path in dict.fromkeys(images):
        by_stem[path.stem].append(path)
    names: dict[Path, tuple[str, str]] = {}
    taken = set(taken)
    for paths in by_stem.values():
        absolute = [p.absolute() for p in paths]
        common = Path(os.path.commonpath([p.parent for p in absolute]))
        relative = [p.relative_to(common) for p in absolute]
        keep_suffix = len({p.with_suffix("") for p in relative}) < len(relative)
        for path, rel in zip(paths, relative):
            suffix = rel.suffix.replace(".", "_") if keep_suffix else ""
            stem = base = "_".join([*rel.parent.parts, rel.stem + suffix])
            count = 1
            while stem in taken:
                count += 1
                stem = f"{base}_{count}"
            taken.add(stem)
            names[path] = (rel.as_posix(), stem)
    return names


def evaluation_trainer(device: str = "auto"):
    """A Lightning ``Trainer`` for one evaluation on ``device`` ("auto", "cpu", "cuda" or
    "cuda:N"): no logger, no checkpoints."""
    import lightning as L

    kind, _, index = device.partition(":")
    accelerator = {"cuda": "gpu"}.get(kind, kind)
    devices: int | list[int] | str = [int(index)] if index else (1 if kind != "auto" else "auto")
    return L.Trainer(
        accelerator=accelerator,
        devices=devices,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
