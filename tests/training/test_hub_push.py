"""``push_to_hub=org/name``: checked before training, and at the end the tested checkpoint
as a saved folder with a model card, uploaded through huggingface_hub's API (replaced here
by a recorder: no network)."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub
import pytest
import torch

import lite_hrnet
from lite_hrnet.config.schema import TrainConfig
from lite_hrnet.meta.keypoints import KeypointSet
from lite_hrnet.tasks.pose import PoseEstimationModule
from lite_hrnet.testing.weights import randomize
from lite_hrnet.training.hub_push import push_run
from tests.support import TINY_BACKBONE, pose_overrides, run_cli

ARM = KeypointSet("arm", ["base", "elbow_l", "elbow_r"], flip_pairs=[(1, 2)])


class Calls(list):
    """The recorded calls; ``fail`` makes the upload raise."""

    fail = False


@pytest.fixture
def uploads(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """huggingface_hub.HfApi replaced by a recorder of its calls."""
    calls = Calls()

    class Recorder:
        def __init__(self, token=None) -> None:
            pass

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id))

        def upload_folder(self, **kwargs):
            if calls.fail:
                raise OSError("no route to host")
            calls.append(("upload_folder", kwargs["repo_id"], Path(kwargs["folder_path"])))
            return f"https://hub.example/{kwargs['repo_id']}/commit/1"

    monkeypatch.setattr(huggingface_hub, "HfApi", Recorder)
    return calls


@pytest.mark.parametrize("bad", ["org/na me", "no_namespace", "a/b/c"])
def test_a_bad_repository_id_fails_validation(bad: str) -> None:
    with pytest.raises(ValueError, match="push_to_hub: repository id"):
        TrainConfig(push_to_hub=bad).validate()


def test_the_tested_checkpoint_is_saved_and_uploaded(tmp_path: Path, uploads) -> None:
    module = PoseEstimationModule(keypoint_set=ARM, backbone_overrides=TINY_BACKBONE)
    randomize(module.model)
    checkpoint = tmp_path / "best.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)},
               checkpoint)  # fmt: skip
    summary = {"test": {"AP": 0.75}, "monitor": "val/AP", "best": 0.5}
    record = push_run(PoseEstimationModule, checkpoint, tmp_path, summary,
                      {"data.format": "arm", "seed": 1}, "org/arm-pose")  # fmt: skip
    assert record["url"] == "https://hub.example/org/arm-pose/commit/1"
    assert uploads == [("create_repo", "org/arm-pose"),
                       ("upload_folder", "org/arm-pose", tmp_path / "hf")]  # fmt: skip
    model, config = lite_hrnet.load_pretrained_folder(tmp_path / "hf")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), module.model.eval()(x))
    assert KeypointSet.from_dict(config["keypoint_set"]) == ARM
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "hf-hub:org/arm-pose" in card and "| test/AP | 0.7500 |" in card


def test_a_failed_upload_keeps_the_folder_and_says_why(tmp_path: Path, uploads) -> None:
    uploads.fail = True
    module = PoseEstimationModule(keypoint_set=ARM, backbone_overrides=TINY_BACKBONE)
    checkpoint = tmp_path / "best.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)},
               checkpoint)  # fmt: skip
    record = push_run(PoseEstimationModule, checkpoint, tmp_path, {}, {}, "org/arm-pose")
    assert record["error"] == "OSError: no route to host"
    assert (tmp_path / "hf" / "model.safetensors").is_file()


@pytest.mark.slow
def test_a_run_with_push_to_hub_uploads_its_best_checkpoint(coco_root, tmp_path, uploads) -> None:
    run = tmp_path / "run"
    code = run_cli(["train", *pose_overrides(coco_root), "debug=limit", "prediction_images=0",
                    "push_to_hub=org/tiny-coco", f"hydra.run.dir={run}"])  # fmt: skip
    assert code == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["push_to_hub"]["url"].endswith("org/tiny-coco/commit/1")
    assert uploads[-1] == ("upload_folder", "org/tiny-coco", run / "hf")
    model, config = lite_hrnet.load_pretrained_folder(run / "hf")
    assert model.num_joints == 17
    assert config["keypoint_set"]["name"] == "coco"
    assert config["training"]["push_to_hub"] == "org/tiny-coco"
    assert "test/AP" in (run / "hf" / "README.md").read_text()
