"""The typed architecture spec of a Lite-HRNet backbone, and its validation."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

ModuleType = Literal["LITE", "NAIVE"]
MODULE_TYPES: tuple[str, ...] = ("LITE", "NAIVE")

# Spatial weighting always reduces by 4 in the official code; only the cross-resolution
# weighting takes the per-stage ``reduce_ratios``.
SPATIAL_WEIGHTING_RATIO = 4


@dataclass(frozen=True)
class LiteHRNetSpec:
    """Everything needed to build a Lite-HRNet backbone.

    Stage ``i`` (0-based) has ``i + 2`` branches; branch ``b`` runs at stride ``4 * 2**b``
    with ``branch_channels[b]`` channels. A backbone with ``S`` stages therefore needs
    ``S + 1`` entries in ``channels`` and ``S`` entries in each per-stage tuple.

    Attributes:
        num_modules: Lite-HR modules per stage (the stage depth), e.g. (2, 4, 2).
        channels: channels per branch before the width multiplier, e.g. (40, 80, 160, 320).
        num_blocks: blocks per branch in every module of a stage.
        reduce_ratios: cross-resolution weighting reduction per stage (LITE only).
        module_type: "LITE" (conditional channel weighting) or "NAIVE" (shuffle blocks).
        width: multiplier on ``channels``; results are rounded to the nearest even number.
        stem_channels: channels of the stem's first 3x3 stride-2 conv.
        stem_out_channels: channels leaving the stem (stride 4).
        stem_expand_ratio: expansion of the stem's inverted-residual branch.
        in_channels: image channels.
        with_fuse: exchange information across branches at the end of every module.
        with_head: build the iterative head that returns one map at stride 4.
        fuse_branch0_twice: reproduce the official fuse, which adds branch 0 twice and feeds
            the fused pre-ReLU branch 0 to the lower-resolution outputs. Every published
            checkpoint depends on it; False gives the plain HRNet sum.
        with_cp: gradient checkpointing of the blocks (saves memory, costs a recompute).
        norm_eval: keep BatchNorm layers in eval mode while training (frozen statistics).
    """

    num_modules: tuple[int, ...] = (2, 4, 2)
    channels: tuple[int, ...] = (40, 80, 160, 320)
    num_blocks: tuple[int, ...] = (2, 2, 2)
    reduce_ratios: tuple[int, ...] = (8, 8, 8)
    module_type: ModuleType = "LITE"
    width: float = 1.0
    stem_channels: int = 32
    stem_out_channels: int = 32
    stem_expand_ratio: float = 1.0
    in_channels: int = 3
    with_fuse: bool = True
    with_head: bool = True
    fuse_branch0_twice: bool = True
    with_cp: bool = False
    norm_eval: bool = False

    def __post_init__(self) -> None:
        # Lists (from YAML or Hydra) become tuples so that specs stay hashable and comparable.
        for name in ("num_modules", "channels", "num_blocks", "reduce_ratios"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))
        self.validate()

    @property
    def num_stages(self) -> int:
        return len(self.num_modules)

    @property
    def branch_channels(self) -> tuple[int, ...]:
        """Channels per branch after the width multiplier."""
        if self.width == 1.0:
            return self.channels
        return tuple(max(2, 2 * round(c * self.width / 2)) for c in self.channels)

    def stage_channels(self, stage: int) -> tuple[int, ...]:
        """Channels of the ``stage + 2`` branches of a stage."""
        return self.branch_channels[: stage + 2]

    @property
    def out_channels(self) -> int:
        """Channels of ``forward``'s output: the stride-4 branch."""
        return self.branch_channels[0]

    def replace(self, **overrides: Any) -> LiteHRNetSpec:
        """A copy with some fields changed; an unknown name raises a ValueError listing all."""
        valid = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise ValueError(
                f"unknown LiteHRNetSpec field(s) {unknown}; valid fields: {sorted(valid)}"
            )
        return replace(self, **overrides)

    def validate(self) -> None:
        """Raise a ValueError naming the first field that cannot build a network."""
        _check_int_tuple("num_modules", self.num_modules, minimum=1)
        if self.num_stages < 1:
            raise ValueError("num_modules: need at least one stage, got ()")
        _check_int_tuple("num_blocks", self.num_blocks, minimum=1)
        _check_int_tuple("reduce_ratios", self.reduce_ratios, minimum=1)
        _check_int_tuple("channels", self.channels, minimum=2)
        for name in ("num_blocks", "reduce_ratios"):
            if len(getattr(self, name)) != self.num_stages:
                raise ValueError(
                    f"{name}: has {len(getattr(self, name))} entries but num_modules has "
                    f"{self.num_stages} stages; give one per stage"
                )
        if len(self.channels) != self.num_stages + 1:
            raise ValueError(
                f"channels: {self.num_stages} stages need {self.num_stages + 1} branches "
                f"(stage i has i + 2), got {len(self.channels)}: {self.channels}"
            )
        odd = [c for c in self.channels if c % 2]
        if odd:
            raise ValueError(
                f"channels: {odd} cannot be split in two; every block halves its input"
            )
        if self.module_type not in MODULE_TYPES:
            raise ValueError(f"module_type: {self.module_type!r} is not one of {MODULE_TYPES}")
        if not (isinstance(self.width, (int, float)) and self.width > 0):
            raise ValueError(f"width: must be a positive number, got {self.width!r}")
        for name in ("stem_channels", "stem_out_channels", "in_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: must be a positive int, got {value!r}")
        if self.stem_channels % 2:
            raise ValueError(f"stem_channels: {self.stem_channels} cannot be split in two")
        if self.stem_out_channels <= self.stem_channels // 2:
            raise ValueError(
                f"stem_out_channels: {self.stem_out_channels} must exceed half of "
                f"stem_channels ({self.stem_channels // 2})"
            )
        if not self.stem_expand_ratio > 0:
            raise ValueError(f"stem_expand_ratio: must be positive, got {self.stem_expand_ratio}")
        if self.module_type == "LITE":
            self._validate_lite_reductions()

    def _validate_lite_reductions(self) -> None:
        for stage, ratio in enumerate(self.reduce_ratios):
            halves = [c // 2 for c in self.stage_channels(stage)]
            if sum(halves) // ratio < 1:
                raise ValueError(
                    f"reduce_ratios: stage {stage} reduces {sum(halves)} channels by {ratio} "
                    "to zero"
                )
            if min(halves) // SPATIAL_WEIGHTING_RATIO < 1:
                raise ValueError(
                    f"channels: branch width {2 * min(halves)} is too small for spatial "
                    f"weighting (needs at least {2 * SPATIAL_WEIGHTING_RATIO})"
                )


def _check_int_tuple(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{name}: must be a tuple of ints, got {value!r}")
    small = [v for v in value if v < minimum]
    if small:
        raise ValueError(f"{name}: entries must be >= {minimum}, got {value}")
