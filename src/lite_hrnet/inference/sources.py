"""What a model to predict with can come as, turned into a network and its settings.

A source is a published tag (``lite_hrnet_18.coco_256x192``, ``lite_hrnet.list_pretrained()``;
a short tag with the variant given), one of our Lightning ``.ckpt`` files, a plain,
official or mmpose ``.pth`` (its variant matched by the registry unless given), an
AOTInductor package ``.pt2`` (``deploy.package``), an ONNX file (run in ONNX Runtime), a
saved folder (``config.json`` + ``model.safetensors``, ``lite_hrnet.save_pretrained``) or
``"hf-hub:org/name"``, or a ``torch.nn.Module``. ``pose_source`` gives the network with
its keypoint set and ``HeatmapCodec``; ``segmentation_source`` the network with its
``ClassTable`` and test-time settings. What the source does not store comes from the
registry's recipe.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..codecs.heatmap_codec import HeatmapCodec, recipe_codec
from ..meta.class_table import ClassTable
from ..meta.keypoints import KeypointSet
from ..models.checkpoint import load_checkpoint
from ..models.factory import create_pose_model, create_segmentation_model
from ..models.hub import check_fits, download_pretrained, pretrained_weights
from ..models.registry import list_models
from ..models.variants import PretrainedWeights
from .checkpoints import (
    POSE,
    SEGMENTATION,
    TaskCheckpoint,
    class_table_from,
    keypoint_set_for_joints,
    keypoint_set_from,
    read_task_checkpoint,
)

Source = str | os.PathLike[str] | nn.Module
PACKAGE_SUFFIX = ".pt2"
ONNX_SUFFIX = ".onnx"
# An OpenVINO IR (export --format openvino): a runtime for onnx= (its .bin beside it).
OPENVINO_SUFFIX = ".xml"
# Suffixes that make a missing source a missing file rather than an unknown tag.
_FILE_SUFFIXES = (".ckpt", ".pth", ".pt", ".safetensors", PACKAGE_SUFFIX, ONNX_SUFFIX)


def _saved_folder(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is a saved folder or names one on the Hugging Face Hub."""
    from ..sharing import CONFIG_FILE, HF_HUB_PREFIX

    text = os.fspath(source)
    return text.startswith(HF_HUB_PREFIX) or (Path(text).expanduser() / CONFIG_FILE).is_file()


def _load_folder(source: str | os.PathLike[str], task: str) -> tuple[nn.Module, dict[str, Any]]:
    """The model and ``config.json`` of a saved folder, refused when of another task."""
    from ..models.checkpoint import CheckpointError
    from ..sharing import load_pretrained_folder

    network, config = load_pretrained_folder(source)
    if config["task"] != task:
        raise CheckpointError(f"{source}: a saved {config['task']} model, not a {task} one")
    return network, config


@dataclass
class PoseSource:
    """A pose network (crops (B, 3, H, W) -> heatmaps (B, K, H/4, W/4)) and what it needs.

    ``path`` is the file it was read from (the downloaded one for a tag); ``checkpoint``
    what a ``.ckpt``/``.pth`` said (its run's data settings included)."""

    network: Callable[[torch.Tensor], torch.Tensor]
    keypoint_set: KeypointSet
    codec: HeatmapCodec
    path: Path | None = None
    variant: str | None = None
    checkpoint: TaskCheckpoint | None = None


@dataclass
class SegmentationSource:
    """A segmentation network (images (B, 3, H, W) -> logits (B, C, H/4, W/4)), its classes
    and the test-time settings the source stores (``SegmentationTaskConfig``'s ``val_*``
    names without the prefix; empty: whole image, one scale, no flip)."""

    network: Callable[[torch.Tensor], torch.Tensor]
    class_table: ClassTable
    settings: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    variant: str | None = None
    checkpoint: TaskCheckpoint | None = None


def resolve_tag(source: str, model: str | None = None) -> tuple[str, PretrainedWeights] | None:
    """(variant, ``PretrainedWeights``) of a published tag: ``variant.tag``, or a short
    tag of ``model``; None when ``source`` looks like a file name (a path, a file suffix).
    A short tag without ``model`` raises a ValueError asking for the variant."""
    if os.sep in source or "/" in source or source.lower().endswith(_FILE_SUFFIXES):
        return None
    name, dot, tag = source.rpartition(".")
    if dot and name in list_models():
        if model is not None and model != name:
            raise ValueError(f"{source} is a tag of {name}, not of model={model}")
        return name, pretrained_weights(name, tag)
    if model is None:
        raise ValueError(
            f"{source}: no such file, nor a published tag of a named variant: name the "
            f"variant, e.g. lite_hrnet_18.{source} (lite_hrnet.list_pretrained() lists them)"
        )
    return model, pretrained_weights(model, source)


def _file(source: str | os.PathLike[str], kind: str) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{kind} not found: {path}")
    if not path.is_file():
        raise ValueError(f"{path}: not a file ({kind} expected)")
    return path


