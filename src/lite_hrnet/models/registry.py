"""Registry of model entry points, timm style: ``@register_model`` and ``list_models``.

The registry is the one source of truth of the variants: each entry point comes with its
``VariantInfo`` (spec, default input size and head, published weights), given at
registration (``@register_model(spec=...)``) or, for a bare ``@register_model``, read off
the model the entry point builds.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn

from .metadata import VariantInfo
from .spec import LiteHRNetSpec

_ENTRYPOINTS: dict[str, Callable[..., nn.Module]] = {}
# The metadata of the registered variants, by name (filled at registration, or on first
# use for entry points registered without it).
VARIANTS: dict[str, VariantInfo] = {}


def register_model(
    fn: Callable[..., nn.Module] | None = None,
    *,
    spec: LiteHRNetSpec | None = None,
    **metadata: Any,
) -> Any:
    """Register a backbone entry point under its function name, as a bare decorator
    (``@register_model``) or with its metadata (``@register_model(spec=..., input_size=
    (H, W), joint_names=..., pretrained=...)``, the fields of ``VariantInfo``).

    A name that is registered already raises a ValueError naming both entry points: a
    second registration would silently replace the first.
    """
    if fn is None:
        return lambda f: register_model(f, spec=spec, **metadata)
    if metadata and spec is None:
        raise ValueError(f"register_model({fn.__name__}): metadata needs the spec")
    name = fn.__name__
    if name in _ENTRYPOINTS:
        old = _ENTRYPOINTS[name]
        raise ValueError(
            f"model {name!r} is registered already (by {old.__module__}.{old.__qualname__}); "
            f"{fn.__module__}.{fn.__qualname__} needs another name"
        )
    info = VariantInfo(spec, **metadata) if spec is not None else None
    _ENTRYPOINTS[name] = fn
    VARIANTS.pop(name, None)
    if info is not None:
        VARIANTS[name] = info
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


def variant_info(name: str) -> VariantInfo:
    """The ``VariantInfo`` of a registered variant; unknown names raise a ValueError.

    An entry point registered without metadata is built once on the meta device (no
    memory, no compute) to read its spec; the rest takes ``VariantInfo``'s defaults.
    """
    if name not in VARIANTS:
        entry = model_entrypoint(name)
        with torch.device("meta"):
            model = entry()
        spec = getattr(model, "spec", None)
        if not isinstance(spec, LiteHRNetSpec):
            raise ValueError(f"model {name!r}: its entry point builds no Lite-HRNet (no .spec)")
        VARIANTS[name] = VariantInfo(spec)
    return VARIANTS[name]


class _Specs(Mapping[str, LiteHRNetSpec]):
    """``{name: spec}`` of every registered variant, read from the registry when asked."""

    def __getitem__(self, name: str) -> LiteHRNetSpec:
        if name not in _ENTRYPOINTS:
            raise KeyError(name)
        return variant_info(name).spec

    def __iter__(self) -> Iterator[str]:
        return iter(list(_ENTRYPOINTS))

    def __len__(self) -> int:
        return len(_ENTRYPOINTS)


VARIANT_SPECS: Mapping[str, LiteHRNetSpec] = _Specs()
