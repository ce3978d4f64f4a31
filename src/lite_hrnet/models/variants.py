"""The registered variants of the paper (Yu et al., CVPR 2021): their specs, what the paper
publishes of each, the builder and the one-line entry points, timm style."""

from __future__ import annotations

import re
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


# The normalisation every published Lite-HRNet checkpoint was trained with (RGB, [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# mmpose's file names: ``<name>-<first 8 hex digits of the SHA-256>_<date>.pth``.
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})(?:_\d+)?\.pth$")


@dataclass(frozen=True)
class PretrainedWeights:
    """A published checkpoint of a variant, named ``<variant>.<tag>``.

    ``input_size`` is (H, W); ``metric`` and ``published`` are what its publisher measured
    (mmpose: COCO val2017 AP with detector boxes and flip test, or MPII val PCKh@0.5), as
    a fraction; ``mean``/``std`` normalise its RGB [0, 1] input.
    """

    tag: str
    url: str
    dataset: str
    input_size: tuple[int, int]
    num_joints: int
    metric: str
    published: float
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def sha256_prefix(self) -> str | None:
        """The start of the file's SHA-256 that its name carries, or None."""
        found = _HASH_IN_NAME.search(self.file_name)
        return found.group(1) if found else None


@dataclass(frozen=True)
class VariantInfo:
    """A registered variant: its architecture, its paper parameter count (millions, as
    printed) and results, its published checkpoints (the first is the default of
    ``pretrained=True``) and the input size (H, W) of its main COCO setting."""

    spec: LiteHRNetSpec
    paper_params: float
    paper_results: tuple[PaperResult, ...]
    pretrained: tuple[PretrainedWeights, ...] = ()

    @property
    def input_size(self) -> tuple[int, int]:
        return self.paper_results[0].input_size


def _coco(size: tuple[int, int], flops: float, ap: float) -> PaperResult:
    return PaperResult("coco", size, flops, "AP", ap)


_MMPOSE = "https://download.openmmlab.com/mmpose/top_down/litehrnet/"


def _mmpose_coco(file_name: str, size: tuple[int, int], ap: float) -> PretrainedWeights:
    tag = f"coco_{size[0]}x{size[1]}"
    return PretrainedWeights(tag, _MMPOSE + file_name, "coco", size, 17, "AP", ap)


def _mmpose_mpii(file_name: str, pckh: float) -> PretrainedWeights:
    return PretrainedWeights(
        "mpii_256x256", _MMPOSE + file_name, "mpii", (256, 256), 16, "PCKh", pckh
    )


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
        (
            _mmpose_coco("litehrnet18_coco_256x192-6bace359_20211230.pth", (256, 192), 0.642),
            _mmpose_coco("litehrnet18_coco_384x288-8d4dac48_20211230.pth", (384, 288), 0.676),
            _mmpose_mpii("litehrnet18_mpii_256x256-cabd7984_20210623.pth", 0.859),
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
        (
            _mmpose_coco("litehrnet30_coco_256x192-4176555b_20210626.pth", (256, 192), 0.676),
            _mmpose_coco("litehrnet30_coco_384x288-a3aef5c4_20210626.pth", (384, 288), 0.700),
            _mmpose_mpii("litehrnet30_mpii_256x256-faae8bd8_20210622.pth", 0.869),
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