def _network_outputs(network: Any) -> int | None:
    """The channels a loaded package or ONNX model outputs (joints, classes), if fixed."""
    info = getattr(network, "info", None)
    if info is not None:
        return int(info.outputs)
    session = getattr(network, "session", None)
    if session is not None:
        channels = session.get_outputs()[0].shape[1]
        return channels if isinstance(channels, int) else None
    return None


def _network_input_hw(network: Any) -> tuple[int, int] | None:
    """The fixed input (H, W) of a loaded package or ONNX model (None: any size)."""
    info = getattr(network, "info", None)
    if info is not None:
        return tuple(info.input_size)
    shape = getattr(network, "input_shape", None)
    if shape is not None and all(isinstance(d, int) for d in shape[2:]):
        return int(shape[2]), int(shape[3])
    return None


def load_runtime(path: Path, input_size: Sequence[int] | None, task: str) -> Any:
    """A package (``.pt2``), an OpenVINO IR (``.xml``) or an ONNX file loaded to run; for
    a package, a ``PackageError`` when it is of another task or built for another
    ``input_size``."""
    if path.suffix == PACKAGE_SUFFIX:
        from ..deploy.package import PackageError, load_package

        package = load_package(path, input_size=tuple(input_size) if input_size else None)
        if package.info.task != task or package.info.outputs < 1:
            raise PackageError(
                f"{path}: a {package.info.task} package with {package.info.outputs} outputs; "
                f"a {task} package is needed"
            )
        return package
    if path.suffix.lower() == OPENVINO_SUFFIX:
        from ..deploy.openvino import OpenVinoModel

        return OpenVinoModel(path)  # in the IR's stored precision, else f32
    from ..deploy.quantize import OnnxRuntimeModel

    return OnnxRuntimeModel(path)


def runtime_fits(network: Any, path: Path | None, input_hw: Sequence[int]) -> None:
    """A ValueError when the ONNX model or package ``path`` takes another input (H, W)."""
    fixed = _network_input_hw(network)
    if fixed is not None and tuple(fixed) != tuple(input_hw):
        h, w = input_hw
        raise ValueError(
            f"{path} takes {fixed[0]}x{fixed[1]} images, the settings {h}x{w}: export it "
            f"with --input {h}x{w} (lite-hrnet export)"
        )


# Pose -----------------------------------------------------------------------------------
def pose_source(
    source: Source,
    *,
    model: str | None = None,
    keypoint_set: str | KeypointSet | None = None,
    input_size: Sequence[int] | None = None,
) -> PoseSource:
    """The pose network of ``source`` with its keypoint set and codec (as stored, else
    the preset with the network's number of joints and the recipe's codec; ``keypoint_set``
    replaces it, and a tag's or package's input size is its codec's). ``model`` names
    the variant of a plain state dict or of a short tag; ``input_size`` (H, W) is checked
    against a tag and a package (a tag at another input fails, a package too)."""
    wanted = keypoint_set_from(keypoint_set) if keypoint_set is not None else None
    if isinstance(source, nn.Module):
        return _module_pose_source(source, wanted)
    if _saved_folder(source):
        network, config = _load_folder(source, POSE)
        stored = KeypointSet.from_dict(config["keypoint_set"]) if "keypoint_set" in config else None
        keypoints = wanted or stored or keypoint_set_for_joints(network.num_joints)
        codec = config.get("codec")
        codec = HeatmapCodec.from_dict(codec) if codec else recipe_codec(keypoints.name)
        variant = config["architecture"]["variant"]
        return PoseSource(network, keypoints, codec, Path(os.fspath(source)), variant)
    text = os.fspath(source)
    path = Path(text).expanduser()
    if not path.exists() and isinstance(source, str):
        tag = resolve_tag(text, model)
        if tag is not None:
            variant, weights = tag
            check_fits(variant, weights, wanted.num_joints if wanted else None, input_size)
            path = download_pretrained(variant, weights.tag)
            loaded = _checkpoint_pose_source(path, variant, wanted)
            loaded.codec = loaded.codec.with_input_hw(weights.input_size)  # decoding kept
            return loaded
    suffix = path.suffix.lower()
    if suffix in (PACKAGE_SUFFIX, ONNX_SUFFIX):
        path = _file(path, "package" if suffix == PACKAGE_SUFFIX else "ONNX model")
        return _runtime_pose_source(path, wanted, input_size)
    return _checkpoint_pose_source(_file(path, "checkpoint"), model, wanted)


def _decoding(codec: HeatmapCodec) -> dict[str, Any]:
    return {"flip_test": codec.flip_test, "shift_heatmap": codec.shift_heatmap, "dark": codec.dark}


