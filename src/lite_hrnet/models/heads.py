"""Task heads on top of the backbone and the models they make.

Pose: the official 1x1 heatmap head (``HeatmapHead``) and the top-down ``PoseModel``.
Segmentation: the official Lite-HRNet never released its segmentation code; the paper
follows HRNet's segmentation practice: upsample every branch to stride 4, concatenate, a
1x1 conv-BN-ReLU, then a 1x1 conv to the classes (``SegmentationHead``,
``SegmentationModel``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import LiteHRNet


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

    def __init__(self, backbone: LiteHRNet, num_joints: int) -> None:
        super().__init__()
        if num_joints < 1:
            raise ValueError(f"num_joints: must be >= 1, got {num_joints}")
        self.backbone = backbone
        self.keypoint_head = HeatmapHead(backbone.num_features, num_joints)
        self.num_joints = num_joints

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.keypoint_head(self.backbone(images))


# HRNet uses as many hidden channels as the concatenation (600 here, +360k parameters). The
# paper's rounded counts (1.1M for Lite-HRNet-18, 1.8M for -30) admit 104 to 155 hidden
# channels; 128 is the round number in that range.
DEFAULT_HEAD_CHANNELS = 128


class SegmentationHead(nn.Module):
    """Branch maps [(B, C_b, H/2**(b+2), W/2**(b+2))] -> class logits (B, K, H/4, W/4).

    Lower-resolution branches are upsampled bilinearly (``align_corners=False``) to the
    first branch's size; the concatenation goes through ``conv`` (1x1 conv-BN-ReLU) and
    ``classifier`` (1x1 conv with bias).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        channels: int = DEFAULT_HEAD_CHANNELS,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes: must be >= 1, got {num_classes}")
        if channels < 1:
            raise ValueError(f"channels: must be >= 1, got {channels}")
        self.in_channels = tuple(in_channels)
        self.num_classes = num_classes
        self.conv = nn.Sequential(
            nn.Conv2d(sum(self.in_channels), channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Conv2d(channels, num_classes, kernel_size=1)
        # HRNet's initialisation, as the backbone's: conv weights N(0, 0.001), biases 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(features) != len(self.in_channels):
            raise ValueError(f"expected {len(self.in_channels)} feature maps, got {len(features)}")
        size = features[0].shape[-2:]
        upsampled = [features[0]] + [
            F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in features[1:]
        ]
        return self.classifier(self.conv(torch.cat(upsampled, dim=1)))


class SegmentationModel(nn.Module):
    """Backbone (``features_only``, all branches) + ``SegmentationHead``.

    ``forward``: images (B, 3, H, W) -> logits (B, K, H/4, W/4). Callers upsample the logits
    to the label size (``lite_hrnet.inference.segmentation`` does it for inference).
    """

    output_stride = 4

    def __init__(
        self,
        backbone: LiteHRNet,
        num_classes: int,
        head_channels: int = DEFAULT_HEAD_CHANNELS,
    ) -> None:
        super().__init__()
        if not isinstance(backbone, LiteHRNet) or not hasattr(backbone, "out_indices"):
            raise ValueError("backbone: expected create_backbone(..., features_only=True)")
        self.backbone = backbone
        self.decode_head = SegmentationHead(
            backbone.feature_info.channels(), num_classes, head_channels
        )
        self.num_classes = num_classes

    @property
    def input_multiple(self) -> int:
        """H and W of the input must be multiples of this (32 for three stages)."""
        return self.backbone.input_multiple

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode_head(self.backbone(images))
