"""``push_to_hub=org/name``: at the end of a run, its best checkpoint as a saved folder
(``lite_hrnet.sharing``: config.json, model.safetensors, a model card with the run's
results) in ``<run>/hf/``, uploaded to the Hugging Face model repository."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..sharing import push_folder, save_pretrained
from ..sharing.model_card import data_line, write_model_card

HF_FOLDER = "hf"


def save_run_folder(
    module_class: Any,
    checkpoint: str | Path,
    output_dir: Path,
    summary: dict[str, Any],
    training: dict[str, Any],
    repo_id: str | None = None,
) -> Path:
    """``<output_dir>/hf/``: the model of ``checkpoint`` (read by ``module_class``'s
    ``from_checkpoint``), its keypoint set and codec or class table, the run's flattened
    config ``training`` and a model card with ``summary``'s results."""
    module = module_class.from_checkpoint(checkpoint)
    extras: dict[str, Any] = {}
    if getattr(module, "keypoints", None) is not None:
        extras.update(keypoint_set=module.keypoints, codec=module.codec)
    if getattr(module, "class_table", None) is not None:
        extras["class_table"] = module.class_table
    folder = save_pretrained(module.model.eval(), output_dir / HF_FOLDER, training=training,
                             **extras)  # fmt: skip
    keypoints = extras.get("keypoint_set")
    write_model_card(
        folder,
        summary=summary,
        dataset=data_line(
            training, keypoints.to_dict() if keypoints else None, extras.get("class_table")
        ),
        command=["lite-hrnet", *sys.argv[1:]] if sys.argv[1:] else None,
        repo_id=repo_id,
    )
    return folder


def push_run(
    module_class: Any,
    checkpoint: str | Path,
    output_dir: Path,
    summary: dict[str, Any],
    training: dict[str, Any],
    repo_id: str,
) -> dict[str, Any]:
    """Save the run's folder and upload it to ``repo_id``; returns what ``summary.json``
    records of it: ``{"repo_id", "folder", "url"}``, or ``"error"`` instead of ``"url"``
    when the upload failed (the folder stays for a later ``hf upload``)."""
    folder = save_run_folder(module_class, checkpoint, output_dir, summary, training, repo_id)
    record: dict[str, Any] = {"repo_id": repo_id, "folder": str(folder)}
    try:
        record["url"] = push_folder(
            folder, repo_id, commit_message=f"lite-hrnet run {output_dir.name}"
        )
    except Exception as error:  # network, token, permissions: the run's results stand
        record["error"] = f"{type(error).__name__}: {error}"
    return record
