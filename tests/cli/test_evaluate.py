"""``lite-hrnet eval`` in its two forms, flags and a run's own config (Hydra overrides):
the checkpoint's own settings, the same table and the same predictions file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lite_hrnet.cli.main import main
from tests.support import (
    one_step_checkpoint,
    pose_overrides,
    read_only,
    run_cli,
    street_overrides,
)


@pytest.fixture(scope="module")
def pose_checkpoint(coco_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pose Lightning checkpoint of the tiny 64x64 run after one step."""
    return one_step_checkpoint(pose_overrides(coco_root), tmp_path_factory.mktemp("pose"))


@pytest.fixture(scope="module")
def mpii_checkpoint(mpii_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MPII pose Lightning checkpoint of the tiny 64x64 run after one step."""
    overrides = [o for o in pose_overrides(mpii_root) if not o.startswith("experiment=")]
    overrides = ["experiment=synthetic_mpii", *overrides, "monitor=val/PCKh"]
    return one_step_checkpoint(overrides, tmp_path_factory.mktemp("mpii"))


def _table(out: str) -> list[str]:
    """The metric table's rows (the title line names the weights, so it is left out)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("coco "))
    return lines[start + 1 : start + 4]


@pytest.mark.slow
def test_both_forms_evaluate_a_pose_checkpoint_alike(
    coco_root: Path, pose_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    ckpt = tmp_path / "run" / "best.ckpt"
    ckpt.parent.mkdir()
    shutil.copy(pose_checkpoint, ckpt)
    argv = ["eval", "coco", "--checkpoint", str(ckpt), "--data-root", str(coco_root)]
    assert main([*argv, "--num-workers", "0", "--batch-size", "1"]) == 0
    out = capsys.readouterr().out
    # The checkpoint's own settings, not the data set's defaults (256x192).
    assert "input 64x64, heatmap 16x16, sigma 0.5, flip test on" in out
    assert "evaluated 11 of 11 samples; skipped 0 unreadable" in out
    written = ckpt.with_name("best_predictions_coco.json")
    assert f"predictions written to {written}" in out
    flags_table = _table(out)
    assert "AP" in flags_table[0]

    run_dir = tmp_path / "hydra"
    overrides = [*pose_overrides(coco_root), f"ckpt_path={ckpt}", f"hydra.run.dir={run_dir}"]
    assert run_cli(["eval", *overrides]) == 0
    out = capsys.readouterr().out
    assert _table(out) == flags_table
    assert "evaluated 11 of 11 samples; skipped 0 unreadable" in out
    hydra_written = run_dir / "predictions_coco.json"
    assert json.loads(hydra_written.read_text()) == json.loads(written.read_text())


@pytest.mark.slow
def test_both_forms_evaluate_a_segmentation_checkpoint_alike(
    cityscapes_root: Path, tiny_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    ckpt = tmp_path / "seg.ckpt"
    shutil.copy(tiny_checkpoint, ckpt)
    argv = ["eval", "cityscapes", "--checkpoint", str(ckpt), "--data-root", str(cityscapes_root)]
    assert main([*argv, "--num-workers", "0"]) == 0
    out = capsys.readouterr().out
    assert "evaluated 3 of 3 samples; skipped 0 unreadable" in out
    written = tmp_path / "seg_predictions_cityscapes.json"
    assert f"predictions written to {written}" in out
    run_dir = tmp_path / "hydra"
    overrides = [*street_overrides(cityscapes_root), f"ckpt_path={ckpt}"]
    overrides.append(f"hydra.run.dir={run_dir}")
    assert run_cli(["eval", *overrides]) == 0
    out_hydra = capsys.readouterr().out
    assert "evaluated 3 of 3 samples; skipped 0 unreadable" in out_hydra
    assert json.loads((run_dir / "predictions_cityscapes.json").read_text()) == json.loads(
        written.read_text()
    )


def test_the_hydra_form_needs_weights(coco_root: Path, tmp_path: Path, capsys) -> None:
    overrides = [*pose_overrides(coco_root), f"hydra.run.dir={tmp_path}"]
    assert run_cli(["eval", *overrides]) == 2
    err = capsys.readouterr().err
    assert "lite-hrnet eval: error: ckpt_path: the weights to evaluate" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_the_hydra_form_says_in_one_line_that_a_checkpoint_is_of_another_task(
    coco_root: Path, tiny_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    overrides = [*pose_overrides(coco_root), f"ckpt_path={tiny_checkpoint}",
                 f"hydra.run.dir={tmp_path}"]  # fmt: skip
    assert run_cli(["eval", *overrides]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"lite-hrnet eval: error: {tiny_checkpoint}: a segmentation checkpoint, not a pose one"
    )


def test_eval_prints_how_many_samples_it_skipped(
    cityscapes_root: Path, tiny_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(cityscapes_root, root)
    image = sorted((root / "leftImg8bit" / "val").rglob("*.png"))[0]
    image.write_bytes(b"\x89PNG not really")
    output = tmp_path / "results.json"
    argv = ["eval", "cityscapes", "--checkpoint", str(tiny_checkpoint), "--data-root", str(root)]
    with pytest.warns(UserWarning, match=image.name):
        assert main([*argv, "--num-workers", "0", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "evaluated 2 of 3 samples; skipped 1 unreadable" in out
    assert f"predictions written to {output}" in out


@pytest.mark.slow
def test_both_forms_evaluate_an_mpii_checkpoint_alike(
    mpii_root: Path, mpii_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    argv = ["eval", "mpii", "--checkpoint", str(mpii_checkpoint), "--data-root", str(mpii_root)]
    assert main([*argv, "--num-workers", "0", "--batch-size", "1"]) == 0
    out = capsys.readouterr().out
    assert "input 64x64, heatmap 16x16" in out
    flags_rows = [line for line in out.splitlines() if line.startswith("|")]
    assert flags_rows and "PCKh" in flags_rows[0]
    evaluated = next(line for line in out.splitlines() if line.startswith("evaluated "))

    overrides = [o for o in pose_overrides(mpii_root) if not o.startswith("experiment=")]
    run_dir = tmp_path / "hydra"
    overrides += ["monitor=val/PCKh", f"ckpt_path={mpii_checkpoint}", f"hydra.run.dir={run_dir}"]
    assert run_cli(["eval", "experiment=synthetic_mpii", *overrides]) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("|")] == flags_rows
    assert evaluated in out


@pytest.mark.slow
def test_eval_runs_an_onnx_export_or_bf16_through_the_same_metric(
    coco_root: Path, pose_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    from lite_hrnet.deploy import export_onnx, optimize_for_inference
    from lite_hrnet.tasks.pose import PoseEstimationModule

    network = PoseEstimationModule.from_checkpoint(str(pose_checkpoint)).model.eval()
    lean = optimize_for_inference(network, compile=False, channels_last=False)
    onnx_file = export_onnx(lean, tmp_path / "tiny.onnx", input_size=(64, 64))
    argv = ["eval", "coco", "--checkpoint", str(pose_checkpoint), "--data-root", str(coco_root)]
    argv += ["--num-workers", "0", "--batch-size", "2"]
    assert main([*argv, "--onnx", str(onnx_file)]) == 0
    out = capsys.readouterr().out
    assert f"in ONNX Runtime ({onnx_file})" in out and "AP" in _table(out)[0]
    assert "evaluated 11 of 11 samples" in out
    assert f"predictions written to {tmp_path / 'tiny_predictions_coco.json'}" in out

    assert main([*argv, "--bf16"]) == 0
    out = capsys.readouterr().out
    assert "in bfloat16" in out and "AP" in _table(out)[0]
    assert f"{pose_checkpoint.stem}_bf16_predictions_coco.json" in out

    small = export_onnx(lean, tmp_path / "small.onnx", input_size=(32, 32))
    assert main([*argv, "--onnx", str(small)]) == 2
    assert "export it with --input 64x64" in capsys.readouterr().err


def test_an_output_folder_gets_the_predictions_file_and_the_table_is_printed(
    coco_root: Path, pose_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    argv = ["eval", "coco", "--checkpoint", str(pose_checkpoint), "--data-root", str(coco_root),
            "--num-workers", "0", "--output", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "|    AP |" in out
    assert f"predictions written to {tmp_path / 'predictions_coco.json'}" in out
    assert isinstance(json.loads((tmp_path / "predictions_coco.json").read_text()), list)


def test_an_output_that_cannot_be_written_is_one_line_before_the_evaluation(
    coco_root: Path, pose_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    (tmp_path / "mount").mkdir()
    output = tmp_path / "mount" / "predictions.json"
    argv = ["eval", "coco", "--checkpoint", str(pose_checkpoint), "--data-root", str(coco_root),
            "--num-workers", "0", "--output", str(output)]  # fmt: skip
    with read_only(tmp_path / "mount"):
        assert main(argv) == 2
    captured = capsys.readouterr()
    assert "|    AP |" not in captured.out  # said before minutes of evaluation
    err = captured.err.strip()
    assert err.startswith(f"lite-hrnet eval: error: {tmp_path / 'mount'}: ")
    assert err.endswith(("read-only file system", "permission denied")) and "\n" not in err
