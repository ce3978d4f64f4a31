"""Fine-tuning onto other joints: a pose head re-initialised for the new joints, keeping
the rows (1x1 conv filters and biases) of the joints whose names the weights' head shares.

COCO's 17 keypoints and CrowdPose's 14 share 12 names, so a CrowdPose head starts with
those 12 filters trained. Unnamed joints keep nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import torch

from .checkpoint import read_checkpoint_file, read_state_dict
from .heads import PoseModel

_log = logging.getLogger(__name__)
_HEAD_WEIGHT = "final_layer.weight"
_HEAD_BIAS = "final_layer.bias"


def joint_names_of(keypoint_set: Any) -> tuple[str, ...] | None:
    """The joint names of ``keypoint_set``: an object with ``joint_names`` (a
    ``lite_hrnet.KeypointSet``), or a sequence of names; None for None."""
    if keypoint_set is None:
        return None
    names = getattr(keypoint_set, "joint_names", keypoint_set)
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ValueError(
            "keypoint_set: an object with joint_names (e.g. lite_hrnet.KeypointSet) or a "
            f"sequence of joint names, got {keypoint_set!r}"
        )
    names = tuple(names)
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"keypoint_set: joint names must be distinct; repeated: {twice}")
    return names


def checkpoint_joint_names(path: str | PathLike[str]) -> tuple[str, ...] | None:
    """The joint names a checkpoint file records for its head: our Lightning files' keypoint
    set (``hyper_parameters.keypoint_set.joint_names``) or mmpose 1.x's
    ``meta.dataset_meta.keypoint_id2name``; None when it names none."""
    obj = read_checkpoint_file(path)
    if not isinstance(obj, Mapping):
        return None
    keypoints = (obj.get("hyper_parameters") or {}).get("keypoint_set")
    if isinstance(keypoints, Mapping) and keypoints.get("joint_names"):
        return tuple(str(n) for n in keypoints["joint_names"])
    meta = obj.get("meta") or {}
    id2name = (meta.get("dataset_meta") or {}) if isinstance(meta, Mapping) else {}
    id2name = id2name.get("keypoint_id2name") if isinstance(id2name, Mapping) else None
    if isinstance(id2name, Mapping) and id2name:
        return tuple(str(id2name[i]) for i in sorted(id2name, key=int))
    return None


def head_tensors(state: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The pose head's (weight (K, C, 1, 1), bias (K,)) in a state dict of any accepted
    layout, or None without a head."""
    weights = [k for k in state if k.endswith(_HEAD_WEIGHT)]
    if not weights:
        return None
    bias = weights[0][: -len(_HEAD_WEIGHT)] + _HEAD_BIAS
    return state[weights[0]], state[bias]


def transfer_head_rows(
    model: PoseModel,
    path: str | PathLike[str],
    source_names: Sequence[str] | None,
    target_names: Sequence[str] | None,
    source: str,
) -> list[str]:
    """Copy into ``model``'s (fresh) head the rows of ``path``'s head whose joints have the
    names of ``model``'s joints; log one line saying which were kept. Returns their names.

    ``source_names`` name the file's head rows, ``target_names`` the model's joints (None:
    unknown, then nothing is kept). ``source`` names the weights in the log line.
    """
    found = head_tensors(read_state_dict(path))
    k = model.num_joints
    if found is None:
        _log.info("%s has no pose head: the %d-joint head starts from scratch", source, k)
        return []
    weight, bias = found
    target = model.keypoint_head.final_layer
    if source_names is None or target_names is None:
        side = "the weights' head" if source_names is None else "the new joints"
        _log.info(
            "%s: head re-initialised for %d joints, no rows kept (%s names no joints; "
            "pass keypoint_set= with joint names to keep the joints both share)",
            source, k, side,
        )  # fmt: skip
        return []
    if weight.shape[1:] != target.weight.shape[1:] or len(source_names) != len(weight):
        _log.info("%s: head re-initialised for %d joints, its head does not fit", source, k)
        return []
    index = {n: i for i, n in enumerate(source_names)}
    kept = [(j, index[n]) for j, n in enumerate(target_names) if n in index]
    with torch.no_grad():
        for j, i in kept:
            target.weight[j] = weight[i]
            target.bias[j] = bias[i]
    names = [target_names[j] for j, _ in kept]
    new = [n for n in target_names if n not in index]
    _log.info(
        "%s: head re-initialised for %d joints; kept the rows of %d joints the weights name "
        "(%s)%s",
        source, k, len(names), ", ".join(names) or "none",
        f"; new: {', '.join(new)}" if new else "",
    )  # fmt: skip
    return names
