"""Plain-text tables of metrics: a row of named values, and the per-class IoU table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch


def format_table(metrics: Mapping[str, float], title: str = "", digits: int = 3) -> str:
    """A two-row markdown table: metric names, then values."""
    names = list(metrics)
    values = [f"{float(metrics[n]):.{digits}f}" for n in names]
    widths = [max(len(n), len(v)) for n, v in zip(names, values)]
    row = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    lines = [row(names), "|" + "|".join("-" * (w + 2) for w in widths) + "|", row(values)]
    return "\n".join(([title] if title else []) + lines)


def format_iou_table(iou: torch.Tensor, class_names: Sequence[str]) -> str:
    """A text table of per-class IoU (K,) and their mean; classes without an IoU show "-".

    Values are printed in percent, as Cityscapes results are usually reported.
    """
    if len(class_names) != len(iou):
        raise ValueError(f"{len(class_names)} class names for {len(iou)} IoU values")
    width = max(len("mIoU"), *(len(n) for n in class_names))
    lines = [f"{'class':<{width}}  IoU (%)", f"{'-' * width}  -------"]
    for name, value in zip(class_names, iou.tolist()):
        shown = "-" if math.isnan(value) else f"{100 * value:.1f}"
        lines.append(f"{name:<{width}}  {shown:>7}")
    mean = iou.nanmean().item()
    lines += [f"{'-' * width}  -------", f"{'mIoU':<{width}}  {100 * mean:>7.1f}"]
    present = int((~iou.isnan()).sum())
    lines.append(f"({present} of {len(iou)} classes occur in the labels or predictions)")
    return "\n".join(lines)
