"""Pose over many images with Lightning's predict loop: one process equals
``PoseEstimator``; two gloo ranks together equal one process; unreadable images are
skipped and named."""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.distributed as dist

from lite_hrnet import create_pose_model
from lite_hrnet.data.images import CorruptImageWarning
from lite_hrnet.inference.estimator import PoseEstimator
from lite_hrnet.tasks.pose_prediction import PosePredictionModule
from lite_hrnet.training.image_prediction import predict_images
from tests.support import run_ranks

REPO = Path(__file__).parents[2]
BOXES = {"b.png": [[4, 6, 30, 40], [20, 2, 24, 50]], "d.png": []}


def _images(folder: Path) -> list[Path]:
    """Five images (two with boxes, one with none) and an unreadable one, in this order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(["a.png", "b.png", "bad.png", "c.png", "d.png", "e.png"]):
        path = folder / name
        if name == "bad.png":
            path.write_bytes(b"not a png")
        else:
            rng = np.random.default_rng(i)
            cv2.imwrite(str(path), rng.integers(0, 255, (56 + 8 * i, 48, 3), dtype=np.uint8))
        paths.append(path)
    return paths


def _estimator(weights: Path | None = None) -> PoseEstimator:
    torch.manual_seed(0)
    network = create_pose_model("lite_hrnet_18", num_joints=17).eval()
    if weights is not None:
        network.load_state_dict(torch.load(weights, weights_only=True))
    return PoseEstimator(network, keypoint_set="coco", input_size=(64, 64), flip_test=True)


def _module(weights: Path | None = None) -> PosePredictionModule:
    return PosePredictionModule.for_estimator(_estimator(weights))


def _predict(module, images, out, **options):
    keys = [p.name for p in images]
    boxes = {k: np.asarray(v, np.float64).reshape(-1, 4) for k, v in BOXES.items()}
    return predict_images(module, images, keys, out, boxes, images_per_batch=1, **options)


def test_one_process_equals_the_pose_estimator(tmp_path: Path) -> None:
    images = _images(tmp_path / "images")
    estimator = _estimator()
    with pytest.warns(CorruptImageWarning, match=r"bad\.png"):
        result = _predict(
            PosePredictionModule.for_estimator(estimator), images, tmp_path / "out",
            num_workers=2,
        )  # fmt: skip
    assert result.skipped.keys() == {"bad.png"}
    assert result.predicted == ["a.png", "b.png", "c.png", "d.png", "e.png"]
    written = json.loads(result.path.read_text())
    assert list(written) == result.predicted and not list(tmp_path.glob("out/.keypoints*"))
    for path in images:
        if path.name == "bad.png":
            continue
        people = estimator(path, boxes=BOXES.get(path.name))
        expected = np.stack([p.keypoints for p in people]) if people else []
        assert np.array(written[path.name]).reshape(-1, 17, 3) == pytest.approx(
            expected, abs=0.006
        )  # rounded to 0.01
    assert len(written["b.png"]) == 2 and written["d.png"] == []


TWO_RANKS = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from tests.training.test_image_prediction import _images, _module, _predict

    folder, weights, out = map(Path, sys.argv[1:4])
    _predict(_module(weights), _images(folder), out, num_workers=1, devices=2,
             strategy="ddp")
    """
)


@pytest.mark.ddp
@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
def test_two_ranks_together_equal_one_process(tmp_path: Path) -> None:
    """Two gloo processes, started as a cluster launcher starts them, on six images (one
    unreadable: three each) and on five (three and two)."""
    weights = tmp_path / "weights.pt"
    torch.save(_module().network.state_dict(), weights)
    for count in (6, 5):
        folder = tmp_path / f"images{count}"
        images = _images(folder)
        if count == 5:
            images[2].unlink()  # bad.png gone: an odd number of images
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            single = _predict(_module(weights), sorted(folder.iterdir(), key=images.index),
                              tmp_path / f"single{count}", num_workers=0)  # fmt: skip
        done = run_ranks(TWO_RANKS, [str(folder), str(weights), str(tmp_path / f"ddp{count}")],
                         cwd=REPO)  # fmt: skip
        assert [code for code, _ in done] == [0, 0], done[0][1][-3000:] + done[1][1][-3000:]
        ddp = json.loads((tmp_path / f"ddp{count}" / "keypoints.json").read_text())
        assert ddp == json.loads(single.path.read_text())
