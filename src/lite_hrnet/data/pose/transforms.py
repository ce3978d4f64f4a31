"""The official top-down training and test pipeline for one person instance.

flip -> half-body -> scale/rotation jitter -> affine crop -> (photometric) -> normalise
-> Gaussian targets. Randomness comes from a ``numpy.random.Generator`` passed in, so a
sample is reproducible from its seed whatever worker draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ...checks import check, is_size
from ...codecs.geometry import PIXEL_STD, apply_affine, get_affine_transform
from ...codecs.heatmap_codec import RECIPE_INPUT_HW, HeatmapCodec
from ...codecs.image import normalize_image
from ...meta.keypoints import KeypointSet
from ..random_state import reseed_from_torch


@dataclass
class TopDownConfig:
    """The official pipeline's settings (the paper's recipe by default). Sizes are [H, W].
    ``input_size``, ``heatmap_size`` and ``sigma`` are the encoding's settings: the task
    turns them into its ``HeatmapCodec`` (``heatmap_codec``), which the transforms then
    use; the heatmap size (input / 4) and sigma (heatmap height / 32) follow the input
    unless given, so one override of ``input_size`` changes a whole resolution setting."""

    input_size: list[int] = field(default_factory=lambda: list(RECIPE_INPUT_HW["coco"]))
    heatmap_size: list[int] | None = None
    sigma: float | None = None
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8
    scale_factor: float = 0.25
    rotation_factor: float = 30.0
    rotation_prob: float = 0.6
    photometric: bool = False  # albumentations colour jitter, noise and blur

    def validate(self) -> None:
        check(is_size(self.input_size, 32), "data.input_size",
              f"[H, W] with multiples of 32, got {self.input_size}")  # fmt: skip
        if self.heatmap_size is not None:
            check(is_size(self.heatmap_size), "data.heatmap_size",
                  f"[h, w] with positive sizes, got {self.heatmap_size}")  # fmt: skip
        if self.sigma is not None:
            check(self.sigma > 0, "data.sigma", f"must be positive, got {self.sigma}")
        for key in ("flip_prob", "half_body_prob", "rotation_prob"):
            check(0 <= getattr(self, key) <= 1, f"data.{key}", "a probability in [0, 1]")
        # The jitter multiplies the scale by a factor in [1 - f, 1 + f], which must stay > 0.
        check(0 <= self.scale_factor < 1, "data.scale_factor",
              f"in [0, 1) so that scales stay positive, got {self.scale_factor}")  # fmt: skip
        check(self.rotation_factor >= 0, "data.rotation_factor", "must be >= 0")
        check(self.half_body_min_joints >= 0, "data.half_body_min_joints", "must be >= 0")

    def heatmap_codec(self, **decoding: Any) -> HeatmapCodec:
        """The codec of these settings; ``decoding`` sets its test-time options."""
        return HeatmapCodec.from_input_hw(
            self.input_size, self.heatmap_size, self.sigma, **decoding
        )


def half_body_box(
    joints: np.ndarray,
    visible: np.ndarray,
    keypoint_set: KeypointSet,
    aspect_ratio: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Center and scale of a box around the upper or the lower body, grown x1.5.

    Mirrors the official ``half_body_transform``, including its coin ``randn() < 0.5``
    (not ``rand()``), which favours the upper body. None when too few joints are visible.
    """
    upper_ids = set(keypoint_set.upper_body_ids)
    upper = [joints[j] for j in range(len(joints)) if visible[j] > 0 and j in upper_ids]
    lower = [joints[j] for j in range(len(joints)) if visible[j] > 0 and j not in upper_ids]
    if rng.standard_normal() < 0.5 and len(upper) > 2:
        selected = upper
    elif len(lower) > 2:
        selected = lower
    else:
        selected = upper
    if len(selected) < 2:
        return None
    pts = np.asarray(selected, np.float32)
    center = pts.mean(axis=0)
    w, h = pts.max(axis=0) - pts.min(axis=0)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center, np.array([w / PIXEL_STD, h / PIXEL_STD], np.float32) * 1.5


