"""Load weights into our models from every file format Lite-HRNet weights come in.

Accepted: plain state dicts and Lightning ``.ckpt`` files of this project; official
Lite-HRNet and mmpose 0.x files (``{'state_dict', 'meta'}`` with ``backbone.*`` and
``keypoint_head.final_layer.*``); mmpose 1.x files (``head.final_layer.*``). Files are read
with ``torch.load(weights_only=True)``: nothing in them is executed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .backbone import LiteHRNet
from .spec import LiteHRNetSpec
from .variants import VARIANT_SPECS

# Every Lite-HRNet state dict has this key; whatever precedes it is the backbone's prefix.
_ANCHOR = "stem.conv1.conv.weight"
_MMPOSE1_HEAD = "head.final_layer."
_OFFICIAL_HEAD = "keypoint_head.final_layer."
_SHOWN = 5


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or does not fit the model."""


# Readers of other file formats by suffix (".safetensors": ``lite_hrnet.sharing`` registers
# it on import), so that this layer imports torch alone. A reader returns what ``torch.load``
# would: a state dict, or a mapping with one under "state_dict" (and "hyper_parameters").
_READERS: dict[str, Callable[[Path], Any]] = {}


def register_checkpoint_reader(suffix: str, reader: Callable[[Path], Any]) -> None:
    """Read files ending in ``suffix`` (e.g. ".safetensors") with ``reader(path)``."""
    _READERS[suffix.lower()] = reader


def load_checkpoint(
    model: nn.Module, path: str | PathLike[str], strict: bool = True
) -> nn.modules.module._IncompatibleKeys:
    """Load ``path`` into ``model`` (a backbone, or a model with a ``backbone`` attribute).

    Key prefixes are mapped: ``module.`` (DDP), ``_orig_mod.`` (torch.compile), a Lightning
    attribute such as ``model.``, ``backbone.`` when loading a pose file into a bare backbone,
    and mmpose 1.x ``head.final_layer`` to ``keypoint_head.final_layer``. Keys outside the
    network (task-module buffers) and, for a headless backbone, ``head_layer.*`` are dropped.

    With ``strict`` (default) any missing, unexpected or mis-shaped key raises a
    ``CheckpointError`` that lists the first offenders and names the variant the file looks
    like. Without it, the matching tensors are loaded and the rest reported. Weights that
    hold NaN or infinite values are always refused, with the keys named: a model loaded from
    them would predict NaN.
    """
    path = Path(path)
    state_dict = _map_keys(read_state_dict(path), model, path)
    bad = [
        k for k, v in state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()
    ]
    if bad:
        raise CheckpointError(
            f"{path}: {len(bad)} tensors hold NaN or infinite values, e.g. {bad[:_SHOWN]}; "
            "the training that wrote them diverged or the file is damaged"
        )
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [k for k in state_dict if k in expected and state_dict[k].shape != expected[k].shape]
    if strict and (missing or unexpected or wrong):
        lines = [f"{path}: does not fit {_describe_model(model)}:"]
        if missing:
            lines.append(f"  {len(missing)} missing keys, e.g. {missing[:_SHOWN]}")
        if unexpected:
            lines.append(f"  {len(unexpected)} unexpected keys, e.g. {unexpected[:_SHOWN]}")
        if wrong:
            shown = [
                f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
                for k in wrong[:_SHOWN]
            ]
            lines.append(f"  {len(wrong)} keys with wrong shapes, e.g. {shown}")
        lines.append(f"The file looks like {guess_variant(state_dict)}.")
        raise CheckpointError("\n".join(lines))
    for k in wrong:
        del state_dict[k]
    return model.load_state_dict(state_dict, strict=False)


