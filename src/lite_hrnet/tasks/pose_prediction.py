"""Lightning's predict loop for top-down pose over many images: ``PosePredictionModule``
runs any heatmap network on the batches of ``PredictionCrops`` (crops made in DataLoader
workers), with the flip test and decoding of its codec. Under DDP each rank predicts its
share of the images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch

from ..codecs.heatmap_codec import HeatmapCodec
from ..inference.estimator import PoseEstimator
from ..inference.pose import heatmaps_to_keypoints, predict_heatmaps


class PosePredictionModule(L.LightningModule):
    """``network`` (crops (B, 3, H, W) -> heatmaps (B, K, H/4, W/4): a module, or a
    callable such as an ONNX Runtime session's wrapper) with the decoding of ``codec``; the
    flip test when the codec asks for it and ``flip_index`` (K,) is given."""

    def __init__(
        self,
        network: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
        codec: HeatmapCodec,
        num_joints: int,
        flip_index: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.network, self.codec, self.num_joints = network, codec, num_joints
        self.flip_index = list(flip_index) if flip_index is not None else None

    @classmethod
    def for_estimator(cls, estimator: PoseEstimator) -> PosePredictionModule:
        """The network, codec and flip index of a ``PoseEstimator``, as it predicts."""
        flip = estimator.flip_index
        return cls(
            estimator.network,
            estimator.codec,
            num_joints=estimator.keypoint_set.num_joints,
            flip_index=None if flip is None else [int(i) for i in flip],
        )

    @torch.no_grad()
    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        """Per readable image of the batch: its index, boxes (N, 4) and keypoints (N, K, 3)
        [x, y, score] in image pixels; and the batch's unreadable images' errors."""
        crops = batch["crops"]
        keypoints = np.zeros((0, self.num_joints, 3), np.float32)
        if len(crops):
            flip = self.flip_index if self.codec.flip_test else None
            heatmaps = predict_heatmaps(
                self.network, crops.to(self.device), flip, self.codec.shift_heatmap
            )
            keypoints = heatmaps_to_keypoints(
                heatmaps, batch["centers"], batch["scales"], self.codec
            ).numpy()
        image_of = batch["image_of"].numpy()
        return {
            "indices": batch["indices"],
            "boxes": [b.numpy() for b in batch["boxes"]],
            "keypoints": [keypoints[image_of == i] for i in range(len(batch["indices"]))],
            "errors": batch["errors"],
        }
