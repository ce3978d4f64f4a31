"""One evaluation of a task module on a data module's test split, the same for every
front-end (``lite-hrnet eval coco|mpii|cityscapes`` and ``lite-hrnet eval <overrides>``):
the metric table, the skipped samples and the task's predictions file."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import lightning as L

from ..config.schema import EvalConfig
from ..metrics.tables import format_table
from ..models.checkpoint import CheckpointError, load_checkpoint, read_checkpoint_file
from ..models.hub import is_weights_source


def evaluate(
    module: Any,
    datamodule: L.LightningDataModule,
    trainer: L.Trainer,
    title: str,
    results_file: str | os.PathLike[str] | None,
) -> dict[str, Any]:
    """``trainer.test`` of ``module`` on ``datamodule``; prints the table and the count of
    skipped samples, and where the task wrote its predictions (COCO results for COCO pose,
    the per-class IoU for segmentation; ``results_file`` may name a folder for them).
    Returns the metrics with ``"skipped"``."""
    datamodule.setup("test")  # bad data fails here, before the trainer starts
    if results_file is not None:
        results_file = writable_results_file(Path(results_file), results_name(datamodule.cfg))
    module.results_file = str(results_file) if results_file is not None else None
    trainer.test(module, datamodule=datamodule, verbose=False)
    skipped = int(trainer.callback_metrics.get("test/skipped", 0))
    total = len(datamodule.datasets["test"])
    print(format_table(module.last_metrics, title=title))
    print(f"evaluated {total - skipped} of {total} samples; skipped {skipped} unreadable")
    if results_file is not None and Path(results_file).is_file():
        print(f"predictions written to {results_file}")
    return {**module.last_metrics, "skipped": skipped}


def writable_results_file(path: Path, name: str) -> Path:
    """Where the predictions go: ``path``, or ``path/name`` when ``path`` is a folder (as
    ``cp`` does). Its folder is created, and one that cannot be written is an ``OSError``
    naming it now, before the evaluation runs."""
    if path.is_dir():
        path = path / name
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        code = errno.EROFS if read_only else errno.EACCES
        raise OSError(code, os.strerror(code), str(path if path.exists() else folder))
    return path


def run_evaluation(cfg: EvalConfig, output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Evaluate ``cfg.ckpt_path`` with the run's own data and test settings; the
    predictions file goes into ``output_dir``."""
    cfg.validate()
    module, datamodule = cfg.task.build(cfg.data, cfg.model)
    published = cfg.model.pretrained
    if not is_weights_source(published):
        published = f"{cfg.model.name}.{published}"
    weights = cfg.ckpt_path or cfg.model.checkpoint or published
    if cfg.ckpt_path is not None:
        _check_task(cfg.ckpt_path, cfg.task.name)
        load_checkpoint(module.model, cfg.ckpt_path)
    trainer = L.Trainer(
        accelerator=cfg.trainer.accelerator,
        devices=1,
        precision=cfg.trainer.precision,
        limit_test_batches=cfg.trainer.limit_test_batches,
        enable_progress_bar=cfg.trainer.enable_progress_bar,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    results = Path(output_dir) / results_name(cfg.data)
    return evaluate(module, datamodule, trainer, f"{describe_data(cfg.data)}, {weights}", results)


def _check_task(path: str, task: str) -> None:
    """A Lightning checkpoint of ours names its task: one of another task is refused in
    one line, as ``TaskModule.from_checkpoint`` does, before its keys are compared."""
    obj = read_checkpoint_file(path)
    hparams = obj.get("hyper_parameters") if isinstance(obj, dict) else None
    if isinstance(hparams, dict) and "backbone" in hparams:
        stored = hparams.get("name", task)
        if stored != task:
            raise CheckpointError(f"{path}: a {stored} checkpoint, not a {task} one")


def results_name(data: Any) -> str:
    """The predictions file's name for a data config: ``predictions_<format>.json``."""
    return f"predictions_{getattr(data, 'format', None) or _segmentation_kind(data)}.json"


def _segmentation_kind(data: Any) -> str:
    """ "cityscapes" for the official table, else "segmentation" (the user's classes)."""
    return getattr(data, "label_table", None) or "segmentation"


def describe_data(data: Any) -> str:
    """One line: the data set, its root and what the test runs at."""
    if getattr(data, "format", None) is None:  # segmentation: whole images, maybe resized
        size = data.base_size
        return f"{_segmentation_kind(data)} {data.root} ({data.val_split}), " + (
            f"resized to {size[0]}x{size[1]}" if size else "full size"
        )
    h, w = data.input_size
    boxes = f", detections {data.detection_file}" if data.detection_file else ""
    return f"{data.format} {data.root}{boxes}, input {h}x{w}"
