"""Every logger gets the config with params, MACs and paper FLOPs; wandb runs offline and
logs metrics and prediction images, and is finished whether the run succeeds or not."""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path

import pytest

from lite_hrnet.training.run import run_training
from tests.support import compose_config, pose_overrides, street_overrides

pytestmark = pytest.mark.slow  # training runs with each logger


def wandb_records(run_dir: Path, timeout: float = 30) -> dict:
    """The records of an offline run's ``run-*.wandb`` file: a LevelDB-style log (32 KiB
    blocks, 7-byte record headers: crc, length, type full/first/middle/last) of protobuf
    ``Record`` messages, which ``wandb sync`` uploads. Returns ``{"history": [dicts],
    "config": {key: value}, "run"/"exit"/...: the last record of that type}``, once the
    exit record is there (wandb's service may still be writing the file after
    ``wandb.finish()`` returns, so a torn last record is read again later)."""
    deadline = time.monotonic() + timeout
    while True:
        records = _read_records(run_dir)
        if "exit" in records or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _read_records(run_dir: Path) -> dict:
    from wandb.proto import wandb_internal_pb2 as pb

    paths = list(run_dir.glob("run-*.wandb"))
    assert len(paths) <= 1, paths
    data, pos, chunks, pending = paths[0].read_bytes() if paths else b"", 7, [], b""
    assert data[:4] in (b":W&B", b":W&B"[: len(data)])
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # block trailer
            pos += 32768 - pos % 32768
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if len(chunk) < length or zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != crc:
            break  # not fully written yet
        if kind in (1, 2):
            pending = chunk
        elif kind in (3, 4):
            pending += chunk
        if kind in (1, 4):
            chunks.append(pending)
    out: dict = {"history": [], "config": {}}
    for chunk in chunks:
        record = pb.Record()
        record.ParseFromString(chunk)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = record.history.item
            out["history"].append({i.key or "/".join(i.nested_key): i.value_json for i in items})
        elif kind == "config":
            out["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
        else:
            out[kind] = record
    return out


@pytest.fixture(autouse=True)
def _offline(monkeypatch) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")


# Two epochs of one training batch, each followed by a validation.
TINY_FIT = ["debug=limit", "trainer.limit_train_batches=1", "callbacks.val_images=2"]


@pytest.mark.parametrize("task", ["pose", "segmentation"])
def test_wandb_offline_run_has_config_metrics_and_images(task, request, tmp_path):
    import wandb

    if task == "pose":
        data = pose_overrides(request.getfixturevalue("coco_root"))
        metric = "val/AP"
    else:
        data = street_overrides(request.getfixturevalue("cityscapes_root"))
        metric = "val/mIoU"
    cfg = compose_config([*data, *TINY_FIT, "logger=wandb", "logger.tags=[test]"])
    run_training(cfg, tmp_path)
    assert wandb.run is None  # finished
    (run,) = tmp_path.glob("wandb/offline-run-*")
    records = wandb_records(run)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert records["config"]["complexity"] == summary["complexity"]
    assert records["config"]["model"]["width"] == cfg.model.width
    assert records["run"].run.tags == ["test"] and records["exit"].exit.exit_code == 0
    logged = set().union(*records["history"])
    assert {metric, metric.replace("val", "test")} <= logged
    assert any(k.startswith("train/loss") for k in logged)
    images = [h for h in records["history"] if "val/predictions/_type" in h]
    assert len(images) == 2  # one per validation (debug=limit: two)
    files = sorted(run.glob("files/media/images/val/predictions_*.png"))
    assert len(files) == 2 and all(f.stat().st_size > 0 for f in files)


def test_a_failing_run_finishes_its_wandb_run(coco_root, tmp_path):
    import wandb

    # Fails in lightning.Trainer(), after the logger has started the run.
    cfg = compose_config([*pose_overrides(coco_root), "logger=wandb", "trainer.precision=bogus"])
    with pytest.raises(ValueError, match="bogus"):
        run_training(cfg, tmp_path)
    assert wandb.run is None
    (run,) = tmp_path.glob("wandb/offline-run-*")
    assert wandb_records(run)["exit"].exit.exit_code == 1


def test_tensorboard_gets_hparams_scalars_and_images(coco_root, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = compose_config([*pose_overrides(coco_root), *TINY_FIT, "logger=tensorboard"])
    run_training(cfg, tmp_path)
    events = EventAccumulator(str(tmp_path / "tensorboard")).Reload()
    assert {"val/AP", "train/loss"} <= set(events.Tags()["scalars"])
    assert "val/predictions" in events.Tags()["images"]
    hparams = (tmp_path / "tensorboard" / "hparams.yaml").read_text()
    assert "paper_flops" in hparams and "macs" in hparams
