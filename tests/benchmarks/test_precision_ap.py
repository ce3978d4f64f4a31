"""The per-precision AP table on a one-step checkpoint of the tiny run: each path is
exported and evaluated by the CLI and scored from its predictions file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import precision_ap
from tests.support import one_step_checkpoint, pose_overrides

pytestmark = pytest.mark.slow  # an export and three evaluations, each a process


def test_an_exact_export_scores_as_the_checkpoint(coco_root: Path, tmp_path: Path) -> None:
    checkpoint = one_step_checkpoint(pose_overrides(coco_root), tmp_path)
    paths = ["torch fp32", "onnxruntime fp32, export --optimize"]
    work = tmp_path / "work"
    scores = precision_ap.main(["--checkpoint", str(checkpoint), "--data-root", str(coco_root),
                                "--work-dir", str(work), "--paths", *paths])  # fmt: skip
    assert list(scores) == paths
    torch_fp32, ort_fp32 = (scores[p] for p in paths)
    assert set(torch_fp32) >= {"AP", "AP50"}
    assert ort_fp32 == pytest.approx(torch_fp32, abs=1e-3)
    files = sorted(work.glob("*_predictions.json"))
    assert len(files) == 2
    counts = [len(json.loads(f.read_text())) for f in files]
    assert counts[0] == counts[1] > 0
    assert (work / "opt.onnx").is_file()
