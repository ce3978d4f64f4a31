"""Whether a checkpoint can continue this run: its stored settings against the run's.

Every checkpoint of ``lite-hrnet train`` holds the run's whole config, flattened to dotted
keys (``StoreRunConfig``). Before a resume hands the file to Lightning, ``check_resume``
compares it with the resuming run's:

- a different task, variant, backbone shape, head size or input size cannot continue the
  run (the weights do not fit, or the heatmaps mean other pixels): ``ResumeMismatch``, a
  ``ValueError`` whose message is a short table of the differing keys;
- any other difference (``trainer.max_epochs``, the learning rate, the logger) is accepted
  and listed.

A checkpoint written before the config was stored is compared through the module's and the
data module's hyperparameters, which every checkpoint of ours holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from ..config.schema import TrainConfig
from ..models import variant_info
from ..models.checkpoint import read_checkpoint_file

CONFIG_KEY = "lite_hrnet_config"
# What fixes the network's weights or what its outputs mean: a resume must keep them.
FIXED_KEYS = (
    "task.name",
    "model.name",
    "model.width",
    "model.num_modules",
    "model.num_blocks",
    "model.module_type",
    "data.format",  # the keypoint set: the pose head's joints
    "task.num_classes",
    "task.head_channels",
    "data.input_size",
)
# Keys that say where a run starts from, not what it is.
IGNORED_KEYS = ("resume", "ckpt_path", "model.checkpoint", "model.pretrained", "output_dir")
_SPEC_KEYS = ("width", "num_modules", "num_blocks", "module_type")


class ResumeMismatch(ValueError):
    """A checkpoint whose network or input differs from the resuming run's."""


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def flatten(node: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = _plain(value)
    return out


def flat_config(cfg: TrainConfig) -> dict[str, Any]:
    """The run's config as dotted keys and plain values (what ``weights_only`` reads back)."""
    return flatten(dataclasses.asdict(cfg))


class StoreRunConfig(Callback):
    """Keeps the run's flattened config in every checkpoint, under ``CONFIG_KEY``."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.config = flat_config(cfg)

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict) -> None:
        checkpoint[CONFIG_KEY] = self.config


def _from_hyperparameters(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What the module's and data module's hyperparameters tell of the config."""
    hp = dict(obj.get("hyper_parameters") or {})
    out: dict[str, Any] = {}
    if "backbone" in hp:
        out["model.name"] = hp.pop("backbone")
    for key, value in dict(hp.pop("backbone_overrides", None) or {}).items():
        out[f"model.{key}"] = _plain(value)
    if "keypoint_set" in hp:
        out["data.format"] = hp.pop("keypoint_set")
    out.update({f"task.{k}": _plain(v) for k, v in hp.items()})
    data = dict(obj.get("datamodule_hyper_parameters") or {})
    out.update(flatten(data, "data."))
    return out


def stored_config(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The flattened config a checkpoint was trained with (from its hyperparameters when
    it predates the stored config)."""
    stored = obj.get(CONFIG_KEY)
    return dict(stored) if isinstance(stored, Mapping) else _from_hyperparameters(obj)


def _effective(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the variant's own values where the backbone keys are unset (None),
    so that ``model.width=1.0`` and the default of a width-1.0 variant agree."""
    out = dict(config)
    if "model.name" not in out:
        return out
    try:
        spec = variant_info(str(out["model.name"])).spec
    except (KeyError, ValueError):
        return out
    for key in _SPEC_KEYS:
        if out.get(f"model.{key}") is None:
            out[f"model.{key}"] = _plain(getattr(spec, key))
    return out


def _table(rows: list[tuple[str, Any, Any]]) -> str:
    header = ("key", "checkpoint", "this run")
    cells = [header, *((k, str(a), str(b)) for k, a, b in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]
    return "\n".join(
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells
    )


def compare(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, stored value, current value) for each key both hold with different values,
    ``IGNORED_KEYS`` aside."""
    stored, current = _effective(stored), _effective(current)
    return [
        (key, stored[key], current[key])
        for key in sorted(stored.keys() & current.keys())
        if key not in IGNORED_KEYS and stored[key] != current[key]
    ]


def check_resume(cfg: TrainConfig, path: str | Path) -> list[tuple[str, Any, Any]]:
    """Compare ``path``'s stored config with ``cfg``: raise ``ResumeMismatch`` when a
    ``FIXED_KEYS`` key differs; else print and return the other differences."""
    obj = read_checkpoint_file(path)
    differences = compare(stored_config(obj), flat_config(cfg))
    fixed = [row for row in differences if row[0] in FIXED_KEYS]
    if fixed:
        raise ResumeMismatch(
            f"cannot resume from {path}: the checkpoint's network or input differs from this "
            f"run's\n{_table(fixed)}\nSet these back to resume it; or start a new run in "
            "another folder (model.checkpoint=FILE starts from its weights)"
        )
    if differences:
        print(
            f"resuming from {path} with other settings than it was trained with (kept):\n"
            f"{_table(differences)}",
            flush=True,
        )
    return differences
