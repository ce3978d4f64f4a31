"""The loading contract every data set shares: one skipping collate with one key, one
OpenCV thread per worker (without the fork deadlock), the same loader settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from lite_hrnet.data.loaders import collate_skipping, one_opencv_thread
from lite_hrnet.data.pose.datamodule import CocoKeypointsDataModule
from tests.support import script_env, tiny_datamodule


def test_collate_skipping_counts_the_unreadable_samples() -> None:
    sample = {"image": torch.zeros(3, 4, 4), "index": 1}
    batch = collate_skipping([sample, None, sample])
    assert batch["image"].shape == (2, 3, 4, 4) and batch["skipped"] == 1
    assert collate_skipping([None, None]) == {"skipped": torch.tensor(2)}


@pytest.mark.parametrize("task", ["pose", "segmentation"])
def test_both_tasks_load_the_same_way(task: str, request) -> None:
    if task == "pose":
        root = request.getfixturevalue("coco_root")
        dm = CocoKeypointsDataModule(root, input_size=[64, 64], batch_size=2, num_workers=1)
    else:
        dm = tiny_datamodule(request.getfixturevalue("cityscapes_root"), num_workers=1)
    dm.setup("fit")
    for loader, train in ((dm.train_dataloader(), True), (dm.val_dataloader(), False)):
        assert loader.collate_fn is collate_skipping
        assert loader.worker_init_fn is one_opencv_thread
        assert loader.drop_last is train and not loader.persistent_workers
    assert dm.hparams["num_workers"] == 1  # the config, saved with checkpoints


@pytest.mark.slow
def test_workers_start_after_opencv_ran_threaded_in_the_main_process(cityscapes_root) -> None:
    # A forked worker that changes OpenCV's thread count after the main process used
    # OpenCV's thread pool deadlocks; the loaders set it in the main process first.
    code = textwrap.dedent(
        f"""
        import cv2, numpy as np
        from tests.support import tiny_datamodule
        image = np.random.rand(1500, 1500, 3).astype(np.float32)
        for _ in range(3):
            cv2.resize(image, (700, 700)); cv2.GaussianBlur(image, (11, 11), 0)
        dm = tiny_datamodule({str(cityscapes_root)!r}, num_workers=2)
        dm.setup("fit")
        print(sum(len(b["image"]) for b in dm.train_dataloader()))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=script_env(), capture_output=True, text=True,
        timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "4"
