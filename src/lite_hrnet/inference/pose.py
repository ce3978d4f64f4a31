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
    (keypoints,) = predict_people_batched(
        model, [image], [centers], [scales], codec,
        num_joints=num_joints, flip_index=flip_index, device=device,
    )  # fmt: skip
    return keypoints


@torch.no_grad()
def predict_people_batched(
    model: HeatmapModel,
    images: Sequence[np.ndarray],
    centers: Sequence[np.ndarray],
    scales: Sequence[np.ndarray],
    codec: HeatmapCodec,
    *,
    num_joints: int,
    flip_index: Sequence[int] | torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    max_batch_size: int | None = None,
) -> list[np.ndarray]:
    """``predict_people`` for several images at once: per image, keypoints (N_i, K, 3)
    of its centers/scales (N_i, 2). The crops of all images go through the network
    together, in batches of at most ``max_batch_size`` (None: one batch)."""
    size = codec.input_hw
    crops = [
        crop_for_inference(image, c, s, size)
        for image, cs, ss in zip(images, centers, scales)
        for c, s in zip(cs, ss)
    ]
    counts = [len(c) for c in centers]
    if not crops:
        return [np.zeros((0, num_joints, 3), np.float32) for _ in counts]
    flip = flip_index if codec.flip_test else None
    step = max_batch_size or len(crops)
    heatmaps = torch.cat([
        predict_heatmaps(
            model, torch.from_numpy(np.stack(crops[i : i + step])).to(device), flip,
            codec.shift_heatmap,
        )
        for i in range(0, len(crops), step)
    ])  # fmt: skip
    all_centers = np.concatenate([np.asarray(c).reshape(-1, 2) for c in centers])
    all_scales = np.concatenate([np.asarray(s).reshape(-1, 2) for s in scales])
    keypoints = heatmaps_to_keypoints(
        heatmaps, torch.as_tensor(all_centers), torch.as_tensor(all_scales), codec
    ).numpy()
    return np.split(keypoints, np.cumsum(counts)[:-1])
