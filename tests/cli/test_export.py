"""``lite-hrnet export --format pt2`` from one of our pose checkpoints stores the checkpoint's
keypoint set and codec in the package, so that ``predict --package`` decodes and draws as
the checkpoint does (``tests/deploy/test_package.py`` predicts with such a package)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lite_hrnet.cli import export as export_cli
from lite_hrnet.cli.main import main
from lite_hrnet.codecs.heatmap_codec import HeatmapCodec
from lite_hrnet.meta.keypoints import KeypointSet
from lite_hrnet.tasks.pose import PoseEstimationModule


def _record(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    calls: list[dict] = []

    def record(model: torch.nn.Module, path: Path, **kwargs) -> Path:
        calls.append(kwargs)
        return path

    monkeypatch.setattr(export_cli, "export_package", record)
    return calls


def test_a_pose_package_stores_the_checkpoints_keypoint_set_and_codec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arm = KeypointSet("arm", ["base", "elbow_l", "elbow_r"], flip_pairs=[(1, 2)])
    module = PoseEstimationModule(keypoint_set=arm)
    module.codec = module.codec.with_input_hw((64, 64)).replace(dark=True)
    checkpoint = tmp_path / "arm.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)},
               checkpoint)  # fmt: skip
    calls = _record(monkeypatch)
    argv = ["export", "lite_hrnet_18", "--format", "pt2", "--input", "64x64",
            "--output", str(tmp_path / "arm.pt2")]  # fmt: skip
    assert main([*argv, "--checkpoint", str(checkpoint)]) == 0
    meta = calls[-1]["task_meta"]
    assert KeypointSet.from_dict(meta["keypoint_set"]) == arm
    assert HeatmapCodec.from_dict(meta["codec"]) == module.codec
    assert calls[-1]["outputs"] == 3
    assert main(argv) == 0  # without a checkpoint: nothing to store
    assert calls[-1]["task_meta"] is None


@pytest.mark.slow
def test_a_checkpoint_of_a_narrower_run_exports_at_its_trained_size(
    coco_root: Path, tmp_path: Path
) -> None:
    """A run that replaced the variant's width and depth (``model.width=0.5``,
    ``model.num_modules=[1,1,1]``) and trained at 64x64 exports without --input, as built."""
    import numpy as np

    from lite_hrnet.deploy.onnx import onnxruntime_session
    from lite_hrnet.inference.estimator import PoseEstimator
    from tests.support import one_step_checkpoint, pose_overrides

    checkpoint = one_step_checkpoint(pose_overrides(coco_root), tmp_path)
    onnx = tmp_path / "narrow.onnx"
    argv = ["export", "lite_hrnet_18", "--checkpoint", str(checkpoint), "--output", str(onnx)]
    assert main(argv) == 0
    session = onnxruntime_session(onnx)
    assert session.get_inputs()[0].shape[1:] == [3, 64, 64]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = PoseEstimator(checkpoint).source.network(x)
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)
