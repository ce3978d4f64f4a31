"""Registry of model entry points, timm style: ``@register_model`` and ``list_models``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from torch import nn

_ENTRYPOINTS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a backbone entry point under its function name.

    A name that is registered already raises a ValueError naming both entry points: a
    second registration would silently replace the first.
    """
    name = fn.__name__
    if name in _ENTRYPOINTS:
        old = _ENTRYPOINTS[name]
        raise ValueError(
            f"model {name!r} is registered already (by {old.__module__}.{old.__qualname__}); "
            f"{fn.__module__}.{fn.__qualname__} needs another name"
        )
    _ENTRYPOINTS[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Sorted names of the registered backbones, filtered by a shell-style ``pattern``."""
    return sorted(name for name in _ENTRYPOINTS if fnmatch.fnmatch(name, pattern))


def model_entrypoint(name: str) -> Callable[..., Any]:
    """The entry point of a registered backbone; unknown names raise a ValueError listing all."""
    try:
        return _ENTRYPOINTS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {list_models()}") from None
