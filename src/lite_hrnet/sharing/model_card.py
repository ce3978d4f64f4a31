"""The model card (``README.md``) of a saved folder: Hugging Face's YAML header (licence,
library, task), what the model is, how to load it, the run's results as its
``summary.json`` recorded them, the data set, the command that made it, the citation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from .folder import CONFIG_FILE

CARD_FILE = "README.md"
LICENSE = "apache-2.0"
_PIPELINE = {"pose": "keypoint-detection", "segmentation": "image-segmentation"}
_CITATION = """@inproceedings{Yulitehrnet21,
  title={Lite-HRNet: A Lightweight High-Resolution Network},
  author={Yu, Changqian and Xiao, Bin and Gao, Changxin and Yuan, Lu and Zhang, Lei and
          Sang, Nong and Wang, Jingdong},
  booktitle={CVPR},
  year={2021}
}"""


def write_model_card(
    folder: str | PathLike[str],
    *,
    summary: Mapping[str, Any] | None = None,
    dataset: str | None = None,
    command: Sequence[str] | str | None = None,
    repo_id: str | None = None,
) -> Path:
    """Write ``README.md`` into a saved folder from its ``config.json``; ``summary`` is a
    run's ``summary.json`` (its test metrics and best validation value are tabled),
    ``dataset`` names the data, ``command`` is what made the folder. Returns the path."""
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    task = config["task"]
    arch = config["architecture"]
    overrides = arch.get("spec_overrides") or {}
    name = repo_id or folder.name
    tags = ["lite-hrnet", "pytorch", "safetensors", *([task] if task != "backbone" else [])]
    lines = ["---", f"license: {LICENSE}", "library_name: lite-hrnet"]
    if task in _PIPELINE:
        lines.append(f"pipeline_tag: {_PIPELINE[task]}")
    lines += ["tags:", *(f"- {t}" for t in tags), "---", "", f"# {name}", ""]
    what = {"pose": "top-down pose estimation", "segmentation": "semantic segmentation",
            "backbone": "a backbone"}[task]  # fmt: skip
    lines.append(
        f"Lite-HRNet ({arch['variant']}"
        + (f", {', '.join(f'{k}={v}' for k, v in overrides.items())}" if overrides else "")
        + f") for {what} (Yu et al., CVPR 2021; official code: "
        "https://github.com/HRNet/Lite-HRNet), saved by lite-hrnet: `config.json` "
        "(architecture, head, data facts) and `model.safetensors` (weights)."
    )
    lines += ["", *_head_lines(config), "", "## Use", "", "```python", "import lite_hrnet", ""]
    source = f"hf-hub:{repo_id}" if repo_id else str(folder)
    lines += [
        f'model, config = lite_hrnet.load_pretrained_folder("{source}")',
        "# images: (B, 3, H, W) RGB in [0, 1], normalised with config['mean'] and config['std']",
        "```",
        "",
    ]
    lines += _results_lines(summary)
    lines += ["## Data", "", dataset or "Not recorded.", ""]
    if command:
        text = command if isinstance(command, str) else " ".join(command)
        lines += ["## How it was made", "", "```bash", text, "```", ""]
    lines += [
        "## Licence",
        "",
        "Apache-2.0, as lite-hrnet. Weights fine-tuned from published checkpoints also carry "
        "those checkpoints' terms.",
        "",
        "## Citation",
        "",
        "```bibtex",
        _CITATION,
        "```",
        "",
    ]
    path = folder / "README.md"
    path.write_text("\n".join(lines))
    return path


def _head_lines(config: Mapping[str, Any]) -> list[str]:
    if config["task"] == "pose":
        keypoints = config.get("keypoint_set") or {}
        names = keypoints.get("joint_names")
        line = f"Head: {config['num_joints']} joints"
        if names:
            line += f" ({keypoints.get('name')}: {', '.join(names)})"
        codec = config.get("codec")
        if codec:
            w, h = codec["input_size"]
            line += f"; input {h}x{w} (H x W)"
        return [line + "."]
    if config["task"] == "segmentation":
        table = config.get("class_table") or {}
        names = table.get("names")
        classes = f" ({', '.join(names)})" if names else ""
        return [f"Head: {config['num_classes']} classes{classes}; logits at stride 4."]
    return ["Backbone only: branch maps at strides 4, 8, 16, 32."]


def _results_lines(summary: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Results", ""]
    if not summary:
        return [*lines, "No run summary was given.", ""]
    rows = [(f"test/{k}", v) for k, v in (summary.get("test") or {}).items()]
    monitor = summary.get("monitor")
    if monitor and summary.get("best") is not None:
        rows.append((f"best {monitor} (validation)", summary["best"]))
    stats = summary.get("complexity") or {}
    if "params" in stats:
        rows.append(("parameters", stats["params"]))
    if not rows:
        return [*lines, "The run summary holds no metrics.", ""]
    lines += ["| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in rows]
    if summary.get("stopped_by_max_time"):
        lines += ["", "The run was stopped by its time limit before the end of its schedule."]
    return [*lines, "", "Measured by the training run (`summary.json`).", ""]


def data_line(
    training: Mapping[str, Any] | None,
    keypoint_set: Mapping[str, Any] | None = None,
    class_table: Any = None,
) -> str | None:
    """One line on the data for a card: the run's data format and root (``training`` is
    the run's flattened config), the keypoint set (its ``to_dict``) or the ``ClassTable``."""
    parts = []
    if training:
        kind = training.get("data.format") or training.get("task.name")
        root = training.get("data.root")
        if kind or root:
            parts.append(f"Trained on {kind or 'data'}" + (f" at `{root}`" if root else "") + ".")
    if keypoint_set:
        names = keypoint_set["joint_names"]
        parts.append(f"Keypoint set {keypoint_set['name']!r} ({len(names)} joints).")
    if class_table is not None:
        parts.append(f"{class_table.num_classes} classes: {', '.join(class_table.names)}.")
    return " ".join(parts) or None
