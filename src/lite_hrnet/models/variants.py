"""The registered variants of the paper (Yu et al., CVPR 2021): their specs, what the paper
publishes of each, the builder and the one-line entry points, timm style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .backbone import LiteHRNet, LiteHRNetFeatures
from .registry import register_model
from .spec import LiteHRNetSpec


@dataclass(frozen=True)
class PaperResult:
    """One row of the paper's tables for a variant, as printed.

    ``flops`` is the paper's complexity convention in 2**20 units (``complexity()``'s
    ``paper_flops``) with the pose head of the data set (17 COCO or 16 MPII joints);
    ``metric`` is COCO val2017 AP (detector boxes, flip test), MPII val PCKh@0.5 or
    Cityscapes val mIoU, in percent.
    """

    dataset: str
    input_size: tuple[int, int]  # (H, W)
    flops: float | None
    metric: str
    value: float


@dataclass(frozen=True)
class VariantInfo:
    """A registered variant: its architecture, its paper parameter count (millions, as
    printed) and results, and the input size (H, W) of its main COCO setting."""

    spec: LiteHRNetSpec
    paper_params: float
    paper_results: tuple[PaperResult, ...]

    @property
    def input_size(self) -> tuple[int, int]:
        return self.paper_results[0].input_size


def _coco(size: tuple[int, int], flops: float, ap: float) -> PaperResult:
    return PaperResult("coco", size, flops, "AP", ap)


VARIANTS: dict[str, VariantInfo] = {
    "lite_hrnet_18": VariantInfo(
        LiteHRNetSpec(num_modules=(2, 4, 2)),
        1.1,
        (
            _coco((256, 192), 205.2, 64.8),
            _coco((384, 288), 461.6, 67.6),
            PaperResult("mpii", (256, 256), 273.4, "PCKh", 85.4),
            PaperResult("cityscapes", (512, 1024), None, "mIoU", 73.8),
        ),
    ),
    "lite_hrnet_30": VariantInfo(
        LiteHRNetSpec(num_modules=(3, 8, 3)),
        1.8,
        (
            _coco((256, 192), 319.2, 67.2),
            _coco((384, 288), 717.8, 70.4),
            PaperResult("mpii", (256, 256), 425.3, "PCKh", 87.0),
            PaperResult("cityscapes", (512, 1024), None, "mIoU", 76.0),
        ),
    ),
    "naive_lite_hrnet_18": VariantInfo(
        LiteHRNetSpec(num_modules=(2, 4, 2), channels=(30, 60, 120, 240), module_type="NAIVE"),
        0.7,
        (_coco((256, 192), 194.8, 62.8), PaperResult("mpii", (256, 256), None, "PCKh", 85.3)),
    ),
    "wider_naive_lite_hrnet_18": VariantInfo(
        LiteHRNetSpec(num_modules=(2, 4, 2), module_type="NAIVE"),
        1.3,
        (_coco((256, 192), 311.1, 66.0), PaperResult("mpii", (256, 256), None, "PCKh", 86.8)),
    ),
}
VARIANT_SPECS: dict[str, LiteHRNetSpec] = {name: info.spec for name, info in VARIANTS.items()}


def variant_info(name: str) -> VariantInfo:
    """The ``VariantInfo`` of a registered variant; unknown names raise a ValueError."""
    if name not in VARIANTS:
        raise ValueError(f"unknown model {name!r}; available: {sorted(VARIANTS)}")
    return VARIANTS[name]


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
