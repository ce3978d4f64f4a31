"""Public constructors: ``create_backbone``, ``create_pose_model`` and
``create_segmentation_model``."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

from .backbone import LiteHRNet
from .checkpoint import load_checkpoint
from .heads import DEFAULT_HEAD_CHANNELS, PoseModel, SegmentationModel
from .registry import model_entrypoint


def create_backbone(
    name: str,
    *,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    checkpoint_path: str | PathLike[str] | None = None,
    **spec_overrides: Any,
) -> LiteHRNet:
    """Build a registered backbone, e.g. ``create_backbone("lite_hrnet_18", width=0.5)``.

    ``spec_overrides`` replace fields of the variant's ``LiteHRNetSpec``. With
    ``features_only`` the model returns the branch maps picked by ``out_indices``.
    ``checkpoint_path`` loads weights through ``load_checkpoint`` (an official pose
    checkpoint gives its backbone part).
    """
    model = model_entrypoint(name)(
        features_only=features_only, out_indices=out_indices, **spec_overrides
    )
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model


def create_pose_model(
    name: str,
    num_joints: int = 17,
    checkpoint_path: str | PathLike[str] | None = None,
    **spec_overrides: Any,
) -> PoseModel:
    """Backbone + 1x1 heatmap head: (B, 3, H, W) -> (B, num_joints, H/4, W/4)."""
    model = PoseModel(create_backbone(name, **spec_overrides), num_joints=num_joints)
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model


def create_segmentation_model(
    name: str,
    num_classes: int = 19,
    *,
    head_channels: int = DEFAULT_HEAD_CHANNELS,
    backbone_checkpoint: str | PathLike[str] | None = None,
    checkpoint_path: str | PathLike[str] | None = None,
    **spec_overrides: Any,
) -> SegmentationModel:
    """Lite-HRNet segmentation model: (B, 3, H, W) -> logits (B, num_classes, H/4, W/4).

    ``backbone_checkpoint`` initialises the backbone alone (e.g. an official pose file);
    ``checkpoint_path`` loads a whole segmentation model (ours, or a Lightning ``.ckpt``).
    ``spec_overrides`` replace fields of the variant's ``LiteHRNetSpec`` (width, depth, ...).
    """
    backbone = create_backbone(
        name, features_only=True, checkpoint_path=backbone_checkpoint, **spec_overrides
    )
    model = SegmentationModel(backbone, num_classes, head_channels)
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model
