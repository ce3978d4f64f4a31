"""Pose over a large set of images with Lightning's predict loop: DataLoader workers
decode and crop, the network runs in the main process of each rank, and
``KeypointsWriter`` writes each rank's results as they are made; at the end the first rank
joins them, in the order of the inputs, into ``keypoints.json``. On several devices
(``devices=2, strategy="ddp"``) each rank predicts its share of the images."""

from __future__ import annotations

import json
import multiprocessing
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader

from ..data.images import CorruptImageWarning
from ..data.loaders import one_opencv_thread
from ..data.pose.prediction_crops import PredictionCrops, collate_prediction_crops
from ..formats.json_files import KEYPOINTS_RESULTS_FILE, PREDICTION_DECIMALS, json_numbers
from ..tasks.pose_prediction import PosePredictionModule


@dataclass
class ImagePredictions:
    """What a run wrote: the results file (``{key: (N, K, 3) keypoints}``), the keys
    predicted and the unreadable images ``{key: reason}``."""

    path: Path
    predicted: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


class KeypointsWriter(BasePredictionWriter):
    """Each rank appends one JSON line per image to ``.keypoints.rank<R>.jsonl`` in
    ``folder`` as its batches end (a killed run keeps what was done); when the loop ends,
    rank 0 joins the lines of every rank into ``keypoints.json`` in the order of ``keys``
    and removes the line files. (Lightning's predict sampler gives each image to one rank,
    without the repeats that even the ranks' shares in training.)"""

    def __init__(self, folder: Path, keys: Sequence[str]) -> None:
        super().__init__(write_interval="batch")
        self.folder, self.keys = Path(folder), list(keys)
        self.result: ImagePredictions | None = None
        self._lines = None

    def _rank_file(self, rank: int) -> Path:
        return self.folder / f".keypoints.rank{rank}.jsonl"

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Open across the loop's hooks; closed in on_predict_end.
        self._lines = open(self._rank_file(trainer.global_rank), "w", encoding="utf-8")  # noqa: SIM115

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: dict[str, Any],
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        assert self._lines is not None
        for index, boxes, keypoints in zip(
            prediction["indices"], prediction["boxes"], prediction["keypoints"]
        ):
            line = {
                "index": index,
                "boxes": json_numbers(boxes, PREDICTION_DECIMALS),
                "keypoints": json_numbers(keypoints, PREDICTION_DECIMALS),
            }
            self._lines.write(json.dumps(line, allow_nan=False) + "\n")
        for index, reason in prediction["errors"].items():
            self._lines.write(json.dumps({"index": index, "error": reason}) + "\n")
        self._lines.flush()

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        assert self._lines is not None
        self._lines.close()
        trainer.strategy.barrier()  # every rank's lines are on disk
        if trainer.global_rank == 0:
            self.result = self._join(trainer.world_size)
        trainer.strategy.barrier()  # nobody leaves before the join read the files

    def _join(self, world_size: int) -> ImagePredictions:
        lines: dict[int, dict[str, Any]] = {}
        for rank in range(world_size):
            path = self._rank_file(rank)
            for text in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(text)
                lines[record["index"]] = record
        result = ImagePredictions(self.folder / KEYPOINTS_RESULTS_FILE)
        keypoints: dict[str, Any] = {}
        for index, key in enumerate(self.keys):
            record = lines.get(index)
            if record is None:
                raise RuntimeError(f"no rank predicted {key}: the predict loop ended early")
            if "error" in record:
                result.skipped[key] = record["error"]
            else:
                keypoints[key] = record["keypoints"]
                result.predicted.append(key)
        temp = result.path.with_name(f".{KEYPOINTS_RESULTS_FILE}.tmp")
        temp.write_text(json.dumps(keypoints, allow_nan=False), encoding="utf-8")
        os.replace(temp, result.path)
        for rank in range(world_size):
            self._rank_file(rank).unlink(missing_ok=True)
        return result


def _worker_start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def predict_images(
    module: PosePredictionModule,
    images: Sequence[Path],
    keys: Sequence[str],
    output: Path,
    boxes: Mapping[str, np.ndarray] | None = None,
    *,
    find_boxes: Callable[[np.ndarray], np.ndarray] | None = None,
    images_per_batch: int = 8,
    num_workers: int = 2,
    accelerator: str = "cpu",
    devices: int | str = 1,
    strategy: str = "auto",
) -> ImagePredictions | None:
    """Keypoints of the people of every image (``boxes[key]`` (N, 4) [x, y, w, h], else
    ``find_boxes(image)``, a person detector run in the workers, else the whole image)
    written to ``output/keypoints.json`` as ``{key: (N, K, 3)}``.
    Unreadable images are skipped with a ``CorruptImageWarning`` and listed in the result.
    Returns the result on the first rank, None on the others."""
    if num_workers > 0:
        one_opencv_thread()
    loader = DataLoader(
        PredictionCrops(images, keys, module.codec, boxes, find_boxes),
        batch_size=images_per_batch,
        num_workers=num_workers,
        collate_fn=collate_prediction_crops,
        worker_init_fn=one_opencv_thread,
        # Not forked: the caller may hold ONNX Runtime or OpenVINO thread pools, which a
        # forked child inherits half-made.
        multiprocessing_context=_worker_start_method() if num_workers else None,
    )
    writer = KeypointsWriter(output, keys)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        callbacks=[writer],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=True,
    )
    trainer.predict(module, loader, return_predictions=False)
    result = writer.result
    if result is not None:
        for key, reason in result.skipped.items():
            warnings.warn(f"{reason}; skipped ({key})", CorruptImageWarning, stacklevel=2)
    return result
