"""What many tests share: the tiny generated data sets' settings, tiny task modules, and the
ways to run a training config (Hydra's compose API, the CLI in-process, the installed
script)."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import lite_hrnet
from lite_hrnet.config.store import register_configs
from lite_hrnet.data.segmentation.datamodule import CityscapesDataModule
from lite_hrnet.synthetic.pose_scenes import PoseSceneConfig
from lite_hrnet.synthetic.street_scenes import StreetSceneConfig
from lite_hrnet.tasks.segmentation import SegmentationModule

# 12 train and 4 val images; 11 validation persons (odd: a DistributedSampler over 2 ranks
# pads one).
TINY_POSE = PoseSceneConfig(seed=3, num_train_images=12, num_val_images=4)
# 4 train and 3 val images (odd, as above) of (H, W) = STREET_SIZE.
STREET_SIZE = (64, 128)
TINY_STREET = StreetSceneConfig(
    seed=3, num_train_images=4, num_val_images=3, height=STREET_SIZE[0], width=STREET_SIZE[1]
)
# A small, fast backbone: a quarter of the width and one module per stage.
TINY_BACKBONE = {"width": 0.25, "num_modules": [1, 1, 1]}


def tiny_module(**kwargs) -> SegmentationModule:
    return SegmentationModule("lite_hrnet_18", backbone_overrides=TINY_BACKBONE, **kwargs)


def tiny_datamodule(root: Path, **kwargs) -> CityscapesDataModule:
    options = {"batch_size": 2, "val_batch_size": 2, "num_workers": 0, "input_size": [64, 64]}
    return CityscapesDataModule(root, **{**options, **kwargs})


def pose_overrides(root: Path) -> list[str]:
    """The synthetic COCO experiment shrunk to seconds: a narrow one-module network at
    64 x 64, on the generated set (same generator settings, so nothing is rewritten)."""
    return [
        "experiment=synthetic_coco",
        f"data.root={root}",
        f"data.synthetic.seed={TINY_POSE.seed}",
        f"data.synthetic.num_train_images={TINY_POSE.num_train_images}",
        f"data.synthetic.num_val_images={TINY_POSE.num_val_images}",
        "data.input_size=[64,64]",
        "data.batch_size=4",
        "data.val_batch_size=1",
        "data.num_workers=0",
        "model.width=0.5",
        "model.num_modules=[1,1,1]",
        "trainer.enable_progress_bar=false",
        "callbacks.model_summary=none",
        "prediction_images=0",
    ]


def street_overrides(root: Path) -> list[str]:
    s = TINY_STREET
    return [
        "experiment=synthetic_cityscapes",
        f"data.root={root}",
        f"data.synthetic.seed={s.seed}",
        f"data.synthetic.num_train_images={s.num_train_images}",
        f"data.synthetic.num_val_images={s.num_val_images}",
        f"data.synthetic.height={s.height}",
        f"data.synthetic.width={s.width}",
        "data.input_size=[64,64]",
        "data.batch_size=2",
        "data.val_batch_size=1",
        "data.num_workers=0",
        "model.width=0.25",
        "model.num_modules=[1,1,1]",
        "trainer.enable_progress_bar=false",
        "callbacks.model_summary=none",
        "prediction_images=0",
    ]


def street_folder_overrides(root: Path) -> list[str]:
    """The street scenes in the generic layout (``data=synthetic_segmentation_folder``,
    its own class names) shrunk to seconds, as ``street_overrides``."""
    s = TINY_STREET
    return [
        "task=segmentation",
        "data=synthetic_segmentation_folder",
        "monitor=val/mIoU",
        f"data.root={root}",
        f"data.synthetic.seed={s.seed}",
        f"data.synthetic.num_train_images={s.num_train_images}",
        f"data.synthetic.num_val_images={s.num_val_images}",
        f"data.synthetic.height={s.height}",
        f"data.synthetic.width={s.width}",
        "data.input_size=[64,64]",
        "data.batch_size=2",
        "data.val_batch_size=1",
        "data.num_workers=0",
        "model.width=0.25",
        "model.num_modules=[1,1,1]",
        "trainer=cpu",
        "trainer.enable_progress_bar=false",
        "callbacks.model_summary=none",
        "logger=none",
        "prediction_images=0",
    ]


def compose_config(overrides: list[str], typed: bool = True):
    """``train.yaml`` with ``overrides`` through Hydra's compose API: the ``TrainConfig``,
    or (``typed=False``) the DictConfig with its ``hydra`` node."""
    register_configs()
    with initialize_config_module(config_module="lite_hrnet.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=not typed)
    return OmegaConf.to_object(cfg) if typed else cfg


def fit_and_save(module, datamodule, path: Path, steps: int = 1) -> Path:
    """``path``: the Lightning checkpoint of ``module`` after ``steps`` training steps on
    ``datamodule`` (no validation, no logs)."""
    import warnings

    import lightning as L

    trainer = L.Trainer(
        max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        default_root_dir=path.parent,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, datamodule)
    trainer.save_checkpoint(path)
    return path


def one_step_checkpoint(overrides: list[str], folder: Path) -> Path:
    """``folder/tiny.ckpt``: the composed run's Lightning checkpoint after one step."""
    cfg = compose_config(overrides)
    return fit_and_save(*cfg.task.build(cfg.data, cfg.model), folder / "tiny.ckpt")


