"""Lite-HRNet in timm's model registry, for timm and the libraries built on it
(segmentation_models_pytorch's ``tu-`` encoders).

``import lite_hrnet.timm`` registers every variant of lite-hrnet's registry (the paper's
and those of ``register_variant``) under its name, with its published weights as timm
pretrained tags::

    import timm, lite_hrnet.timm
    model = timm.create_model("lite_hrnet_18", features_only=True, out_indices=(1, 2, 3))
    model.feature_info.channels()        # [80, 160, 320]
    model.feature_info.reduction()       # [8, 16, 32]
    timm.create_model("lite_hrnet_18.coco_256x192", pretrained=True, features_only=True)

``pretrained=True`` loads the variant's default (first) published weights, a tag its
named ones, through ``lite_hrnet.models.hub`` (torch hub cache, hash-checked), or timm's
``pretrained_cfg_overlay=dict(file=PATH)`` (any file ``load_checkpoint`` reads). Keyword
arguments other than timm's are ``LiteHRNetSpec`` fields (``width``, ``num_modules``...).
Variants registered after the import: call ``register_in_timm()`` again.

The backbone has no classifier (``num_classes`` 0) and one output stride per branch
(4, 8, 16, 32): ``output_stride`` other than 32 is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import timm
from timm.models import generate_default_cfgs, resolve_pretrained_cfg
from timm.models import register_model as _timm_register

from .models.backbone import LiteHRNet
from .models.checkpoint import load_checkpoint
from .models.hub import download_pretrained
from .models.registry import list_models, variant_info
from .models.variants import build_variant

__all__ = ["register_in_timm"]

# timm reads a module's ``default_cfgs`` when its ``register_model`` runs: the pretrained
# tags of each variant are set here before its entry point is registered.
default_cfgs: dict[str, Any] = {}
_LICENSE = "apache-2.0"


def _cfgs(variant: str) -> dict[str, dict[str, Any]]:
    """timm pretrained configs of ``variant``: one per published tag (the first is timm's
    default), or one without weights."""
    info = variant_info(variant)
    h, w = info.input_size
    common = {"num_classes": 0, "license": _LICENSE, "first_conv": "stem.conv1.conv"}
    if not info.pretrained:
        return {variant: {"input_size": (3, h, w), **common}}
    return {
        f"{variant}.{weights.tag}": {
            "url": weights.url,
            "input_size": (3, *weights.input_size),
            "mean": weights.mean,
            "std": weights.std,
            **common,
        }
        for weights in info.pretrained
    }


def _entry_point(variant: str) -> Callable[..., LiteHRNet]:
    def entry(
        pretrained: bool = False,
        pretrained_cfg: Any = None,
        pretrained_cfg_overlay: dict[str, Any] | None = None,
        *,
        features_only: bool = False,
        out_indices: Sequence[int] | None = None,
        in_chans: int = 3,
        num_classes: int = 0,
        output_stride: int = 32,
        cache_dir: Any = None,  # unused: published weights live in lite-hrnet's cache (TORCH_HOME)
        device: Any = None,
        dtype: Any = None,
        **spec_overrides: Any,
    ) -> LiteHRNet:
        if num_classes:
            raise ValueError(
                f"{variant}: a Lite-HRNet backbone has no classifier; num_classes must be 0, "
                f"got {num_classes}"
            )
        if output_stride != 32:
            raise ValueError(
                f"{variant}: output_stride {output_stride} is not supported; its branches "
                "run at strides 4, 8, 16 and 32"
            )
        if in_chans != 3:
            spec_overrides["in_channels"] = in_chans
        cfg = resolve_pretrained_cfg(variant, pretrained_cfg, pretrained_cfg_overlay)
        model = build_variant(
            variant, features_only=features_only, out_indices=out_indices, **spec_overrides
        )
        if pretrained:  # a local file given to timm (pretrained_cfg_overlay=dict(file=...)) first
            path = cfg.file or download_pretrained(variant, cfg.tag or True)
            load_checkpoint(model, path)
        model.pretrained_cfg = model.default_cfg = cfg.to_dict()
        if device is not None or dtype is not None:
            model.to(device=device, dtype=dtype)
        return model

    entry.__name__ = entry.__qualname__ = variant
    entry.__module__ = __name__
    entry.__doc__ = f"{variant}: Lite-HRNet backbone (lite_hrnet registry) for timm."
    return entry


def register_in_timm(names: Sequence[str] | None = None) -> list[str]:
    """Register the lite-hrnet variants ``names`` (default: every registered one that
    timm does not have yet) in timm's registry; returns the names registered."""
    todo = list(names) if names is not None else list_models()
    done = []
    for name in todo:
        if names is None and timm.is_model(name):
            continue
        default_cfgs.update(generate_default_cfgs(_cfgs(name)))
        _timm_register(_entry_point(name))
        done.append(name)
    return done


register_in_timm()
