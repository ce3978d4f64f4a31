"""``lite-hrnet predict pose``: a counted skip for an undecodable image, and distinct
outputs for inputs that share a stem."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import lite_hrnet
from lite_hrnet.cli.main import main
from lite_hrnet.data.images import CorruptImageWarning
from lite_hrnet.testing.weights import randomize


@pytest.fixture(scope="module")
def pose_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "pose.pth"
    torch.save(randomize(lite_hrnet.create_pose_model("lite_hrnet_18"), seed=2).state_dict(), path)
    return path


def _image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    cv2.imwrite(str(path), pixels)
    return path


def _predict(images: list[Path], weights: Path, output: Path) -> int:
    argv = ["predict", "pose", *map(str, images), "--checkpoint", str(weights)]
    return main([*argv, "--input", "64x64", "--output", str(output)])


def test_an_undecodable_image_is_a_counted_skip(pose_weights, tmp_path, capsys) -> None:
    good = _image(tmp_path / "in" / "good.png", 0)
    bad = tmp_path / "in" / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.warns(CorruptImageWarning, match=r"cannot decode image .*bad.jpg"):
        assert _predict([bad, good], pose_weights, tmp_path / "out") == 0
    assert "wrote 1 of 2 predictions" in capsys.readouterr().out
    results = json.loads((tmp_path / "out" / "keypoints.json").read_text())
    assert list(results) == ["good.png"] and np.shape(results["good.png"]) == (1, 17, 3)
    assert (tmp_path / "out" / "good_pose.png").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _predict([bad], pose_weights, tmp_path / "out2") != 0
    assert "none of the 1 images could be decoded" in capsys.readouterr().err


def test_inputs_sharing_a_stem_keep_their_own_outputs(pose_weights, tmp_path) -> None:
    images = [
        _image(tmp_path / "a" / "x.png", 1),
        _image(tmp_path / "b" / "x.png", 2),
        _image(tmp_path / "b" / "x.jpg", 3),
    ]
    out = tmp_path / "out"
    assert _predict(images, pose_weights, out) == 0
    results = json.loads((out / "keypoints.json").read_text())
    assert sorted(results) == ["a/x.png", "b/x.jpg", "b/x.png"]
    assert sorted(p.name for p in out.glob("*_pose.png")) == [
        "a_x_png_pose.png", "b_x_jpg_pose.png", "b_x_png_pose.png"
    ]  # fmt: skip
    drawn = [cv2.imread(str(out / f"{name}_pose.png")) for name in ("a_x_png", "b_x_png")]
    assert not np.array_equal(*drawn)  # each drawn over its own image
