"""The `lite-hrnet` console script: summary and export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import lite_hrnet
from lite_hrnet.cli.main import main
from lite_hrnet.deploy.onnx import onnxruntime_session
from lite_hrnet.testing.weights import randomize
from tests.support import read_only


def test_summary_prints_the_paper_numbers(capsys) -> None:
    assert main(["summary", "lite_hrnet_18", "--input", "256x192"]) == 0
    out = capsys.readouterr().out
    assert "1,130,769" in out
    assert "paper FLOPs" in out


def test_summary_json_and_backbone_only(capsys) -> None:
    assert main(["summary", "naive_lite_hrnet_18", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"] == 760_365
    assert round(result["paper_flops"] / 2**20, 1) == 194.8
    assert main(["summary", "lite_hrnet_18", "--joints", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == 1_130_769 - 697


def test_summary_heads_follow_the_keypoint_set(capsys) -> None:
    from lite_hrnet.meta.keypoints import MPII

    assert main(["summary", "lite_hrnet_18", "--keypoints", "mpii", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["joints"] == MPII.num_joints and result["input"] == [256, 192]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["summary", "lite_hrnet_99"], "unknown model"),
        (["summary", "lite_hrnet_18", "--input", "100x64"], "multiples of 32"),
        (
            ["export", "lite_hrnet_18", "--checkpoint", "missing.pth", "--output", "x.onnx"],
            "missing.pth",
        ),
    ],
)
def test_errors_are_one_line_messages(capsys, argv, message) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_export_with_checkpoint(tmp_path: Path) -> None:
    model = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", num_joints=16)).eval()
    ckpt = tmp_path / "mpii.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, ckpt)
    onnx_path = tmp_path / "mpii.onnx"
    # Through the installed console script, as a user runs it.
    script = Path(sys.executable).with_name("lite-hrnet")
    subprocess.run(
        [
            str(script),
            "export",
            "lite_hrnet_18",
            "--checkpoint",
            str(ckpt),
            "--output",
            str(onnx_path),
            "--input",
            "128x128",
            "--joints",
            "16",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    x = torch.randn(2, 3, 128, 128)
    (got,) = onnxruntime_session(onnx_path).run(None, {"images": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("kind", ["read-only", "folder"])
def test_export_output_that_cannot_be_written_is_one_line_at_once(kind, tmp_path, capsys):
    (tmp_path / "mount").mkdir()
    output = tmp_path / "mount" / "model.onnx"
    if kind == "folder":
        output.mkdir()
        code = main(["export", "lite_hrnet_18", "--output", str(output)])
        endings: tuple[str, ...] = ("is a folder (name the file to write)",)
    else:
        with read_only(tmp_path / "mount"):
            code = main(["export", "lite_hrnet_18", "--output", str(output)])
        endings = ("read-only file system", "the folder is not writable")
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(f"lite-hrnet export: error: --output {output}: ")
    assert err.endswith(endings) and "\n" not in err
