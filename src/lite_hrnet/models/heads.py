"""Task heads on top of the backbone: the 1x1 heatmap head and the top-down pose model."""

from __future__ import annotations

import torch
from torch import nn

from .lite_hrnet import LiteHRNet


class HeatmapHead(nn.Module):
    """The official Lite-HRNet pose head: one 1x1 conv, (B, C, h, w) -> (B, K, h, w).

    No deconvolutions (``num_deconv_layers=0``); ``final_layer`` keeps the official name.
    """

    def __init__(self, in_channels: int, num_joints: int) -> None:
        super().__init__()
        self.final_layer = nn.Conv2d(in_channels, num_joints, kernel_size=1)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(x)


class PoseModel(nn.Module):
    """Top-down pose estimator: images (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).

    Attribute names (``backbone``, ``keypoint_head``) match the official checkpoints.
    """

    def __init__(self, backbone: LiteHRNet, num_joints: int = 17) -> None:
        super().__init__()
        if num_joints < 1:
            raise ValueError(f"num_joints: must be >= 1, got {num_joints}")
        self.backbone = backbone
        self.keypoint_head = HeatmapHead(backbone.num_features, num_joints)
        self.num_joints = num_joints

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.keypoint_head(self.backbone(images))
