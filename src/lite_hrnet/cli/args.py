"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse

from ..models import list_models


def input_size(text: str) -> tuple[int, int]:
    """Parse ``HxW`` (e.g. ``256x192``) into (H, W)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 256x192, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return h, w


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help=f"registered variant: {', '.join(list_models())}")
    parser.add_argument(
        "--input", type=input_size, default=(256, 192), help="input HxW (default 256x192)"
    )
    parser.add_argument(
        "--joints", type=int, default=17, help="heatmap head joints; 0 = backbone alone"
    )
