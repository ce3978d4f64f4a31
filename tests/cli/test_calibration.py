"""``lite-hrnet export --int8``'s two calibration forms: a training run's config
(``--calibration OVERRIDE...``) takes the same crops as ``--calibration-root`` on the same
folder, generates a synthetic set first, settles the input size, and refuses what it
cannot calibrate on with a message that names the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lite_hrnet.cli import export
from lite_hrnet.deploy import quantize
from lite_hrnet.synthetic.marker import MARKER
from tests.support import pose_overrides, run_cli


@pytest.fixture
def calibrated(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What each export was given: its input size and calibration batches. The ONNX export
    and the quantisation are stand-ins, so that these tests check the crops in seconds
    (``tests/deploy/test_quantize.py`` runs the real ones)."""
    calls: list[dict[str, Any]] = []

    def export_onnx(model: Any, path: Path, input_size: tuple[int, int], **_: Any) -> Path:
        calls.append({"input_size": tuple(input_size)})
        Path(path).write_bytes(b"")
        return Path(path)

    def quantize_onnx(fp32: Path, output: Path, batches: list[np.ndarray], **_: Any) -> Path:
        calls[-1]["batches"] = list(batches)
        Path(output).write_bytes(b"")
        return Path(output)

    monkeypatch.setattr(export, "export_onnx", export_onnx)
    monkeypatch.setattr(export, "optimize_for_inference", lambda model, **_: model)
    monkeypatch.setattr(quantize, "quantize_onnx", quantize_onnx)
    return calls


def _argv(tmp_path: Path, *extra: str) -> list[str]:
    return ["export", "lite_hrnet_18", "--int8", "--output", str(tmp_path / "m.onnx"), *extra]


def test_a_config_calibrates_on_the_crops_of_its_folder(
    coco_root: Path, calibrated: list[dict[str, Any]], tmp_path: Path, capsys
) -> None:
    argv = _argv(tmp_path, "--calibration-images", "10")
    # No --input: the config's data.input_size (64x64); the same size given is accepted.
    assert run_cli([*argv, "--calibration", *pose_overrides(coco_root)]) == 0
    out = capsys.readouterr().out
    assert f"on 10 crops of the train split of {coco_root}, input (batch, 3, 64, 64)" in out
    assert run_cli([*argv, "--input", "64x64", "--calibration", *pose_overrides(coco_root)]) == 0
    assert run_cli([*argv, "--input", "64x64", "--calibration-root", str(coco_root)]) == 0
    assert f"calibrated on 10 crops of {coco_root}/train2017," in capsys.readouterr().out
    hydra, explicit, flags = calibrated
    assert hydra["input_size"] == explicit["input_size"] == flags["input_size"] == (64, 64)
    assert [b.shape for b in hydra["batches"]] == [(8, 3, 64, 64), (2, 3, 64, 64)]
    for batches in (explicit["batches"], flags["batches"]):
        assert len(batches) == len(hydra["batches"])
        assert all(np.array_equal(a, b) for a, b in zip(batches, hydra["batches"]))


def test_a_synthetic_set_is_generated_first(
    coco_root: Path, calibrated: list[dict[str, Any]], tmp_path: Path, capsys
) -> None:
    root = tmp_path / "fresh"
    argv = _argv(tmp_path, "--calibration-images", "4", "--calibration")
    assert run_cli([*argv, *pose_overrides(root)]) == 0
    assert (root / MARKER).is_file()
    assert "synthetic COCO train" in capsys.readouterr().err  # the generator's progress
    # Same generator settings as coco_root's, so the same crops.
    assert run_cli([*argv, *pose_overrides(coco_root)]) == 0
    fresh, shared = (c["batches"] for c in calibrated)
    assert all(np.array_equal(a, b) for a, b in zip(fresh, shared))


def test_an_mpii_config_calibrates_on_its_train_split(
    mpii_root: Path, calibrated: list[dict[str, Any]], tmp_path: Path, capsys
) -> None:
    overrides = [o for o in pose_overrides(mpii_root) if not o.startswith("experiment=")]
    argv = _argv(tmp_path, "--joints", "16", "--calibration-images", "3", "--calibration")
    assert run_cli([*argv, "experiment=synthetic_mpii", *overrides]) == 0
    assert f"calibrated on 3 crops of the train split of {mpii_root}" in capsys.readouterr().out
    assert [b.shape for b in calibrated[0]["batches"]] == [(3, 3, 64, 64)]


def test_both_forms_together_are_refused(coco_root: Path, tmp_path: Path, capsys) -> None:
    argv = _argv(tmp_path, "--calibration-root", str(coco_root), "--calibration")
    assert run_cli([*argv, "experiment=synthetic_coco"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


# Arguments after --int8 that cannot calibrate, and what the error says.
REFUSED = [
    ([], "--int8 needs calibration images: --calibration OVERRIDE... (a training config, "
         "e.g. experiment=synthetic_coco) or --calibration-root DIR"),
    (["--calibration", "experiment=synthetic_cityscapes"],
     "--calibration experiment=synthetic_cityscapes: a segmentation config "
     "(CityscapesDataConfig); int8 calibration takes person crops of a pose config"),
    (["--calibration", "experiment=nope"], "experiment=nope"),
    (["--calibration", "experiment=synthetic_coco", "data.batch_size=0"], "data.batch_size"),
    (["--calibration", "experiment=synthetic_coco", "+data.nope=1"],
     "data.nope: no such key in the config"),
    (["--calibration-split", "val2017", "--calibration", "experiment=synthetic_coco"],
     "with --calibration, override data.train_split"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), REFUSED)
def test_what_cannot_calibrate_is_refused(
    argv: list[str], message: str, tmp_path: Path, capsys
) -> None:
    assert run_cli(_argv(tmp_path, *argv)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_an_input_size_other_than_the_configs_is_refused(
    coco_root: Path, tmp_path: Path, capsys
) -> None:
    argv = _argv(tmp_path, "--input", "128x96", "--calibration", *pose_overrides(coco_root))
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert "--input 128x96 differs from the input size of --calibration experiment=" in err
    assert "data.input_size 64x64; leave --input out" in err


def test_calibration_without_int8_is_refused(coco_root: Path, tmp_path: Path, capsys) -> None:
    argv = ["export", "lite_hrnet_18", "--output", str(tmp_path / "m.onnx")]
    assert run_cli([*argv, "--calibration-root", str(coco_root)]) == 2
    assert "calibrate --int8: add --int8" in capsys.readouterr().err


def test_export_int8_through_a_config_end_to_end(coco_root: Path, tmp_path: Path, capsys) -> None:
    import torch

    from lite_hrnet.deploy.quantize import OnnxRuntimeModel, onnx_input_shape

    argv = _argv(tmp_path, "--calibration-images", "6", "--calibration")
    assert run_cli([*argv, *pose_overrides(coco_root)]) == 0
    assert "int8 QDQ calibrated on 6 crops of the train split" in capsys.readouterr().out
    out = tmp_path / "m.onnx"
    assert onnx_input_shape(out) == ("batch", 3, 64, 64)  # the config's input size
    heatmaps = OnnxRuntimeModel(out)(torch.zeros(2, 3, 64, 64))
    assert heatmaps.shape == (2, 17, 16, 16) and torch.isfinite(heatmaps).all()
