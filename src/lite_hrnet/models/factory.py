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

# Every factory takes the variant name, then keyword arguments only: ``checkpoint_path``
# loads the whole model through ``load_checkpoint``; the task models also take
# ``backbone_checkpoint``, which initialises the backbone alone; the rest replace fields of
# the variant's ``LiteHRNetSpec`` (width, num_modules, ...).

PathArg = str | PathLike[str] | None


def create_backbone(
    name: str,
    *,
    checkpoint_path: PathArg = None,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    **spec_overrides: Any,
) -> LiteHRNet:
    """A registered backbone, e.g. ``create_backbone("lite_hrnet_18", width=0.5)``.

    With ``features_only`` the model returns the branch maps picked by ``out_indices``.
    ``checkpoint_path`` may be a backbone or a whole pose checkpoint (official or ours):
    the backbone part is loaded.
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
    *,
    checkpoint_path: PathArg = None,
    backbone_checkpoint: PathArg = None,
    **spec_overrides: Any,
) -> PoseModel:
    """Backbone + 1x1 heatmap head: (B, 3, H, W) -> heatmaps (B, num_joints, H/4, W/4)."""
    backbone = create_backbone(name, checkpoint_path=backbone_checkpoint, **spec_overrides)
    model = PoseModel(backbone, num_joints=num_joints)
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model


def create_segmentation_model(
    name: str,
    num_classes: int = 19,
    *,
    checkpoint_path: PathArg = None,
    backbone_checkpoint: PathArg = None,
    head_channels: int = DEFAULT_HEAD_CHANNELS,
    **spec_overrides: Any,
) -> SegmentationModel:
    """Backbone branches + HRNet segmentation head: (B, 3, H, W) -> logits
    (B, num_classes, H/4, W/4). ``backbone_checkpoint`` may be an official pose file."""
    backbone = create_backbone(
        name, features_only=True, checkpoint_path=backbone_checkpoint, **spec_overrides
    )
    model = SegmentationModel(backbone, num_classes, head_channels)
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model