def read_checkpoint_file(path: str | PathLike[str]) -> Any:
    """The whole object in a checkpoint file, read with ``weights_only=True``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"{path}: is not a file")
    reader = _READERS.get(path.suffix.lower())
    if reader is not None:
        return reader(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for corrupt or unsafe files
        code = _refused_global(e)
        if code is not None:
            raise CheckpointError(
                f"{path}: refused, not loaded: the file holds code (the Python global {code}), "
                "not only tensors and plain containers; weights never need code, so do not "
                "load this file from an untrusted source"
            ) from None
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupt): "
            f"{_load_error_detail(e)}"
        ) from None
    return obj


def read_state_dict(path: str | PathLike[str]) -> dict[str, torch.Tensor]:
    """The flat ``{name: tensor}`` mapping inside a checkpoint file, keys unchanged."""
    obj = read_checkpoint_file(path)
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if (
        isinstance(obj, Mapping)
        and obj
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    ):
        return dict(obj)
    raise CheckpointError(
        f"{path}: holds no state dict (a mapping of names to tensors, possibly under "
        f"'state_dict'); found {_describe_object(obj)}"
    )


# torch's safe loader names the global it refused in several wordings across versions:
# "Unsupported global: GLOBAL print was not an allowed global" (2.4 - 2.6) and "Trying to
# load unsupported GLOBAL posix.system whose module posix is blocked" (later).
_GLOBAL = re.compile(r"unsupported global:? (?:GLOBAL )?([\w.]+)", re.IGNORECASE)
# torch's advice to load unsafely, never repeated to the user.
_ADVICE = ("weights_only", "weights only", "trusted source", "torch.load", "file an issue")


def _refused_global(error: Exception) -> str | None:
    """The dotted name of the global a safe ``torch.load`` refused, or None."""
    found = _GLOBAL.search(str(error))
    return found.group(1) if found else None


def _load_error_detail(error: Exception) -> str:
    """The informative line of a ``torch.load`` error, without torch's boilerplate and its
    advice to load unsafely."""
    text = str(error).split("WeightsUnpickler error:")[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not any(a in line.lower() for a in _ADVICE)]
    return (useful[0] if useful else type(error).__name__)[:300]


def _map_keys(
    state_dict: dict[str, torch.Tensor], model: nn.Module, path: Path
) -> dict[str, torch.Tensor]:
    state_dict = {_strip_wrappers(k): v for k, v in state_dict.items()}
    found = _backbone_part(state_dict)
    if found is None:
        raise CheckpointError(
            f"{path}: not a Lite-HRNet checkpoint: no key ends with {_ANCHOR!r} "
            f"(first keys: {list(state_dict)[:_SHOWN]})"
        )
    prefix, backbone = found
    if isinstance(model, LiteHRNet):
        if not model.spec.with_head:
            backbone = {k: v for k, v in backbone.items() if not k.startswith("head_layer.")}
        return backbone
    # A task model: its backbone sits under ``backbone.``, its heads beside it.
    root = prefix.removesuffix("backbone.") if prefix.endswith("backbone.") else None
    mapped = {"backbone." + k: v for k, v in backbone.items()}
    if root is None:
        return mapped
    for key, value in state_dict.items():
        if key.startswith(root) and not key.startswith(prefix):
            rel = key[len(root) :]
            if rel.startswith(_MMPOSE1_HEAD) and hasattr(model, "keypoint_head"):
                rel = _OFFICIAL_HEAD + rel[len(_MMPOSE1_HEAD) :]
            mapped[rel] = value
    return mapped


def _backbone_part(
    state_dict: Mapping[str, torch.Tensor],
) -> tuple[str, dict[str, torch.Tensor]] | None:
    """The backbone's key prefix and its entries with the prefix removed; None if absent."""
    anchors = [k for k in state_dict if k == _ANCHOR or k.endswith("." + _ANCHOR)]
    if not anchors:
        return None
    prefix = anchors[0][: -len(_ANCHOR)]
    return prefix, {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}


def _strip_wrappers(key: str) -> str:
    key = key.replace("_orig_mod.", "")
    return key.removeprefix("module.")


@functools.cache
def _spec_signature(spec: LiteHRNetSpec) -> frozenset[tuple[str, tuple[int, ...]]]:
    with torch.device("meta"):
        model = LiteHRNet(spec)
    return _signature(model.state_dict())


def _signature(state_dict: Mapping[str, torch.Tensor]) -> frozenset[tuple[str, tuple[int, ...]]]:
    return frozenset((k, tuple(v.shape)) for k, v in state_dict.items())


def _variant_scores(state_dict: Mapping[str, torch.Tensor]) -> dict[str, float] | None:
    """For each registered variant, the share of its backbone keys and shapes that the
    state dict's backbone has (1.0: exactly its backbone); None without a backbone."""
    found = _backbone_part(state_dict)
    if found is None:
        return None
    backbone = found[1]
    theirs = _signature(backbone)
    has_head = any(k.startswith("head_layer.") for k in backbone)
    scores = {}
    for name, spec in VARIANT_SPECS.items():
        ours = _spec_signature(spec)
        if not has_head:
            ours = frozenset(item for item in ours if not item[0].startswith("head_layer."))
        scores[name] = len(ours & theirs) / max(1, len(ours | theirs))
    return scores


def match_variant(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """The registered variant whose backbone a state dict (any of the accepted layouts)
    holds exactly, or None. Where several registered variants share one architecture,
    the first registered."""
    scores = _variant_scores(state_dict) or {}
    return next((name for name, score in scores.items() if score == 1.0), None)


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Which registered variant a state dict (any of the accepted layouts) belongs to, in
    words, for error messages (``match_variant`` gives the name)."""
    scores = _variant_scores(state_dict)
    if scores is None:
        return "no Lite-HRNet variant (it has no Lite-HRNet stem)"
    heads = [v for k, v in state_dict.items() if k.endswith("final_layer.weight")]
    joints = f" with a {heads[0].shape[0]}-joint head" if heads else " without a pose head"
    exact = match_variant(state_dict)
    if exact is not None:
        return f"{exact}{joints}"
    best = max(scores, key=scores.__getitem__)
    return f"no registered variant exactly; closest is {best} ({scores[best]:.0%} of keys){joints}"


def head_joints(path: str | PathLike[str]) -> int | None:
    """The joints of the pose head a checkpoint file holds, or None without one."""
    heads = [v for k, v in read_state_dict(path).items() if k.endswith("final_layer.weight")]
    return int(heads[0].shape[0]) if heads else None


def _describe_model(model: nn.Module) -> str:
    backbone = model if isinstance(model, LiteHRNet) else getattr(model, "backbone", None)
    name = getattr(backbone, "variant", None) or "a custom spec"
    if isinstance(model, LiteHRNet):
        return f"the {name} backbone"
    joints = getattr(model, "num_joints", None)
    suffix = f", {joints} joints" if joints else ""
    return f"{type(model).__name__} on {name}{suffix}"


def _describe_object(obj: Any) -> str:
    if isinstance(obj, Mapping):
        keys = list(obj)[:_SHOWN]
        return f"a {type(obj).__name__} with keys {keys}"
    return f"a {type(obj).__name__}"
