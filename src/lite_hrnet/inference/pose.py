"""Top-down pose inference with any heatmap model (images (B, 3, H, W) -> heatmaps
(B, K, H/4, W/4)): crops of whole images, the flip test, decoding, keypoints in image
pixels. No Lightning and no DataModule: ``model`` is a plain ``nn.Module`` (or callable)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch

from ..codecs.geometry import box_to_center_scale, get_affine_transform, heatmap_to_image
from ..codecs.heatmap import decode_heatmaps
from ..codecs.image import normalize_image

HeatmapModel = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def predict_heatmaps(
    model: HeatmapModel,
    images: torch.Tensor,
    flip_index: Sequence[int] | torch.Tensor | None = None,
    shift_heatmap: bool = True,
) -> torch.Tensor:
    """Heatmaps (B, K, h, w) of crops (B, 3, H, W); with ``flip_index`` (K,), the flip test:
    the mirrored crops' heatmaps are flipped back, their joints swapped with
    ``flip_index``, shifted one pixel right (the official ``shift_heatmap``) and averaged
    in."""
    heatmaps = model(images)
    if flip_index is not None:
        index = torch.as_tensor(flip_index, device=heatmaps.device)
        flipped = model(images.flip(3)).flip(3)[:, index]
        if shift_heatmap:
            flipped = torch.cat([flipped[..., :1], flipped[..., :-1]], dim=3)
        heatmaps = (heatmaps + flipped) * 0.5
    return heatmaps


def heatmaps_to_keypoints(
    heatmaps: torch.Tensor, centers: torch.Tensor, scales: torch.Tensor, dark: bool = False
) -> torch.Tensor:
    """Heatmaps (B, K, h, w) of crops of (center, scale) (B, 2) -> keypoints (B, K, 3)
    [x, y, score] in image pixels: argmax with the quarter-pixel step (``dark``: DARK),
    then the official inverse crop transform."""
    hm = heatmaps.float().cpu().numpy()
    coords, scores = decode_heatmaps(hm, dark=dark)
    hm_size = (hm.shape[3], hm.shape[2])
    c, s = centers.cpu().numpy(), scales.cpu().numpy()
    xy = np.stack([heatmap_to_image(coords[i], c[i], s[i], hm_size) for i in range(len(c))])
    return torch.from_numpy(np.concatenate([xy, scores[..., None]], axis=2))


def crop_for_inference(
    image: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: Sequence[int]
) -> np.ndarray:
    """The test-time crop: (H, W, 3) uint8 RGB -> (3, h, w) normalised, ``input_size`` (h, w)."""
    h, w = input_size
    matrix = get_affine_transform(center, scale, 0.0, (w, h))
    return normalize_image(cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR))


def boxes_to_centers_scales(
    boxes_xywh: np.ndarray, input_size: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) [x, y, w, h] -> centers (N, 2), scales (N, 2) for an (H, W) input."""
    aspect = input_size[1] / input_size[0]
    pairs = [box_to_center_scale(b, aspect) for b in boxes_xywh]
    if not pairs:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


@torch.no_grad()
def predict_people(
    model: HeatmapModel,
    image: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    input_size: Sequence[int],
    *,
    num_joints: int,
    flip_index: Sequence[int] | torch.Tensor | None = None,
    shift_heatmap: bool = True,
    dark: bool = False,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Keypoints (N, K, 3) [x, y, score] in image pixels for N people of ``image``
    (H, W, 3) uint8 RGB, given as centers/scales (N, 2), cropped at ``input_size`` (H, W)."""
    if len(centers) == 0:
        return np.zeros((0, num_joints, 3), np.float32)
    crops = np.stack([crop_for_inference(image, c, s, input_size) for c, s in zip(centers, scales)])
    heatmaps = predict_heatmaps(
        model, torch.from_numpy(crops).to(device), flip_index, shift_heatmap
    )
    keypoints = heatmaps_to_keypoints(
        heatmaps, torch.as_tensor(centers), torch.as_tensor(scales), dark
    )
    return keypoints.numpy()
