"""Our task checkpoints read one way, for the task modules and the inference classes alike.

``read_task_checkpoint`` reads a Lightning ``.ckpt`` of ours (its hyperparameters, brought
up to date, and its data module's) or a plain, official or mmpose state dict (its variant
matched by the registry, its head read off the tensors). What a file says then becomes
settings here: the keypoint set and the ``HeatmapCodec`` of a pose checkpoint, the
``ClassTable`` of a segmentation one. Files are read with ``weights_only=True``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..checks import check
from ..codecs.heatmap_codec import DECODING_OPTIONS, HeatmapCodec, recipe_codec
from ..meta.cityscapes import CLASS_TABLE as CITYSCAPES_CLASSES
from ..meta.class_table import ClassTable
from ..meta.keypoints import COCO, KEYPOINT_SETS, KeypointSet
from ..models.checkpoint import (
    CheckpointError,
    guess_variant,
    match_variant,
    read_checkpoint_file,
    read_state_dict,
)
from ..models.heads import DEFAULT_HEAD_CHANNELS

POSE = "pose"
SEGMENTATION = "segmentation"
DEFAULT_IGNORE_INDEX = 255


# Pose -----------------------------------------------------------------------------------
def keypoint_set_from(value: str | KeypointSet | Mapping[str, Any]) -> KeypointSet:
    """A ``KeypointSet`` from itself, its ``to_dict()`` form, or a preset's name."""
    if isinstance(value, KeypointSet):
        return value
    if isinstance(value, str):
        check(value in KEYPOINT_SETS, "keypoint_set",
              f"expected one of {sorted(KEYPOINT_SETS)} or a keypoint set's dict, "
              f"got {value!r}")  # fmt: skip
        return KEYPOINT_SETS[value]
    return KeypointSet.from_dict(value)


def keypoint_set_for_joints(num_joints: int) -> KeypointSet:
    """The keypoint set of a head that names nothing: the preset with ``num_joints``
    joints, else as many unnamed joints (no flip pairs, so no flip test)."""
    preset = next((s for s in KEYPOINT_SETS.values() if s.num_joints == num_joints), None)
    if preset is not None:
        return preset
    return KeypointSet(f"{num_joints} joints", [str(i) for i in range(num_joints)], named=False)


def pose_options_from_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """What a plain pose state dict says besides its variant: its head's keypoint set."""
    heads = [v.shape[0] for k, v in state.items() if k.endswith("final_layer.weight")]
    return {"keypoint_set": keypoint_set_for_joints(heads[0])} if heads else {}


def upgrade_pose_hparams(
    hparams: dict[str, Any], datamodule_hparams: Mapping[str, Any]
) -> dict[str, Any]:
    """Pose hyperparameters written before the codec was stored: their codec from the
    run's data settings (``datamodule_hparams``) and the task's decoding options."""
    if hparams.get("codec") is not None:
        return hparams
    name = keypoint_set_from(hparams.get("keypoint_set", COCO.name)).name
    decoding = {k: hparams[k] for k in DECODING_OPTIONS if k in hparams}
    if datamodule_hparams.get("input_size") is None:
        codec = recipe_codec(name, **decoding)
    else:
        codec = HeatmapCodec.from_input_hw(
            datamodule_hparams["input_size"],
            datamodule_hparams.get("heatmap_size"),
            datamodule_hparams.get("sigma"),
            **decoding,
        )
    return {**hparams, "codec": codec.to_dict()}


# Segmentation ---------------------------------------------------------------------------
def segmentation_options_from_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """What a plain segmentation state dict says: its classes and head width."""
    classifier = [v for k, v in state.items() if k.endswith("decode_head.classifier.weight")]
    hidden = [v for k, v in state.items() if k.endswith("decode_head.conv.0.weight")]
    options = {}
    if classifier:
        options["num_classes"] = classifier[0].shape[0]
    if hidden:
        options["head_channels"] = hidden[0].shape[0]
    return options


def class_table_from(
    num_classes: int | None,
    names: Sequence[str] | None = None,
    palette: Sequence[Sequence[int]] | None = None,
    ignore_index: int = DEFAULT_IGNORE_INDEX,
    label_ids: Sequence[int] | None = None,
) -> ClassTable:
    """The class table of a segmentation head: Cityscapes' without names for 19 (or an
    unknown number of) classes, else ``class_0``, ``class_1``, ... unless ``names`` are
    given (the ``SegmentationModule`` arguments of the same names)."""
    cityscapes = CITYSCAPES_CLASSES
    if names is None and num_classes in (None, cityscapes.num_classes) and palette is None:
        return cityscapes  # the default, and checkpoints of before class tables
    if names is None:
        if num_classes is None:
            raise ValueError("class_names or num_classes: the classes of the head")
        names = [f"class_{i}" for i in range(num_classes)]
    check(num_classes in (None, len(names)), "class_names",
          f"{len(names)} names for {num_classes} classes")  # fmt: skip
    if list(names) == list(cityscapes.names) and palette is None and label_ids is None:
        return cityscapes
    return ClassTable.build(names, palette, ignore_index, label_ids, field="class_names")


