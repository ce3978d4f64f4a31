"""The registered variants of the paper (Yu et al., CVPR 2021): their specs, what the paper
publishes of each, the builder and the one-line entry points, timm style.

A variant of one's own is one call: ``register_variant("my_net", LiteHRNetSpec(...))``, or
``@register_model(spec=...)`` on a function that calls ``build_variant``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .backbone import LiteHRNet, LiteHRNetFeatures
from .metadata import (
    COCO_HEAD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MPII_HEAD,
    PaperResult,
    PretrainedWeights,
    VariantInfo,
)
from .registry import VARIANT_SPECS, VARIANTS, register_model, variant_info
from .spec import LiteHRNetSpec

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VARIANTS",
    "VARIANT_SPECS",
    "PaperResult",
    "PretrainedWeights",
    "VariantInfo",
    "build_variant",
    "register_variant",
    "variant_info",
]


def _coco(size: tuple[int, int], flops: float, ap: float) -> PaperResult:
    return PaperResult("coco", size, flops, "AP", ap)


_MMPOSE = "https://download.openmmlab.com/mmpose/top_down/litehrnet/"


def _mmpose_coco(file_name: str, size: tuple[int, int], ap: float) -> PretrainedWeights:
    tag = f"coco_{size[0]}x{size[1]}"
    return PretrainedWeights(tag, _MMPOSE + file_name, "coco", size, COCO_HEAD, "AP", ap)


def _mmpose_mpii(file_name: str, pckh: float) -> PretrainedWeights:
    return PretrainedWeights(
        "mpii_256x256", _MMPOSE + file_name, "mpii", (256, 256), MPII_HEAD, "PCKh", pckh
    )


_LITE_HRNET_18 = dict(
    spec=LiteHRNetSpec(num_modules=(2, 4, 2)),
    paper_params=1.1,
    paper_results=(
        _coco((256, 192), 205.2, 64.8),
        _coco((384, 288), 461.6, 67.6),
        PaperResult("mpii", (256, 256), 273.4, "PCKh", 85.4),
        PaperResult("cityscapes", (512, 1024), None, "mIoU", 73.8),
    ),
    pretrained=(
        _mmpose_coco("litehrnet18_coco_256x192-6bace359_20211230.pth", (256, 192), 0.642),
        _mmpose_coco("litehrnet18_coco_384x288-8d4dac48_20211230.pth", (384, 288), 0.676),
        _mmpose_mpii("litehrnet18_mpii_256x256-cabd7984_20210623.pth", 0.859),
    ),
)
_LITE_HRNET_30 = dict(
    spec=LiteHRNetSpec(num_modules=(3, 8, 3)),
    paper_params=1.8,
    paper_results=(
        _coco((256, 192), 319.2, 67.2),
        _coco((384, 288), 717.8, 70.4),
        PaperResult("mpii", (256, 256), 425.3, "PCKh", 87.0),
        PaperResult("cityscapes", (512, 1024), None, "mIoU", 76.0),
    ),
    pretrained=(
        _mmpose_coco("litehrnet30_coco_256x192-4176555b_20210626.pth", (256, 192), 0.676),
        _mmpose_coco("litehrnet30_coco_384x288-a3aef5c4_20210626.pth", (384, 288), 0.700),
        _mmpose_mpii("litehrnet30_mpii_256x256-faae8bd8_20210622.pth", 0.869),
    ),
)
_NAIVE_LITE_HRNET_18 = dict(
    spec=LiteHRNetSpec(num_modules=(2, 4, 2), channels=(30, 60, 120, 240), module_type="NAIVE"),
    paper_params=0.7,
    paper_results=(
        _coco((256, 192), 194.8, 62.8),
        PaperResult("mpii", (256, 256), None, "PCKh", 85.3),
    ),
)
_WIDER_NAIVE_LITE_HRNET_18 = dict(
    spec=LiteHRNetSpec(num_modules=(2, 4, 2), module_type="NAIVE"),
    paper_params=1.3,
    paper_results=(
        _coco((256, 192), 311.1, 66.0),
        PaperResult("mpii", (256, 256), None, "PCKh", 86.8),
    ),
)


def build_variant(
    variant: str,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    **overrides: Any,
) -> LiteHRNet:
    """The backbone of the registered ``variant``'s spec with ``overrides`` replacing
    fields; ``features_only`` returns the branch maps of ``out_indices``."""
    spec = variant_info(variant).spec.replace(**overrides)
    if features_only:
        model: LiteHRNet = LiteHRNetFeatures(spec, out_indices=out_indices)
    else:
        if out_indices is not None:
            raise ValueError("out_indices: only valid with features_only=True")
        model = LiteHRNet(spec)
    model.variant = variant
    return model


def register_variant(name: str, spec: LiteHRNetSpec, **metadata: Any) -> Callable[..., LiteHRNet]:
    """Register ``name`` as a variant of ``spec`` (other widths, depths, block types...):
    it then works as the paper's do, in the factories, ``model.name=`` of a run, its
    checkpoints and ``lite-hrnet summary``. ``metadata``: ``VariantInfo``'s other fields
    (``input_size`` (H, W), ``joint_names`` of the default head, ``pretrained``...).
    Returns the entry point."""

    def entry(**kwargs: Any) -> LiteHRNet:
        return build_variant(name, **kwargs)

    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = f"{name}: a registered Lite-HRNet variant ({spec.module_type} blocks)."
    return register_model(entry, spec=spec, **metadata)


@register_model(**_LITE_HRNET_18)
def lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Lite-HRNet-18: LITE blocks, (2, 4, 2) modules, 40/80/160/320 channels."""
    return build_variant("lite_hrnet_18", **kwargs)


@register_model(**_LITE_HRNET_30)
def lite_hrnet_30(**kwargs: Any) -> LiteHRNet:
    """Lite-HRNet-30: LITE blocks, (3, 8, 3) modules, 40/80/160/320 channels."""
    return build_variant("lite_hrnet_30", **kwargs)


@register_model(**_NAIVE_LITE_HRNET_18)
def naive_lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Naive Lite-HRNet-18: shuffle blocks, (2, 4, 2) modules, 30/60/120/240 channels."""
    return build_variant("naive_lite_hrnet_18", **kwargs)


@register_model(**_WIDER_NAIVE_LITE_HRNET_18)
def wider_naive_lite_hrnet_18(**kwargs: Any) -> LiteHRNet:
    """Wider naive Lite-HRNet-18: shuffle blocks, (2, 4, 2) modules, 40/80/160/320 channels."""
    return build_variant("wider_naive_lite_hrnet_18", **kwargs)