def run_cli(argv: list[str]) -> int:
    """``lite-hrnet`` in this process; Hydra's global state is cleared afterwards so that
    later tests can compose again."""
    from lite_hrnet.cli.main import main

    try:
        return main(argv)
    except SystemExit as stop:  # Hydra exits 1 after reporting a failed single run
        return int(stop.code or 0)
    finally:
        GlobalHydra.instance().clear()


def script_env() -> dict[str, str]:
    """The environment for child processes: this checkout's sources first."""
    src = str(Path(lite_hrnet.__file__).parents[1])
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}


def run_ranks(code: str, args: list[str], cwd: Path, ranks: int = 2, timeout: float = 300):
    """``python -c code *args`` as ``ranks`` processes of one torch.distributed job, started
    as a cluster launcher starts them (RANK, LOCAL_RANK, WORLD_SIZE, a free MASTER_PORT on
    the loopback); returns each process's (exit status, stdout and stderr)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    procs = []
    for rank in range(ranks):
        env = {**script_env(), "RANK": str(rank), "LOCAL_RANK": str(rank),
               "WORLD_SIZE": str(ranks), "NODE_RANK": "0", "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": port}  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, "-c", code, *args], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    return [(p.returncode, out) for p, out in zip(procs, outputs)]


def run_script(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed ``lite-hrnet`` console script, as a user runs it."""
    script = Path(sys.executable).with_name("lite-hrnet")
    return subprocess.run(
        [str(script), *argv],
        cwd=cwd,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fake_png(path: Path, width: int, height: int, color_type: int = 2) -> Path:
    """A small PNG file whose header claims ``width`` x ``height`` 8-bit pixels (colour
    type 2: RGB, 0: grey) over a few bytes of pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    )  # fmt: skip
    return path


def _mount(*args: str) -> None:
    out = subprocess.run(["mount", *args], capture_output=True, text=True)
    if out.returncode:
        pytest.skip(f"cannot mount ({out.stderr.strip()}): needs root with mount permission")


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` (existing) made read-only for the block: a read-only bind mount over it
    for root (who ignores permission bits), ``chmod 555`` for any other user."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(mode)
        return
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,bind,ro", str(folder))
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A file system of ``size`` (``"256k"``, ``"6m"``) mounted at ``folder`` for the block:
    a real full disk (tmpfs; needs root with mount permission, else the test is skipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


# A non-person keypoint set in the COCO format, cut from the generated persons: 5 joints
# whose names mark sides in two conventions, a 1-based skeleton, category id 4.
FIGURE_JOINTS = {"head": 0, "shoulderL": 5, "shoulderR": 6, "l_hip": 11, "r_hip": 12}
FIGURE_SKELETON = [[1, 2], [1, 3], [2, 4], [3, 5]]


def write_figure_set(coco_root: Path, out: Path, categories: list[dict] | None = None) -> Path:
    """``out/{train,val}.json``: the persons of ``coco_root`` with ``FIGURE_JOINTS`` only, as
    category 4 "figure" (or, with ``categories``, split in turn over those categories)."""
    import json

    keep = list(FIGURE_JOINTS.values())
    cats = categories or [
        {"id": 4, "name": "figure", "keypoints": list(FIGURE_JOINTS), "skeleton": FIGURE_SKELETON}
    ]
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        data = json.loads(
            (coco_root / f"annotations/person_keypoints_{split}2017.json").read_text()
        )
        for i, ann in enumerate(data["annotations"]):
            k = ann["keypoints"]
            ann["keypoints"] = [v for j in keep for v in k[3 * j : 3 * j + 3]]
            ann["num_keypoints"] = sum(1 for j in keep if k[3 * j + 2] > 0)
            ann["category_id"] = cats[i % len(cats)]["id"]
        data["categories"] = cats
        (out / f"{split}.json").write_text(json.dumps(data))
    return out


def figure_overrides(coco_root: Path, figure_root: Path) -> list[str]:
    """``data=coco_format`` on ``write_figure_set``'s files, shrunk as ``pose_overrides``."""
    return [
        "data=coco_format",
        f"data.root={figure_root}",
        "data.train_annotations=train.json",
        "data.val_annotations=val.json",
        f"data.train_images={coco_root / 'train2017'}",
        f"data.val_images={coco_root / 'val2017'}",
        "data.input_size=[64,64]",
        "data.batch_size=4",
        "data.val_batch_size=2",
        "data.num_workers=0",
        "model.width=0.5",
        "model.num_modules=[1,1,1]",
        "trainer.enable_progress_bar=false",
        "callbacks.model_summary=none",
        "prediction_images=0",
    ]