def _checkpoint_pose_source(
    path: Path, model: str | None, wanted: KeypointSet | None
) -> PoseSource:
    read = read_task_checkpoint(path, POSE, model)
    keypoints = wanted or read.keypoint_set()
    codec = read.codec()
    if wanted is not None and read.hparams is None:
        codec = recipe_codec(wanted.name, **_decoding(codec))  # the set's recipe input
    network = create_pose_model(read.variant, keypoint_set=keypoints, **read.backbone_overrides)
    load_checkpoint(network, path)
    return PoseSource(network.eval(), keypoints, codec, path, read.variant, read)


def _runtime_pose_source(
    path: Path, wanted: KeypointSet | None, input_size: Sequence[int] | None
) -> PoseSource:
    network = load_runtime(path, input_size, POSE)
    joints = _network_outputs(network)
    meta = getattr(getattr(network, "info", None), "task_meta", None) or {}
    keypoints = wanted
    if keypoints is None and "keypoint_set" in meta:
        keypoints = KeypointSet.from_dict(meta["keypoint_set"])
    if keypoints is None:
        if joints is None:
            raise ValueError(f"{path}: its joints are not fixed: pass keypoint_set=")
        keypoints = keypoint_set_for_joints(joints)
    if joints is not None and keypoints.num_joints != joints:
        raise ValueError(
            f"{path}: its keypoint set has {keypoints.num_joints} joints, its network "
            f"{joints} outputs"
        )
    fixed = _network_input_hw(network) or input_size
    if fixed is None:
        raise ValueError(f"{path}: its input size is not fixed: pass input_size=(H, W)")
    if "codec" in meta:
        codec = HeatmapCodec.from_dict(meta["codec"])
        if codec.input_hw != tuple(fixed):  # exported at another size
            codec = codec.with_input_hw(fixed)
    else:
        codec = HeatmapCodec.from_input_hw(fixed)
    return PoseSource(network, keypoints, codec, path)


def _module_pose_source(module: nn.Module, wanted: KeypointSet | None) -> PoseSource:
    """A module's own ``codec`` and ``keypoints``/``keypoint_set`` where it has them (a
    ``PoseEstimationModule``), else the preset of its ``num_joints`` and the recipe's
    codec."""
    keypoints = (
        wanted or getattr(module, "keypoint_set", None) or getattr(module, "keypoints", None)
    )
    if not isinstance(keypoints, KeypointSet):
        joints = getattr(module, "num_joints", None)
        if joints is None:
            raise ValueError(
                f"{type(module).__name__}: cannot tell its joints (no num_joints): pass "
                "keypoint_set="
            )
        keypoints = keypoint_set_for_joints(joints)
    codec = getattr(module, "codec", None)
    if not isinstance(codec, HeatmapCodec):
        codec = recipe_codec(keypoints.name)
    return PoseSource(module.eval(), keypoints, codec)


# Segmentation ---------------------------------------------------------------------------
# The test-time settings a segmentation checkpoint stores (``val_*`` hyperparameters).
_SEGMENTATION_SETTINGS = ("scales", "flip", "window", "stride")


def segmentation_source(
    source: Source, *, model: str | None = None, num_classes: int | None = None
) -> SegmentationSource:
    """The segmentation network of ``source`` with its class table and stored test-time
    settings; a package or an ONNX model of a fixed size slides a window of that size.
    ``model`` names the variant of a plain state dict; ``num_classes`` replaces the
    count of a checkpoint that names no classes."""
    if isinstance(source, nn.Module):
        table = getattr(source, "class_table", None)
        if not isinstance(table, ClassTable):
            table = class_table_from(num_classes or getattr(source, "num_classes", None))
        return SegmentationSource(source.eval(), table)
    if _saved_folder(source):
        network, config = _load_folder(source, SEGMENTATION)
        stored = config.get("class_table")
        table = ClassTable.from_dict(stored) if stored else class_table_from(network.num_classes)
        variant = config["architecture"]["variant"]
        return SegmentationSource(network, table, {}, Path(os.fspath(source)), variant)
    path = Path(os.fspath(source)).expanduser()
    suffix = path.suffix.lower()
    if suffix in (PACKAGE_SUFFIX, ONNX_SUFFIX):
        path = _file(path, "package" if suffix == PACKAGE_SUFFIX else "ONNX model")
        network = load_runtime(path, None, SEGMENTATION)
        table = class_table_from(num_classes or _network_outputs(network))
        fixed = _network_input_hw(network)
        settings = {"window": list(fixed)} if fixed else {}
        return SegmentationSource(network, table, settings, path)
    path = _file(path, "checkpoint")
    read = read_task_checkpoint(path, SEGMENTATION, model)
    table = read.class_table(num_classes)
    network = create_segmentation_model(
        read.variant, table.num_classes, head_channels=read.head_channels(),
        **read.backbone_overrides,
    )  # fmt: skip
    load_checkpoint(network, path)
    stored = read.hparams or {}
    settings = {k: stored[f"val_{k}"] for k in _SEGMENTATION_SETTINGS if f"val_{k}" in stored}
    return SegmentationSource(network.eval(), table, settings, path, read.variant, read)
