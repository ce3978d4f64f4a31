"""``lite-hrnet export NAME --format hf --output DIR``: the model as a saved folder
(``config.json`` + ``model.safetensors``, ``lite_hrnet.sharing``) with a model card. What
a checkpoint of ours records goes with it: the keypoint set and codec or the class table,
the run's config, and its results from the run folder's ``summary.json``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..meta.class_table import ClassTable
from ..models.checkpoint import read_checkpoint_file
from ..sharing import save_pretrained
from ..sharing.model_card import data_line, write_model_card
from ..training.jobs import SUMMARY_FILE
from ..training.resume_config import CONFIG_KEY
from .output_folder import output_folder


def export_hf(args: argparse.Namespace, model: Any) -> int:
    """Write ``model`` and what ``args.checkpoint`` records into the folder ``args.output``."""
    folder = output_folder(args.output)
    obj = _checkpoint_object(args.checkpoint)
    hparams = obj.get("hyper_parameters") if isinstance(obj.get("hyper_parameters"), dict) else {}
    training = obj.get(CONFIG_KEY) if isinstance(obj.get(CONFIG_KEY), dict) else None
    extras: dict[str, Any] = {}
    if getattr(model, "num_joints", None) is not None:
        keypoints = hparams.get("keypoint_set")
        if (
            isinstance(keypoints, dict)
            and len(keypoints.get("joint_names", ())) == model.num_joints
        ):
            extras["keypoint_set"] = keypoints
            extras["codec"] = hparams.get("codec")
    elif getattr(model, "num_classes", None) is not None and hparams.get("class_names"):
        extras["class_table"] = ClassTable.build(
            hparams["class_names"],
            hparams.get("class_palette"),
            hparams.get("ignore_index", 255),
            hparams.get("label_ids"),
        )
    save_pretrained(model.eval(), folder, training=training, **extras)
    summary = _run_summary(args.checkpoint)
    card = write_model_card(
        folder,
        summary=summary,
        dataset=data_line(training, extras.get("keypoint_set"), extras.get("class_table")),
        command=["lite-hrnet", *sys.argv[1:]] if sys.argv[1:] else None,
    )
    print(f"wrote {folder} (config.json, model.safetensors, {card.name}; {args.name})")
    return 0


def _checkpoint_object(checkpoint: Path | None) -> dict[str, Any]:
    if checkpoint is None:
        return {}
    obj = read_checkpoint_file(checkpoint)
    return obj if isinstance(obj, dict) else {}


def _run_summary(checkpoint: Path | None) -> dict[str, Any] | None:
    """The ``summary.json`` of the run folder a checkpoint lies in (``<run>/checkpoints/``)."""
    if checkpoint is None:
        return None
    for folder in (checkpoint.parent, checkpoint.parent.parent):
        path = folder / SUMMARY_FILE
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                print(f"{path}: not read ({e}); the card has no results", file=sys.stderr)
                return None
    return None
