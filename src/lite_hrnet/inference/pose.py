"""Top-down pose inference with any heatmap model (images (B, 3, H, W) -> heatmaps
(B, K, H/4, W/4)): crops of whole images, the flip test, decoding, keypoints in image
pixels. No Lightning and no DataModule: ``model`` is a plain ``nn.Module`` (or callable)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..codecs.crops import crop_for_inference
from ..codecs.heatmap_codec import HeatmapCodec

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
    heatmaps: torch.Tensor, centers: torch.Tensor, scales: torch.Tensor, codec: HeatmapCodec
) -> torch.Tensor:
    """Heatmaps (B, K, h, w) of crops of (center, scale) (B, 2) -> keypoints (B, K, 3)
    [x, y, score] in image pixels, decoded by ``codec`` (argmax with the quarter-pixel
    step, or DARK), then the official inverse crop transform."""
    hm = heatmaps.float().cpu().numpy()
    keypoints = codec.decode_to_image(hm, centers.cpu().numpy(), scales.cpu().numpy())
    return torch.from_numpy(keypoints)


@torch.no_grad()
def predict_people(
    model: HeatmapModel,
    image: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    codec: HeatmapCodec,
    *,
    num_joints: int,
    flip_index: Sequence[int] | torch.Tensor | None = None,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Keypoints (N, K, 3) [x, y, score] in image pixels for N people of ``image``
    (H, W, 3) uint8 RGB, given as centers/scales (N, 2), cropped at the codec's input size
    and decoded by it; the flip test (with ``flip_index`` (K,)) when the codec asks for it
    and a flip index is known."""
    if len(centers) == 0:
        return np.zeros((0, num_joints, 3), np.float32)
    size = codec.input_hw
    crops = np.stack([crop_for_inference(image, c, s, size) for c, s in zip(centers, scales)])
    flip = flip_index if codec.flip_test else None
    heatmaps = predict_heatmaps(
        model, torch.from_numpy(crops).to(device), flip, codec.shift_heatmap
    )
    keypoints = heatmaps_to_keypoints(
        heatmaps, torch.as_tensor(centers), torch.as_tensor(scales), codec
    )
    return keypoints.numpy()
