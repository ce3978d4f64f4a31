"""A model as a folder: ``config.json`` (what to build and how to use it) beside
``model.safetensors`` (the weights), the Hugging Face layout.

``config.json`` holds the architecture (a registered variant and the ``LiteHRNetSpec``
fields it changes), the task and its head, the data facts the weights were trained for
(pose: the ``KeypointSet`` and the ``HeatmapCodec``; segmentation: the ``ClassTable``),
the input normalisation (RGB in [0, 1], ``mean``/``std``) and, optionally, the training
run's config. Weights are read with safetensors, which stores raw tensors only: nothing
in the file is ever unpickled or run. A config that names an unknown variant or field,
and weights that do not fit it, raise a ``CheckpointError`` naming the file.

safetensors is imported when a folder is written or read (the ``hub`` extra).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from os import PathLike
from pathlib import Path
from typing import Any

from torch import nn

from ..meta.class_table import ClassTable
from ..meta.imagenet import IMAGENET_MEAN, IMAGENET_STD
from ..meta.keypoints import KeypointSet
from ..models.backbone import LiteHRNet
from ..models.checkpoint import CheckpointError, load_checkpoint
from ..models.factory import create_backbone, create_pose_model, create_segmentation_model
from ..models.heads import PoseModel, SegmentationModel
from ..models.registry import list_models, variant_info

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FOLDER_FORMAT = 1
LIBRARY_NAME = "lite-hrnet"
TASKS = ("pose", "segmentation", "backbone")
# Spec fields that are training settings or set by the task model, not architecture: never
# stored (``with_head``: a segmentation backbone drops the head itself).
_RUNTIME_FIELDS = ("with_cp", "norm_eval", "with_head")
_KEYS = {
    "library_name", "format", "architecture", "task", "num_joints", "keypoint_set", "codec",
    "num_classes", "head_channels", "class_table", "mean", "std", "training",
}  # fmt: skip
_REQUIRED = ("format", "architecture", "task")


def save_pretrained(
    model: nn.Module,
    folder: str | PathLike[str],
    *,
    keypoint_set: KeypointSet | Mapping[str, Any] | None = None,
    codec: Any = None,
    class_table: ClassTable | Mapping[str, Any] | None = None,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` (a ``PoseModel``, ``SegmentationModel`` or ``LiteHRNet`` backbone of a
    registered variant) into ``folder`` as ``config.json`` + ``model.safetensors``; returns
    the folder.

    Pose models may carry their ``keypoint_set`` (``KeypointSet`` or its ``to_dict``) and
    ``codec`` (``HeatmapCodec`` or its ``to_dict``), segmentation models their
    ``class_table`` (``ClassTable`` or its ``as_dict``); ``training`` is any JSON-able
    record of the run (its config). A keypoint set or class table of another size than the
    head raises a ValueError.
    """
    from safetensors.torch import save_file

    config = _config_of(model, keypoint_set, codec, class_table)
    config.update(mean=[float(v) for v in mean], std=[float(v) for v in std])
    if training is not None:
        config["training"] = json.loads(json.dumps(dict(training), default=str))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # safetensors refuses views that share memory; every tensor gets its own storage.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return folder


