"""Ahead-of-time packages: eager's outputs at any batch, and clear errors for a package
built for another input size or another torch (the conftest's tiny package, compiled once
per test run)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from torch import nn

import lite_hrnet
from lite_hrnet.cli import export as export_cli
from lite_hrnet.cli.main import main
from lite_hrnet.codecs.heatmap_codec import HeatmapCodec
from lite_hrnet.deploy.package import INFO_FILE, PackageError, load_package, read_package_info
from lite_hrnet.meta.keypoints import KeypointSet

pytestmark = pytest.mark.slow  # an AOTInductor compile

SIZE = (64, 64)  # the conftest's tiny_package


@pytest.fixture
def package_path(tiny_package: Path) -> Path:
    return tiny_package


@pytest.fixture
def tiny_model(tiny_pose_model: nn.Module) -> nn.Module:
    return tiny_pose_model


def test_package_equals_eager_at_any_batch(tiny_model: nn.Module, package_path: Path) -> None:
    package = load_package(package_path, input_size=SIZE)
    assert package.info.input_size == SIZE and package.info.torch == torch.__version__
    assert package.info.batch1_graph  # batch 1 runs its own graph, batch 3 the dynamic one
    assert package.info.threads == torch.get_num_threads()  # compiled for these
    for batch in (1, 3):
        x = torch.randn(batch, 3, *SIZE)
        with torch.no_grad():
            expected = tiny_model(x)
        got = package(x)
        assert got.shape == expected.shape == (batch, 17, 16, 16)
        scale = expected.abs().max()
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("change", [-1, 1])
def test_another_thread_count_warns_and_gives_the_same_outputs(
    tiny_model: nn.Module, package_path: Path, change: int
) -> None:
    # More threads than compiled for crashed here (a reduction's per-thread partial sums);
    # the package runs on at most its own count.
    threads = torch.get_num_threads()
    if threads + change < 1:
        pytest.skip("compiled for one thread")
    x = torch.randn(2, 3, *SIZE)
    try:
        torch.set_num_threads(threads + change)
        with pytest.warns(UserWarning, match=rf"compiled for {threads} threads, this process"):
            package = load_package(package_path)
        got = [package(x[:1]), package(x)]
        assert torch.get_num_threads() == threads + change  # restored after each call
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        expected = tiny_model(x)
    scale = expected.abs().max()
    torch.testing.assert_close(torch.cat(got[:1]), expected[:1], rtol=1e-4, atol=1e-4 * scale)
    torch.testing.assert_close(got[1], expected, rtol=1e-4, atol=1e-4 * scale)


def test_package_refuses_another_input_size(package_path: Path) -> None:
    with pytest.raises(PackageError, match=r"built for 64x64 inputs, not 128x96"):
        load_package(package_path, input_size=(128, 96))
    package = load_package(package_path)
    with pytest.raises(PackageError, match=r"takes images \(B, 3, 64, 64\).*--input 128x96"):
        package(torch.zeros(1, 3, 128, 96))


def test_package_of_another_torch_is_refused_before_loading(
    package_path: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.pt2"
    _rewrite_info(package_path, other, torch="1.0.0")
    assert read_package_info(other).torch == "1.0.0"
    with pytest.raises(PackageError, match=r"built with torch 1.0.0, this is torch"):
        load_package(other)


def test_an_archive_without_our_info_is_named(package_path: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.pt2"
    _rewrite_info(package_path, bare, drop=True)
    with pytest.raises(PackageError, match=f"bare.pt2: no {INFO_FILE}"):
        load_package(bare)
    other = tmp_path / "other.pt2"
    _rewrite_info(package_path, other, colour="blue")  # a field this version does not know
    with pytest.raises(PackageError, match=f"other.pt2: unreadable {INFO_FILE}"):
        load_package(other)
    text = tmp_path / "text.pt2"
    text.write_text("not a zip")
    with pytest.raises(PackageError, match=r"text\.pt2: not a \.pt2 archive"):
        load_package(text)


def test_predict_pose_with_a_package(
    package_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = np.random.default_rng(0).integers(0, 255, (80, 60, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "person.png"), image)
    out = tmp_path / "out"
    argv = ["predict", "pose", str(tmp_path / "person.png"), "--package", str(package_path)]
    assert main([*argv, "--output", str(out)]) == 0
    keypoints = json.loads((out / "keypoints.json").read_text())["person.png"]
    assert np.asarray(keypoints).shape == (1, 17, 3)
    assert (out / "person_pose.png").exists()
    assert main([*argv, "--output", str(out), "--input", "128x96"]) == 2
    assert "built for 64x64 inputs, not 128x96" in capsys.readouterr().err
    assert main([*argv, "--checkpoint", str(package_path)]) == 2
    assert "either --checkpoint or --package" in capsys.readouterr().err


def test_predict_pose_with_a_package_that_stores_its_keypoint_set(
    package_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A 17-joint set of its own without flip pairs (so no flip test), and a codec that
    # decodes with DARK: the package's keypoints must be the plain package's with
    # --no-flip --dark.
    keypoints = KeypointSet("parts", [f"part_{i}" for i in range(17)], skeleton=[(0, 1)])
    codec = HeatmapCodec.from_input_hw((64, 64), dark=True)
    custom = tmp_path / "custom.pt2"
    meta = {"keypoint_set": keypoints.to_dict(), "codec": codec.to_dict()}
    _rewrite_info(package_path, custom, task_meta=meta)
    image = np.random.default_rng(1).integers(0, 255, (80, 60, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "thing.png"), image)
    argv = ["predict", "pose", str(tmp_path / "thing.png")]

    def predicted(package: Path, out: str, *flags: str) -> np.ndarray:
        folder = tmp_path / out
        assert main([*argv, "--package", str(package), "--output", str(folder), *flags]) == 0
        return np.asarray(json.loads((folder / "keypoints.json").read_text())["thing.png"])

    got = predicted(custom, "custom")
    assert got.shape == (1, 17, 3)
    np.testing.assert_allclose(got, predicted(package_path, "plain", "--no-flip", "--dark"))
    assert not np.allclose(got, predicted(package_path, "flipped"))
    five = KeypointSet("five", [f"p{i}" for i in range(5)])
    _rewrite_info(package_path, tmp_path / "five.pt2", task_meta={"keypoint_set": five.to_dict()})
    assert (
        main([*argv, "--package", str(tmp_path / "five.pt2"), "--output", str(tmp_path / "o")]) == 2
    )
    assert "its keypoint set has 5 joints, its network 17 outputs" in capsys.readouterr().err


def test_export_cli_writes_a_package_of_the_named_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict] = []

    def record(model: nn.Module, path: Path, **kwargs) -> Path:
        calls.append({"model": model, "path": path, **kwargs})
        return path

    monkeypatch.setattr(export_cli, "export_package", record)
    out = tmp_path / "seg.pt2"
    argv = ["export", "lite_hrnet_18", "--format", "pt2", "--output", str(out)]
    assert main([*argv, "--input", "128x96", "--task", "segmentation", "--classes", "5"]) == 0
    (call,) = calls
    assert isinstance(call["model"], lite_hrnet.SegmentationModel)
    assert not call["model"].training
    assert call["path"] == out and call["input_size"] == (128, 96)
    assert (call["task"], call["outputs"], call["variant"]) == ("segmentation", 5, "lite_hrnet_18")
    assert call["autotune"]
    assert main([*argv, "--no-autotune"]) == 0
    assert not calls[-1]["autotune"]


def _rewrite_info(source: Path, target: Path, drop: bool = False, **changes: Any) -> None:
    """A copy of the package ``source`` with its info changed (or dropped)."""
    shutil.copy(source, target)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename.endswith(INFO_FILE):
                if drop:
                    continue
                data = json.dumps({**json.loads(data), **changes}).encode()
            new.writestr(item, data)
