"""What both task modules share: options checked against their config, checkpoints read
back by ``from_checkpoint`` whatever file they come from, and the task they belong to."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lite_hrnet import create_segmentation_model
from lite_hrnet.models import CheckpointError
from lite_hrnet.tasks.pose import PoseEstimationModule, PoseTaskConfig
from lite_hrnet.tasks.segmentation import SegmentationModule
from lite_hrnet.testing.weights import randomize

SMALL = {"num_modules": (1, 1, 1), "width": 0.5}


@pytest.mark.parametrize("kind", [PoseEstimationModule, SegmentationModule])
def test_an_unknown_option_lists_the_valid_ones(kind) -> None:
    with pytest.raises(ValueError, match=r"unknown \w+TaskConfig option\(s\) \['lr_rate'\].*'lr'"):
        kind(backbone_overrides=SMALL, lr_rate=0.1)
    with pytest.raises(ValueError, match=r"task\.lr: must be positive"):
        kind(backbone_overrides=SMALL, lr=-1.0)


def test_hyperparameters_hold_the_whole_config() -> None:
    module = PoseEstimationModule(backbone_overrides=SMALL, lr=1e-3)
    assert module.hparams["lr"] == 1e-3 and module.hparams["name"] == "pose"
    defaults = PoseTaskConfig()
    assert module.hparams["milestones"] == defaults.milestones
    assert {"backbone", "backbone_overrides", "keypoint_set", "checkpoint_path"} <= set(
        module.hparams
    )


def _lightning_file(module, path: Path, **drop: bool) -> Path:
    hparams = {k: v for k, v in module.hparams.items() if k not in drop}
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": hparams}, path)
    return path


@pytest.mark.parametrize("kind", [PoseEstimationModule, SegmentationModule])
def test_our_checkpoints_come_back_with_their_settings(kind, tmp_path: Path) -> None:
    module = randomize(kind(backbone_overrides=SMALL, lr=0.004))
    loaded = kind.from_checkpoint(_lightning_file(module, tmp_path / "a.ckpt"))
    assert loaded.hparams["lr"] == 0.004 and loaded.hparams["backbone_overrides"] == SMALL
    for a, b in zip(module.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    # Files of the former layout have no task name; they still load.
    older = kind.from_checkpoint(_lightning_file(module, tmp_path / "b.ckpt", name=True))
    assert older.hparams["lr"] == 0.004


def test_a_checkpoint_of_the_other_task_is_refused(tmp_path: Path) -> None:
    pose = PoseEstimationModule(backbone_overrides=SMALL)
    with pytest.raises(CheckpointError, match="a pose checkpoint, not a segmentation one"):
        SegmentationModule.from_checkpoint(_lightning_file(pose, tmp_path / "pose.ckpt"))


def test_a_plain_segmentation_state_dict_gets_its_variant_and_head(tmp_path: Path) -> None:
    model = randomize(create_segmentation_model("lite_hrnet_18", 7, head_channels=32))
    path = tmp_path / "plain.pth"
    torch.save(model.state_dict(), path)
    module = SegmentationModule.from_checkpoint(path)
    assert module.hparams["backbone"] == "lite_hrnet_18"
    assert (module.cfg.num_classes, module.cfg.head_channels) == (7, 32)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(module.eval()(x), model.eval()(x))


@pytest.mark.parametrize("task", ["pose", "segmentation"])
def test_plain_state_dicts_give_their_variant_alike(task: str, tmp_path: Path) -> None:
    """Pose and segmentation infer the variant of a plain state dict the same way, and
    name ``--model`` the same way when the weights fit no registered variant."""
    from lite_hrnet import create_pose_model
    from tests.support import TINY_BACKBONE

    kind = PoseEstimationModule if task == "pose" else SegmentationModule
    create = create_pose_model if task == "pose" else create_segmentation_model
    path = tmp_path / "plain.pth"
    torch.save(randomize(create("lite_hrnet_30")).state_dict(), path)
    module = kind.from_checkpoint(path)
    assert module.hparams.backbone == "lite_hrnet_30"
    torch.save(create("lite_hrnet_18", **TINY_BACKBONE).state_dict(), path)
    with pytest.raises(CheckpointError, match="pass --model NAME"):
        kind.from_checkpoint(path)