def _config_of(model: nn.Module, keypoint_set: Any, codec: Any, class_table: Any) -> dict[str, Any]:
    backbone = model if isinstance(model, LiteHRNet) else getattr(model, "backbone", None)
    if not isinstance(backbone, LiteHRNet) or backbone.variant is None:
        raise ValueError(
            "save_pretrained: a PoseModel, SegmentationModel or backbone of a registered "
            "variant (built by the factories; register_variant names a spec of one's own)"
        )
    default = variant_info(backbone.variant).spec
    overrides = {
        f.name: _plain(getattr(backbone.spec, f.name))
        for f in fields(backbone.spec)
        if f.name not in _RUNTIME_FIELDS
        and getattr(backbone.spec, f.name) != getattr(default, f.name)
    }
    architecture: dict[str, Any] = {"variant": backbone.variant, "spec_overrides": overrides}
    config: dict[str, Any] = {
        "library_name": LIBRARY_NAME,
        "format": FOLDER_FORMAT,
        "architecture": architecture,
    }
    if isinstance(model, PoseModel):
        config.update(task="pose", num_joints=model.num_joints)
        if keypoint_set is not None:
            keypoints = _keypoint_set(keypoint_set)
            if keypoints.num_joints != model.num_joints:
                raise ValueError(
                    f"keypoint_set {keypoints.name!r} has {keypoints.num_joints} joints, the "
                    f"model's head {model.num_joints}"
                )
            config["keypoint_set"] = keypoints.to_dict()
        if codec is not None:
            if isinstance(codec, Mapping):  # checked as loading will check it
                from ..codecs.heatmap_codec import HeatmapCodec

                codec = HeatmapCodec.from_dict(codec)
            config["codec"] = codec.to_dict()
    elif isinstance(model, SegmentationModel):
        head_channels = model.decode_head.conv[0].out_channels
        config.update(task="segmentation", num_classes=model.num_classes)
        config["head_channels"] = head_channels
        if class_table is not None:
            table = class_table if isinstance(class_table, ClassTable) else None
            table = table or ClassTable.from_dict(class_table)
            if table.num_classes != model.num_classes:
                raise ValueError(
                    f"class_table has {table.num_classes} classes, the model's head "
                    f"{model.num_classes}"
                )
            config["class_table"] = table.as_dict()
    else:
        config["task"] = "backbone"
        if hasattr(model, "out_indices"):
            architecture["out_indices"] = list(model.out_indices)
    for name, value in (("keypoint_set", keypoint_set), ("codec", codec)):
        if value is not None and config["task"] != "pose":
            raise ValueError(f"{name}: for pose models only")
    if class_table is not None and config["task"] != "segmentation":
        raise ValueError("class_table: for segmentation models only")
    return config


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _keypoint_set(value: KeypointSet | Mapping[str, Any]) -> KeypointSet:
    return value if isinstance(value, KeypointSet) else KeypointSet.from_dict(value)


