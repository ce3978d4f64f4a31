"""Public constructors: ``create_backbone`` and ``create_pose_model``."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

from .checkpoint import load_checkpoint
from .heads import PoseModel
from .lite_hrnet import LiteHRNet
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