def class_table_options(table: ClassTable) -> dict[str, Any]:
    """``SegmentationModule``'s class-table arguments (hyperparameters of checkpoints)."""
    values = table.as_dict()
    # Not "palette": Lightning refuses a hyperparameter that the data module's config also
    # has with another value (the data's palette may be unset).
    return {"class_names": values.pop("names"), "class_palette": values.pop("palette"), **values}


# Reading --------------------------------------------------------------------------------
_PLAIN_OPTIONS = {
    POSE: pose_options_from_state_dict,
    SEGMENTATION: segmentation_options_from_state_dict,
}


@dataclass(frozen=True)
class TaskCheckpoint:
    """What a checkpoint file says about the model in it.

    ``hparams`` are the task module's arguments of one of our Lightning checkpoints,
    brought up to date (None for a plain state dict); ``options`` what a plain state dict's
    head says (pose: ``keypoint_set``; segmentation: ``num_classes``, ``head_channels``);
    ``datamodule_hparams`` the data settings of the run that wrote it.
    """

    path: Path
    task: str
    variant: str
    hparams: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    datamodule_hparams: dict[str, Any] = field(default_factory=dict)

    @property
    def backbone_overrides(self) -> dict[str, Any]:
        """The ``LiteHRNetSpec`` fields the run replaced (width, num_modules, ...)."""
        return dict((self.hparams or {}).get("backbone_overrides") or {})

    # Pose
    def keypoint_set(self) -> KeypointSet:
        """The joints of a pose checkpoint (COCO's for a file that says nothing)."""
        if self.hparams is not None:
            return keypoint_set_from(self.hparams.get("keypoint_set", COCO.name))
        return self.options.get("keypoint_set", COCO)

    def codec(self) -> HeatmapCodec:
        """The codec a pose checkpoint was trained and decodes with; for a plain state
        dict the recipe's of its keypoint set, with the default decoding."""
        if self.hparams is None:
            return recipe_codec(self.keypoint_set().name)
        decoding = {k: self.hparams[k] for k in DECODING_OPTIONS if k in self.hparams}
        return HeatmapCodec.from_dict(self.hparams["codec"]).replace(**decoding)

    # Segmentation
    def class_table(self, num_classes: int | None = None) -> ClassTable:
        """The classes of a segmentation checkpoint (``num_classes`` replacing its count)."""
        values = self.hparams if self.hparams is not None else self.options
        return class_table_from(
            num_classes or values.get("num_classes"),
            values.get("class_names"),
            values.get("class_palette"),
            values.get("ignore_index", DEFAULT_IGNORE_INDEX),
            values.get("label_ids"),
        )

    def head_channels(self) -> int:
        """The width of a segmentation checkpoint's head."""
        values = self.hparams if self.hparams is not None else self.options
        return int(values.get("head_channels") or DEFAULT_HEAD_CHANNELS)


def read_task_checkpoint(
    path: str | os.PathLike[str], task: str, backbone: str | None = None
) -> TaskCheckpoint:
    """Read a ``task`` ("pose" or "segmentation") checkpoint: one of ours (a ``CheckpointError``
    when it is of the other task) or a plain, official or mmpose state dict, whose variant
    is the registered one its tensors fit unless ``backbone`` names it."""
    path = Path(path)
    obj = read_checkpoint_file(path)
    hparams = obj.get("hyper_parameters") if isinstance(obj, dict) else None
    data = dict(obj.get("datamodule_hyper_parameters") or {}) if isinstance(obj, dict) else {}
    if isinstance(hparams, dict) and "backbone" in hparams:
        found = hparams.get("name", task)
        if found != task:
            raise CheckpointError(f"{path}: a {found} checkpoint, not a {task} one")
        hparams = dict(hparams)
        if task == POSE:
            hparams = upgrade_pose_hparams(hparams, data)
        variant = backbone or hparams["backbone"]
        return TaskCheckpoint(path, task, variant, hparams, datamodule_hparams=data)
    state = read_state_dict(path)
    variant = backbone or match_variant(state)
    if variant is None:
        raise CheckpointError(
            f"{path}: cannot tell the variant ({guess_variant(state)}); pass "
            "--model NAME (in Python: model=NAME, or backbone=NAME to from_checkpoint)"
        )
    return TaskCheckpoint(path, task, variant, None, _PLAIN_OPTIONS[task](state), data)