def read_config(path: str | PathLike[str]) -> dict[str, Any]:
    """``config.json`` of a saved folder, checked: its fields, its variant, its spec
    overrides, its keypoint set, codec and class table. A ``CheckpointError`` names the file
    and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {CONFIG_FILE} at {path}: not a saved lite-hrnet folder")
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: a JSON object expected, got {type(config).__name__}")
    unknown = sorted(set(config) - _KEYS)
    if unknown:
        raise CheckpointError(f"{path}: unknown fields {unknown}; known: {sorted(_KEYS)}")
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise CheckpointError(f"{path}: missing fields {missing}")
    if config["format"] != FOLDER_FORMAT:
        raise CheckpointError(
            f"{path}: folder format {config['format']!r}; this lite-hrnet reads {FOLDER_FORMAT}"
        )
    if config["task"] not in TASKS:
        raise CheckpointError(f"{path}: task {config['task']!r} is not one of {TASKS}")
    try:
        _check_parts(config)
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"{path}: {e}") from None
    return config


def _check_parts(config: dict[str, Any]) -> None:
    """Build every part once: an unknown variant, spec field or data field raises."""
    architecture = config["architecture"]
    if not isinstance(architecture, Mapping):
        raise ValueError("architecture: an object with variant and spec_overrides expected")
    unknown = sorted(set(architecture) - {"variant", "spec_overrides", "out_indices"})
    if unknown:
        raise ValueError(f"architecture: unknown fields {unknown}")
    variant = architecture.get("variant")
    if variant not in list_models():
        raise ValueError(
            f"architecture: unknown variant {variant!r}; registered: {', '.join(list_models())}"
            " (register_variant registers one of one's own)"
        )
    variant_info(variant).spec.replace(**dict(architecture.get("spec_overrides") or {}))
    if config.get("keypoint_set") is not None:
        keypoints = KeypointSet.from_dict(config["keypoint_set"])
        if keypoints.num_joints != config.get("num_joints"):
            raise ValueError(
                f"keypoint_set has {keypoints.num_joints} joints, num_joints is "
                f"{config.get('num_joints')}"
            )
    if config.get("codec") is not None:
        from ..codecs.heatmap_codec import HeatmapCodec

        HeatmapCodec.from_dict(config["codec"])
    if config.get("class_table") is not None:
        ClassTable.from_dict(config["class_table"])
    for key in ("mean", "std"):
        value = config.get(key)
        if value is not None and (len(value) != 3 or not all(float(v) > -1e9 for v in value)):
            raise ValueError(f"{key}: three numbers (R, G, B) expected, got {value!r}")


def read_safetensors(path: Path) -> dict[str, Any]:
    """A ``.safetensors`` file as ``load_checkpoint`` reads it: ``{"state_dict": tensors}``,
    plus the keypoint set of a ``config.json`` beside it (which joints the head's rows are,
    for fine-tuning onto other joints). safetensors never runs code from the file."""
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError as e:
        raise ImportError(
            f"{path}: reading .safetensors needs safetensors: pip install 'lite-hrnet[hub]'"
        ) from e
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    out: dict[str, Any] = {"state_dict": tensors}
    config_path = path.parent / CONFIG_FILE
    if config_path.is_file():
        try:
            keypoints = json.loads(config_path.read_text()).get("keypoint_set")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            keypoints = None  # read_config reports it when the folder is loaded
        if isinstance(keypoints, Mapping):
            out["hyper_parameters"] = {"keypoint_set": dict(keypoints)}
    return out


def load_pretrained_folder(source: str | PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a saved folder and its checked ``config.json`` (plain JSON values).

    ``source``: a local folder, or ``"hf-hub:org/name"`` (optionally ``@revision``),
    fetched into the Hugging Face cache by huggingface_hub (``HF_HUB_OFFLINE=1`` reads the
    cache only; ``HF_ENDPOINT`` and ``HF_TOKEN`` are honoured). The model is in eval mode.
    """
    from .hf_hub import HF_HUB_PREFIX, hub_folder

    text = str(source)
    folder = hub_folder(text[len(HF_HUB_PREFIX) :]) if text.startswith(HF_HUB_PREFIX) else None
    folder = folder or Path(source)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (a saved lite-hrnet model)")
    config = read_config(folder / CONFIG_FILE)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{folder}: has {CONFIG_FILE} but no {WEIGHTS_FILE}")
    model = _build(config)
    load_checkpoint(model, weights)
    return model.eval(), config


def from_pretrained(source: str | PathLike[str]) -> nn.Module:
    """The model of a saved folder or ``"hf-hub:org/name"``, in eval mode
    (``load_pretrained_folder`` also gives its config: keypoint set, codec, classes)."""
    return load_pretrained_folder(source)[0]


def _build(config: Mapping[str, Any]) -> nn.Module:
    architecture = config["architecture"]
    name = architecture["variant"]
    overrides = dict(architecture.get("spec_overrides") or {})
    if config["task"] == "pose":
        num_joints = config.get("num_joints")
        return create_pose_model(name, num_joints=num_joints, **overrides)
    if config["task"] == "segmentation":
        from ..models.heads import DEFAULT_HEAD_CHANNELS

        head = config.get("head_channels") or DEFAULT_HEAD_CHANNELS
        return create_segmentation_model(
            name, config.get("num_classes"), head_channels=head, **overrides
        )
    out_indices = architecture.get("out_indices")
    return create_backbone(
        name, features_only=out_indices is not None, out_indices=out_indices, **overrides
    )
