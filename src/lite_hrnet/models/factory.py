"""Public constructors: ``create_backbone``, ``create_pose_model`` and
``create_segmentation_model``."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any

from .backbone import LiteHRNet
from .checkpoint import head_joints, load_checkpoint, read_state_dict
from .head_transfer import checkpoint_joint_names, joint_names_of, transfer_head_rows
from .heads import DEFAULT_HEAD_CHANNELS, PoseModel, SegmentationModel
from .hub import download_pretrained, pretrained_weights, weights_source_file
from .registry import model_entrypoint, variant_info

# Every factory takes the variant name, then keyword arguments only: ``checkpoint_path``
# loads the whole model through ``load_checkpoint``; ``pretrained`` (a tag such as
# "coco_256x192", or True for the variant's default) downloads published weights
# (``hub.py``) and loads them the same way (a pose model for other joints keeps the
# backbone and the head rows of the joints it shares, ``head_transfer.py``); the task models
# also take ``backbone_checkpoint``, which initialises the backbone (and, for pose, the head
# rows of shared joints); the rest replace fields of the variant's ``LiteHRNetSpec``
# (width, num_modules, ...). ``pretrained`` may also name a saved folder on a hub,
# "hf-hub:org/name" (``lite_hrnet.sharing``): its weights file loads as ``checkpoint_path``.

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
    return weights_source_file(pretrained) or download_pretrained(
        name, pretrained, check_hash=check_hash
    )


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
    keypoint_set: Any = None,
    checkpoint_path: PathArg = None,
    pretrained: PretrainedArg = None,
    check_hash: bool | None = None,
    backbone_checkpoint: PathArg = None,
    **spec_overrides: Any,
) -> PoseModel:
    """Backbone + 1x1 heatmap head: (B, 3, H, W) -> heatmaps (B, K, H/4, W/4).

    The joints: ``keypoint_set`` (an object with ``joint_names``, e.g.
    ``lite_hrnet.KeypointSet``, or a sequence of names) or ``num_joints`` (unnamed);
    without either, the head of ``pretrained`` or ``checkpoint_path``, else the variant's
    default head (``variant_info(name).num_joints``).

    Fine-tuning, timm style: with ``pretrained`` (a tag) whose head has other joints, the
    backbone loads and the head is re-initialised, keeping the rows of the joints whose
    names the tag's head shares (one log line says which). ``backbone_checkpoint`` (any
    file ``load_checkpoint`` reads) does the same from a file, keeping the rows of the
    joints its head names (our checkpoints and mmpose 1.x files name them).
    ``checkpoint_path`` loads the whole model: its head must fit, unless ``keypoint_set``
    names other joints, which fine-tunes from it as ``backbone_checkpoint`` does.
    """
    names = joint_names_of(keypoint_set)
    hub_file = weights_source_file(pretrained)
    if hub_file is not None:  # a saved pose model: as checkpoint_path, fine-tunes the same
        if checkpoint_path is not None or backbone_checkpoint is not None:
            raise ValueError("pass one of checkpoint_path, backbone_checkpoint, pretrained")
        checkpoint_path, pretrained = hub_file, None
    if names is not None:
        if num_joints is not None and num_joints != len(names):
            raise ValueError(
                f"num_joints={num_joints} but keypoint_set has {len(names)} joints; give one"
            )
        num_joints = len(names)
    given = [k for k, v in (("checkpoint_path", checkpoint_path),
             ("backbone_checkpoint", backbone_checkpoint),
             ("pretrained", pretrained)) if v is not None and v is not False]  # fmt: skip
    if len(given) > 1:
        raise ValueError(f"pass one of checkpoint_path, backbone_checkpoint, pretrained: {given}")
    source_names: tuple[str, ...] | None = None
    source = ""
    if given == ["pretrained"]:
        weights = pretrained_weights(name, pretrained)
        source, source_names = f"{name}.{weights.tag}", weights.joint_names
        if num_joints is None:
            num_joints, names = weights.num_joints, weights.joint_names
        path = download_pretrained(name, pretrained, check_hash=check_hash)
        if _head_fits(num_joints, names, weights.num_joints, source_names):
            checkpoint_path = path
        else:
            backbone_checkpoint = path
    elif given == ["checkpoint_path"]:
        file_joints = head_joints(checkpoint_path)
        num_joints = file_joints if num_joints is None else num_joints
        if names is not None and file_joints is not None:
            source_names = checkpoint_joint_names(checkpoint_path)
            if not _head_fits(num_joints, names, file_joints, source_names):
                checkpoint_path, backbone_checkpoint = None, checkpoint_path
    elif given == ["backbone_checkpoint"]:
        source_names = checkpoint_joint_names(backbone_checkpoint)
    if num_joints is None:
        num_joints = variant_info(name).num_joints
    backbone = create_backbone(name, checkpoint_path=backbone_checkpoint, **spec_overrides)
    model = PoseModel(backbone, num_joints=num_joints)
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    elif backbone_checkpoint is not None:
        source = source or str(backbone_checkpoint)
        transfer_head_rows(model, backbone_checkpoint, source_names, names, source)
    return model


def _head_fits(
    num_joints: int,
    names: Sequence[str] | None,
    file_joints: int,
    file_names: Sequence[str] | None,
) -> bool:
    """Whether a file's head serves these joints as it is: as many, and the same names
    where both sides name them."""
    if num_joints != file_joints:
        return False
    return names is None or file_names is None or tuple(names) == tuple(file_names)


def create_segmentation_model(
    name: str,
    num_classes: int | None = None,
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
    ``pretrained`` a published pose tag: both initialise the backbone alone.
    ``num_classes`` None: the variant's default head (the paper's Cityscapes classes).
    ``pretrained="hf-hub:org/name"``: a saved segmentation model loads whole (as
    ``checkpoint_path``), a saved pose model or backbone initialises the backbone."""
    hub_file = weights_source_file(pretrained)
    if hub_file is not None:
        if checkpoint_path is not None or backbone_checkpoint is not None:
            raise ValueError("pass one of checkpoint_path, backbone_checkpoint, pretrained")
        classifier = [
            v for k, v in read_state_dict(hub_file).items() if k.endswith("classifier.weight")
        ]
        if classifier:
            checkpoint_path = hub_file
            num_classes = int(classifier[0].shape[0]) if num_classes is None else num_classes
        else:
            backbone_checkpoint = hub_file
        pretrained = None
    if num_classes is None:
        num_classes = variant_info(name).num_classes
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
