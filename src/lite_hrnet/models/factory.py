"""Public constructors: ``create_backbone``, ``create_pose_model`` and
``create_segmentation_model``."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

from .backbone import LiteHRNet
from .checkpoint import head_joints, load_checkpoint
from .heads import DEFAULT_HEAD_CHANNELS, PoseModel, SegmentationModel
from .hub import check_fits, download_pretrained, pretrained_weights
from .registry import model_entrypoint, variant_info

# Every factory takes the variant name, then keyword arguments only: ``checkpoint_path``
# loads the whole model through ``load_checkpoint``; ``pretrained`` (a tag such as
# "coco_256x192", or True for the variant's default) downloads published weights
# (``hub.py``) and loads them the same way; the task models also take
# ``backbone_checkpoint``, which initialises the backbone alone; the rest replace fields of
# the variant's ``LiteHRNetSpec`` (width, num_modules, ...).

PathArg = str | PathLike[str] | None
PretrainedArg = str | bool | None


def _weights_file(
    name: str, checkpoint_path: PathArg, pretrained: PretrainedArg, check_hash: bool | None
) -> PathArg:
    """``checkpoint_path``, or the downloaded file of the tag ``pretrained``."""
    if pretrained is None or pretrained is False:
        return checkpoint_path
    if checkpoint_path is not None:
        raise ValueError("pass checkpoint_path or pretrained, not both")
    return download_pretrained(name, pretrained, check_hash=check_hash)


def create_backbone(
    name: str,
    *,
    checkpoint_path: PathArg = None,
    pretrained: PretrainedArg = None,
    check_hash: bool | None = None,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    **spec_overrides: Any,
) -> LiteHRNet:
    """A registered backbone, e.g. ``create_backbone("lite_hrnet_18", width=0.5)``.

    With ``features_only`` the model returns the branch maps picked by ``out_indices``.
    ``checkpoint_path`` may be a backbone or a whole pose checkpoint (official or ours),
    ``pretrained`` a published tag (``lite_hrnet.list_pretrained()``): the backbone part
    is loaded.
    """
    model = model_entrypoint(name)(
        features_only=features_only, out_indices=out_indices, **spec_overrides
    )
    checkpoint_path = _weights_file(name, checkpoint_path, pretrained, check_hash)
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model


def create_pose_model(
    name: str,
    num_joints: int | None = None,
    *,
    checkpoint_path: PathArg = None,
    pretrained: PretrainedArg = None,
    check_hash: bool | None = None,
    backbone_checkpoint: PathArg = None,
    **spec_overrides: Any,
) -> PoseModel:
    """Backbone + 1x1 heatmap head: (B, 3, H, W) -> heatmaps (B, num_joints, H/4, W/4).

    ``num_joints`` defaults to the head of ``pretrained`` (e.g. MPII's joints for
    "mpii_256x256") or of ``checkpoint_path``, else to the variant's default head
    (``variant_info(name).num_joints``); a tag whose joint count differs from the one
    asked for raises a ValueError.
    """
    if pretrained is not None and pretrained is not False:
        weights = pretrained_weights(name, pretrained)
        check_fits(name, weights, num_joints=num_joints)
        num_joints = weights.num_joints
    if num_joints is None and checkpoint_path is not None:
        num_joints = head_joints(checkpoint_path)
    if num_joints is None:
        num_joints = variant_info(name).num_joints
    checkpoint_path = _weights_file(name, checkpoint_path, pretrained, check_hash)
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
    pretrained: PretrainedArg = None,
    check_hash: bool | None = None,
    head_channels: int = DEFAULT_HEAD_CHANNELS,
    **spec_overrides: Any,
) -> SegmentationModel:
    """Backbone branches + HRNet segmentation head: (B, 3, H, W) -> logits
    (B, num_classes, H/4, W/4). ``backbone_checkpoint`` may be an official pose file, and
    ``pretrained`` a published pose tag: both initialise the backbone alone."""
    backbone = create_backbone(
        name,
        features_only=True,
        checkpoint_path=backbone_checkpoint,
        pretrained=pretrained,
        check_hash=check_hash,
        **spec_overrides,
    )
    model = SegmentationModel(backbone, num_classes, head_channels)
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model
