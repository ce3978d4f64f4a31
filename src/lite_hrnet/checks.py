"""Checks of configuration values, with errors that name the key, shared by every layer's
config dataclasses (data, synthetic, tasks, the run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass, replace
from typing import Any, TypeVar

T = TypeVar("T")


def check(ok: bool, key: str, message: str) -> None:
    """Raise ``ValueError("<key>: <message>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{key}: {message}")


def is_size(size: Sequence[int] | None, multiple: int = 1) -> bool:
    """Whether ``size`` is [H, W] with positive entries that are multiples of ``multiple``."""
    return (
        size is not None
        and len(size) == 2
        and all(isinstance(v, int) and v > 0 and v % multiple == 0 for v in size)
    )


def config_with(cls: type[T], options: Mapping[str, Any], base: T | None = None) -> T:
    """``cls(**options)`` (or ``base`` with ``options`` replaced), after checking that every
    option is a field of the dataclass ``cls``: an unknown one raises a ValueError that
    lists the valid names."""
    assert is_dataclass(cls)
    valid = [f.name for f in fields(cls)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} option(s) {unknown}; valid: {valid}")
    return replace(base, **options) if base is not None else cls(**options)
