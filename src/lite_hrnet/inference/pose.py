"""Top-down pose inference on whole images: boxes -> crops -> keypoints in image pixels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..codecs.geometry import box_to_center_scale
from ..data.images import read_rgb
from ..data.pose.transforms import crop_for_inference
from .drawing import draw_skeletons, save_rgb


@torch.no_grad()
def predict_people(
    module,
    image: np.ndarray,
    centers: np.ndarray,
    scales: np.ndarray,
    input_size: Sequence[int],
) -> np.ndarray:
    """Keypoints (N, K, 3) [x, y, score] for N people given as centers/scales (N, 2).

    ``module`` is a ``PoseEstimationModule``; ``image`` (H, W, 3) uint8 RGB; ``input_size``
    (H, W) is the network input the module was trained at.
    """
    if len(centers) == 0:
        return np.zeros((0, module.keypoints.num_joints, 3), np.float32)
    crops = np.stack([crop_for_inference(image, c, s, input_size) for c, s in zip(centers, scales)])
    device = next(module.parameters()).device
    keypoints = module.predict_keypoints(
        torch.from_numpy(crops).to(device), torch.as_tensor(centers), torch.as_tensor(scales)
    )
    return keypoints.numpy()


def boxes_to_centers_scales(
    boxes_xywh: np.ndarray, input_size: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) [x, y, w, h] -> centers (N, 2), scales (N, 2) for an (H, W) input."""
    aspect = input_size[1] / input_size[0]
    pairs = [box_to_center_scale(b, aspect) for b in boxes_xywh]
    if not pairs:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def draw_validation_predictions(module, datamodule, count: int) -> np.ndarray | None:
    """The first ``count`` validation images with the predicted skeletons (ground-truth
    boxes), side by side: (H, sum of W, 3) uint8 RGB, or None without images."""
    dataset = datamodule.datasets.get("val")
    if dataset is None or count <= 0:
        return None
    by_image: dict[str, list] = {}
    for inst in dataset.instances:
        by_image.setdefault(inst.image_path, []).append(inst)
    was_training = module.training
    module.eval()
    tiles = []
    for image_path, people in list(by_image.items())[:count]:
        image = read_rgb(image_path)
        centers = np.stack([p.center for p in people])
        scales = np.stack([p.scale for p in people])
        keypoints = predict_people(module, image, centers, scales, dataset.transform.cfg.input_size)
        tiles.append(draw_skeletons(image, keypoints, module.keypoints))
    module.train(was_training)
    if not tiles:
        return None
    height = min(t.shape[0] for t in tiles)
    return np.concatenate([t[:height] for t in tiles], axis=1)


def save_validation_predictions(module, datamodule, count: int, path: str | Path) -> Path | None:
    """``draw_validation_predictions`` saved as one PNG at ``path``."""
    grid = draw_validation_predictions(module, datamodule, count)
    if grid is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_rgb(str(path), grid)
    return path