def flip_joints(
    joints: np.ndarray, visible: np.ndarray, image_width: int, keypoint_set: KeypointSet
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror joints (K, 2) about the image's vertical axis and swap the flip pairs."""
    index = keypoint_set.flip_index()
    flipped = joints[index].copy()
    flipped[:, 0] = image_width - 1 - flipped[:, 0]
    vis = visible[index].copy()
    return flipped * (vis > 0)[:, None], vis


def _photometric() -> object:
    import albumentations as A

    return A.Compose(
        [
            A.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05, p=0.8),
            A.GaussNoise(p=0.2),
            A.Blur(blur_limit=3, p=0.1),
        ]
    )


class TopDownTransform:
    """Turns (image, joints, center, scale) into network input and heatmap targets.

    The crop size and the targets are the ``codec``'s (the task's, in a run); without
    one, the codec of ``cfg``'s settings.
    """

    def __init__(
        self,
        cfg: TopDownConfig,
        keypoint_set: KeypointSet,
        train: bool,
        codec: HeatmapCodec | None = None,
    ) -> None:
        self.cfg = cfg
        self.keypoint_set = keypoint_set
        self.train = train
        self.codec = codec if codec is not None else cfg.heatmap_codec()
        self.photometric = _photometric() if (train and cfg.photometric) else None

    def __call__(
        self,
        image: np.ndarray,
        joints: np.ndarray,
        visible: np.ndarray,
        center: np.ndarray,
        scale: np.ndarray,
        rng: np.random.Generator | None = None,
    ) -> dict[str, np.ndarray]:
        """``image`` (H, W, 3) uint8 RGB, ``joints`` (K, 2) [x, y], ``visible`` (K,).

        Returns ``image`` (3, h, w) float32 normalised, ``target`` (K, h/4, w/4),
        ``target_weight`` (K,), and the (possibly jittered) ``center``/``scale``/``rotation``.
        """
        cfg, codec = self.cfg, self.codec
        joints = joints.astype(np.float32)
        visible = (np.asarray(visible) > 0).astype(np.float32)
        center, scale, rotation = center.astype(np.float32), scale.astype(np.float32), 0.0
        flip = None
        if self.train:
            assert rng is not None, "training transforms need a random generator"
            # A set without flip pairs is not known to be mirror-symmetric: no flips.
            if rng.random() <= cfg.flip_prob and self.keypoint_set.has_flip_pairs:
                width = image.shape[1]
                joints, visible = flip_joints(joints, visible, width, self.keypoint_set)
                center = np.array([width - 1 - center[0], center[1]], np.float32)
                # Folding the mirror into the affine warps the original pixels directly.
                flip = np.array([[-1, 0, width - 1], [0, 1, 0]], np.float64)
            half_body = bool(self.keypoint_set.upper_body_ids)  # a set without halves: none
            if (
                half_body
                and visible.sum() > cfg.half_body_min_joints
                and rng.random() < cfg.half_body_prob
            ):
                half = half_body_box(joints, visible, self.keypoint_set, codec.aspect_ratio, rng)
                if half is not None:
                    center, scale = half
            s = np.clip(
                rng.standard_normal() * cfg.scale_factor + 1,
                1 - cfg.scale_factor,
                1 + cfg.scale_factor,
            )
            scale = scale * s
            if rng.random() <= cfg.rotation_prob:
                rotation = float(
                    np.clip(
                        rng.standard_normal() * cfg.rotation_factor,
                        -2 * cfg.rotation_factor,
                        2 * cfg.rotation_factor,
                    )
                )
        w, h = codec.input_size
        matrix = get_affine_transform(center, scale, rotation, (w, h))
        warp = matrix if flip is None else _compose(matrix, flip)
        crop = cv2.warpAffine(image, warp, (w, h), flags=cv2.INTER_LINEAR)
        joints = np.where(visible[:, None] > 0, apply_affine(joints, matrix), joints)
        if self.photometric is not None:
            reseed_from_torch(self.photometric)
            crop = self.photometric(image=crop)["image"]
        target, weight = codec.encode(joints, visible)
        if self.keypoint_set.joint_weights is not None:
            weight = weight * np.asarray(self.keypoint_set.joint_weights, np.float32)
        return {
            "image": normalize_image(crop),
            "target": target,
            "target_weight": weight,
            "center": center,
            "scale": scale,
            "rotation": np.float32(rotation),
        }


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (2, 3) affine that applies ``b`` then ``a``."""
    return np.hstack([a[:, :2] @ b[:, :2], (a[:, :2] @ b[:, 2] + a[:, 2])[:, None]])
