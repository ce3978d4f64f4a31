"""Plain-text tables of metric dictionaries."""

from __future__ import annotations

from collections.abc import Mapping


def format_table(metrics: Mapping[str, float], title: str = "", digits: int = 3) -> str:
    """A two-row markdown table: metric names, then values."""
    names = list(metrics)
    values = [f"{float(metrics[n]):.{digits}f}" for n in names]
    widths = [max(len(n), len(v)) for n, v in zip(names, values)]
    row = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    lines = [row(names), "|" + "|".join("-" * (w + 2) for w in widths) + "|", row(values)]
    return "\n".join(([title] if title else []) + lines)
