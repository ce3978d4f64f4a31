"""The registered variants of the paper (Yu et al., CVPR 2021, Tables 1 and 2): their specs,
the builder and the one-line entry points, timm style."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .backbone import LiteHRNet, LiteHRNetFeatures
from .registry import register_model
from .spec import LiteHRNetSpec

VARIANT_SPECS: dict[str, LiteHRNetSpec] = {
    "lite_hrnet_18": LiteHRNetSpec(num_modules=(2, 4, 2)),
    "lite_hrnet_30": LiteHRNetSpec(num_modules=(3, 8, 3)),
    "naive_lite_hrnet_18": LiteHRNetSpec(
        num_modules=(2, 4, 2), channels=(30, 60, 120, 240), module_type="NAIVE"
    ),
    "wider_naive_lite_hrnet_18": LiteHRNetSpec(num_modules=(2, 4, 2), module_type="NAIVE"),
}


def _create_lite_hrnet(
    variant: str,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    **overrides: Any,
) -> LiteHRNet:
    spec = VARIANT_SPECS[variant].replace(**overrides)
    if features_only:
        model: LiteHRNet = LiteHRNetFeatures(spec, out_indices=out_indices)
    else:
        if out_indices is not None:
            raise ValueError("out_indices: only valid with features_only=True")
        model = LiteHRNet(spec)
    model.variant = variant
    return model


@register_model
def lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Lite-HRNet-18: LITE blocks, (2, 4, 2) modules, 40/80/160/320 channels."""
    return _create_lite_hrnet("lite_hrnet_18", **kwargs)


@register_model
def lite_hrnet_30(**kwargs: Any) -> LiteHRNet:
    """Lite-HRNet-30: LITE blocks, (3, 8, 3) modules, 40/80/160/320 channels."""
    return _create_lite_hrnet("lite_hrnet_30", **kwargs)


@register_model
def naive_lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Naive Lite-HRNet-18: shuffle blocks, (2, 4, 2) modules, 30/60/120/240 channels."""
    return _create_lite_hrnet("naive_lite_hrnet_18", **kwargs)


@register_model
def wider_naive_lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Wider naive Lite-HRNet-18: shuffle blocks, (2, 4, 2) modules, 40/80/160/320 channels."""
    return _create_lite_hrnet("wider_naive_lite_hrnet_18", **kwargs)
