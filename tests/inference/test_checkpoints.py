"""The one checkpoint reader: old pose checkpoints get their codec from their run's data
settings, plain state dicts their head's keypoint set or classes, and the task modules and
the inference classes read the same settings from the same file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lite_hrnet import create_pose_model, create_segmentation_model
from lite_hrnet.codecs.heatmap_codec import HeatmapCodec
from lite_hrnet.inference.checkpoints import (
    POSE,
    SEGMENTATION,
    keypoint_set_for_joints,
    read_task_checkpoint,
)
from lite_hrnet.inference.estimator import PoseEstimator
from lite_hrnet.meta.cityscapes import CLASS_TABLE as CITYSCAPES
from lite_hrnet.meta.keypoints import MPII
from lite_hrnet.models import CheckpointError
from lite_hrnet.tasks.pose import PoseEstimationModule
from tests.support import TINY_BACKBONE


def test_an_old_pose_checkpoint_reads_alike_for_the_module_and_the_estimator(
    tmp_path: Path,
) -> None:
    module = PoseEstimationModule(backbone_overrides=TINY_BACKBONE, keypoint_set="mpii")
    # Written before the codec was stored: the set's name, the decoding beside the rest.
    hparams = {k: v for k, v in module.hparams.items() if k != "codec"}
    hparams.update(keypoint_set="mpii", dark=True, flip_test=False)
    data = {"format": "mpii", "input_size": [96, 64], "heatmap_size": None, "sigma": 1.5}
    path = tmp_path / "old.ckpt"
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": hparams,
            "datamodule_hyper_parameters": data,
        },
        path,
    )
    read = read_task_checkpoint(path, POSE)
    expected = HeatmapCodec.from_input_hw((96, 64), sigma=1.5, flip_test=False, dark=True)
    assert read.codec() == expected and read.keypoint_set() == MPII
    assert read.datamodule_hparams == data and read.variant == "lite_hrnet_18"
    assert PoseEstimationModule.from_checkpoint(path).codec == expected
    est = PoseEstimator(path)
    assert est.codec == expected and est.keypoint_set == MPII


def test_plain_state_dicts_say_what_their_heads_say(tmp_path: Path) -> None:
    path = tmp_path / "pose.pth"
    torch.save(create_pose_model("lite_hrnet_18", num_joints=5).state_dict(), path)
    read = read_task_checkpoint(path, POSE)
    assert read.hparams is None and read.variant == "lite_hrnet_18"
    assert read.keypoint_set() == keypoint_set_for_joints(5) and not read.keypoint_set().named
    assert keypoint_set_for_joints(16) == MPII
    path = tmp_path / "seg.pth"
    torch.save(create_segmentation_model("lite_hrnet_18", 19, head_channels=32).state_dict(), path)
    read = read_task_checkpoint(path, SEGMENTATION)
    assert read.class_table() == CITYSCAPES and read.head_channels() == 32
    assert read.class_table(num_classes=4).names == ("class_0", "class_1", "class_2", "class_3")


def test_a_file_of_no_known_variant_or_of_the_other_task_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "narrow.pth"
    torch.save(create_pose_model("lite_hrnet_18", **TINY_BACKBONE).state_dict(), path)
    with pytest.raises(CheckpointError, match="pass --model NAME"):
        read_task_checkpoint(path, POSE)
    assert read_task_checkpoint(path, POSE, "lite_hrnet_18").variant == "lite_hrnet_18"
    module = PoseEstimationModule(backbone_overrides=TINY_BACKBONE)
    ckpt = tmp_path / "pose.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, ckpt)
    with pytest.raises(CheckpointError, match="a pose checkpoint, not a segmentation one"):
        read_task_checkpoint(ckpt, SEGMENTATION)
