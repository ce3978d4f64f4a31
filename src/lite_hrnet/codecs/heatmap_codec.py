"""One object for the MSRA heatmap encoding and its decoding, as mmpose's
``MSRAHeatmap(input_size, heatmap_size, sigma)``: what the data transforms encode with,
what the task decodes with, and what a checkpoint carries (``to_dict``/``from_dict``).

Sizes here are [w, h], as in mmpose's codecs; the run configs give [H, W]
(``from_input_hw`` takes those).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from .geometry import heatmap_to_image
from .heatmap import decode_heatmaps, encode_heatmaps, sigma_for_heatmap

# The network's output stride: heatmaps are a quarter of the input in each direction.
HEATMAP_STRIDE = 4
DARK_KERNEL = 11  # DARK's blur kernel for sigma 2 (the 256x192 recipe)
# The official recipes' input (H, W) per data format: the data configs' defaults, and the
# codec of a checkpoint that stored neither a codec nor its data's input size.
RECIPE_INPUT_HW: dict[str, tuple[int, int]] = {"coco": (256, 192), "mpii": (256, 256)}


@dataclass(frozen=True)
class HeatmapCodec:
    """Gaussian heatmap targets and their decoding, with the test-time options.

    Attributes:
        input_size: network input [w, h] in pixels.
        heatmap_size: heatmap [w, h] in pixels.
        sigma: the Gaussian's standard deviation in heatmap pixels.
        flip_test: average in the heatmaps of the mirrored crop.
        shift_heatmap: shift the mirrored heatmaps one pixel right (the official setting).
        dark: DARK's refinement instead of the quarter-pixel step.
        dark_kernel: DARK's blur kernel (odd).
    """

    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    sigma: float
    flip_test: bool = True
    shift_heatmap: bool = True
    dark: bool = False
    dark_kernel: int = DARK_KERNEL

    def __post_init__(self) -> None:
        for name in ("input_size", "heatmap_size"):
            size = tuple(int(v) for v in getattr(self, name))
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f"{name}: [w, h] with positive sizes, got {getattr(self, name)}")
            object.__setattr__(self, name, size)
        object.__setattr__(self, "sigma", float(self.sigma))
        if not self.sigma > 0:
            raise ValueError(f"sigma: must be positive, got {self.sigma}")
        if self.dark_kernel < 1 or self.dark_kernel % 2 == 0:
            raise ValueError(f"dark_kernel: a positive odd size, got {self.dark_kernel}")

    # Construction ----------------------------------------------------------------------
    @classmethod
    def from_input_hw(
        cls,
        input_hw: Sequence[int],
        heatmap_hw: Sequence[int] | None = None,
        sigma: float | None = None,
        **decoding: Any,
    ) -> HeatmapCodec:
        """The recipe's codec for an input (H, W): heatmaps a quarter of it unless
        ``heatmap_hw`` (h, w) is given, sigma heatmap height / 32 unless given (2 at 256x192,
        3 at 384x288). ``decoding`` sets ``flip_test``, ``shift_heatmap``, ``dark``..."""
        h, w = (int(v) for v in input_hw)
        if heatmap_hw is None:
            heatmap_hw = (h // HEATMAP_STRIDE, w // HEATMAP_STRIDE)
        hm_h, hm_w = (int(v) for v in heatmap_hw)
        sigma = sigma_for_heatmap(hm_h) if sigma is None else sigma
        return cls((w, h), (hm_w, hm_h), sigma, **decoding)

    def with_input_hw(self, input_hw: Sequence[int]) -> HeatmapCodec:
        """The recipe's codec for another input (H, W), with these decoding options."""
        decoding = {k: v for k, v in self.to_dict().items() if k in DECODING_OPTIONS}
        return HeatmapCodec.from_input_hw(input_hw, **decoding)

    def replace(self, **changes: Any) -> HeatmapCodec:
        """A copy with some fields changed; an unknown name raises a ValueError."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(f"unknown HeatmapCodec field(s) {unknown}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (lists, numbers, booleans): fit for YAML, JSON and checkpoints."""
        out = asdict(self)
        out["input_size"], out["heatmap_size"] = list(self.input_size), list(self.heatmap_size)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeatmapCodec:
        """The codec ``to_dict`` wrote; unknown keys raise a ValueError naming them."""
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown HeatmapCodec field(s) {unknown}")
        return cls(**data)

    # Sizes -------------------------------------------------------------------------------
    @property
    def input_hw(self) -> tuple[int, int]:
        """The input as (H, W), the run configs' order."""
        return self.input_size[1], self.input_size[0]

    @property
    def heatmap_hw(self) -> tuple[int, int]:
        """The heatmap as (h, w)."""
        return self.heatmap_size[1], self.heatmap_size[0]

    @property
    def aspect_ratio(self) -> float:
        """Input w / h: person boxes are grown to it before cropping."""
        return self.input_size[0] / self.input_size[1]

    # Encoding and decoding ---------------------------------------------------------------
    def encode(self, joints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joints (K, 2) [x, y] in input pixels, visibility (K,) -> targets (K, h, w) and
        target weights (K,) (``encode_heatmaps``)."""
        return encode_heatmaps(joints, visible, self.input_size, self.heatmap_size, self.sigma)

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (B, K, h, w) -> keypoints (B, K, 2) [x, y] in heatmap pixels and scores
        (B, K) (``decode_heatmaps`` with this codec's refinement)."""
        return decode_heatmaps(heatmaps, dark=self.dark, dark_kernel=self.dark_kernel)

    def decode_to_image(
        self, heatmaps: np.ndarray, centers: np.ndarray, scales: np.ndarray
    ) -> np.ndarray:
        """Heatmaps (B, K, h, w) of crops of (center, scale) (B, 2) -> keypoints (B, K, 3)
        [x, y, score] in image pixels (the official inverse crop transform)."""
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        coords, scores = self.decode(heatmaps)
        size = (heatmaps.shape[3], heatmaps.shape[2])
        xy = [heatmap_to_image(coords[i], centers[i], scales[i], size) for i in range(len(coords))]
        if not xy:
            return np.zeros((0, heatmaps.shape[1], 3), np.float32)
        return np.concatenate([np.stack(xy), scores[..., None]], axis=2)


# The fields that change the decoding only: a codec's test-time options.
DECODING_OPTIONS = ("flip_test", "shift_heatmap", "dark", "dark_kernel")


def recipe_codec(keypoint_set: str, **decoding: Any) -> HeatmapCodec:
    """The recipe's codec for a keypoint set's data when nothing else says: MPII's input
    for the ``mpii`` set, the COCO-format one's for any other; ``decoding`` as in
    ``from_input_hw``."""
    return HeatmapCodec.from_input_hw(
        RECIPE_INPUT_HW.get(keypoint_set, RECIPE_INPUT_HW["coco"]), **decoding
    )
