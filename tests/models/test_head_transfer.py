"""Fine-tuning onto other joints: the published weights (faked by the loopback server of
``test_hub``) or a checkpoint file load into the backbone, and the new head keeps the rows
of the joints whose names the weights' head shares."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import torch

import lite_hrnet
from lite_hrnet.meta.cityscapes import NUM_CLASSES as CITYSCAPES_CLASSES
from lite_hrnet.meta.keypoints import COCO, MPII
from lite_hrnet.models.hub import MIRROR_ENV
from lite_hrnet.models.metadata import CITYSCAPES_HEAD_CLASSES, COCO_HEAD, MPII_HEAD
from lite_hrnet.models.registry import variant_info
from lite_hrnet.tasks.pose import PoseEstimationModule
from lite_hrnet.testing.weights import randomize
from tests.models.test_hub import _register, _tiny_name, hub_cache, server, tiny_file
from tests.support import TINY_BACKBONE, compose_config, pose_overrides

__all__ = ["hub_cache", "server", "tiny_file"]  # the loopback server's fixtures, reused

# CrowdPose's 14 keypoints: 12 of COCO's names, and two of its own.
CROWDPOSE = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "head", "neck",
)  # fmt: skip
LOG = "lite_hrnet.models.head_transfer"


def test_the_published_heads_name_the_data_sets_joints() -> None:
    assert COCO.joint_names == COCO_HEAD and MPII.joint_names == MPII_HEAD
    assert CITYSCAPES_HEAD_CLASSES == CITYSCAPES_CLASSES


def test_the_segmentation_head_defaults_to_the_variants_classes() -> None:
    model = lite_hrnet.create_segmentation_model("lite_hrnet_18", width=0.25)
    assert model.num_classes == variant_info("lite_hrnet_18").num_classes == CITYSCAPES_CLASSES


@pytest.fixture
def tiny_tag(server, hub_cache, tiny_file, monkeypatch) -> dict[str, torch.Tensor]:
    """``lite_hrnet_18.test_tiny``: the tiny COCO-head network, served by the loopback
    server; returns its state dict."""
    _register(monkeypatch, _tiny_name(tiny_file))
    monkeypatch.setenv(MIRROR_ENV, server)
    return torch.load(io.BytesIO(tiny_file), weights_only=True)["state_dict"]


def _assert_backbone_loaded(model, saved) -> None:
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, saved["backbone." + key]), key


def _assert_rows(model, saved, names, source_names) -> list[str]:
    """The head rows of ``names`` found in ``source_names`` equal the saved ones; the
    others are new. Returns the kept names."""
    weight = model.keypoint_head.final_layer.weight
    bias = model.keypoint_head.final_layer.bias
    saved_w = saved["keypoint_head.final_layer.weight"]
    saved_b = saved["keypoint_head.final_layer.bias"]
    kept = []
    for j, name in enumerate(names):
        if name in source_names:
            i = source_names.index(name)
            assert torch.equal(weight[j], saved_w[i]) and torch.equal(bias[j], saved_b[i])
            kept.append(name)
        else:  # the fresh head's initialisation: N(0, 0.001), bias 0
            assert weight[j].abs().max() < 0.01 and bias[j] == 0
    return kept


def test_a_tag_fine_tunes_onto_other_named_joints(tiny_tag, caplog) -> None:
    with caplog.at_level(logging.INFO, logger=LOG):
        model = lite_hrnet.create_pose_model(
            "lite_hrnet_18", keypoint_set=CROWDPOSE, pretrained="test_tiny", **TINY_BACKBONE
        )
    assert model.num_joints == len(CROWDPOSE)
    _assert_backbone_loaded(model, tiny_tag)
    kept = _assert_rows(model, tiny_tag, CROWDPOSE, COCO_HEAD)
    assert len(kept) == 12
    lines = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert len(lines) == 1
    assert "lite_hrnet_18.test_tiny" in lines[0] and "kept the rows of 12 joints" in lines[0]
    assert lines[0].endswith("new: head, neck")


def test_a_keypoint_set_object_gives_the_names(tiny_tag) -> None:
    model = lite_hrnet.create_pose_model(
        "lite_hrnet_18", keypoint_set=MPII, pretrained="test_tiny", **TINY_BACKBONE
    )
    assert model.num_joints == MPII.num_joints
    assert len(_assert_rows(model, tiny_tag, MPII.joint_names, COCO_HEAD)) == 12


def test_unnamed_joints_keep_the_backbone_only(tiny_tag, caplog) -> None:
    with caplog.at_level(logging.INFO, logger=LOG):
        model = lite_hrnet.create_pose_model(
            "lite_hrnet_18", num_joints=21, pretrained="test_tiny", **TINY_BACKBONE
        )
    assert model.num_joints == 21
    _assert_backbone_loaded(model, tiny_tag)
    assert model.keypoint_head.final_layer.weight.abs().max() < 0.01
    (line,) = [r.getMessage() for r in caplog.records if r.name == LOG]
    assert "no rows kept" in line and "the new joints names no joints" in line


def test_the_same_joints_load_the_whole_model(tiny_tag) -> None:
    model = lite_hrnet.create_pose_model(
        "lite_hrnet_18", keypoint_set=COCO, pretrained="test_tiny", **TINY_BACKBONE
    )
    assert all(torch.equal(model.state_dict()[k], v) for k, v in tiny_tag.items())


def test_disagreeing_joint_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="num_joints=5 but keypoint_set has 14 joints"):
        lite_hrnet.create_pose_model("lite_hrnet_18", 5, keypoint_set=CROWDPOSE)
    with pytest.raises(ValueError, match="repeated: \\['nose'\\]"):
        lite_hrnet.create_pose_model("lite_hrnet_18", keypoint_set=["nose", "nose"])


def _our_checkpoint(path: Path, keypoint_set) -> tuple[Path, dict[str, torch.Tensor]]:
    """One of our Lightning checkpoints of a tiny pose module for ``keypoint_set``."""
    module = randomize(
        PoseEstimationModule(backbone_overrides=TINY_BACKBONE, keypoint_set=keypoint_set)
    )
    hparams = dict(module.hparams)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": hparams}, path)
    return path, module.model.state_dict()


def test_our_checkpoint_with_another_head_fine_tunes(tmp_path: Path, caplog) -> None:
    path, saved = _our_checkpoint(tmp_path / "mpii.ckpt", MPII)
    with caplog.at_level(logging.INFO, logger=LOG):
        model = lite_hrnet.create_pose_model(
            "lite_hrnet_18", keypoint_set=COCO, backbone_checkpoint=path, **TINY_BACKBONE
        )
    _assert_backbone_loaded(model, saved)
    assert len(_assert_rows(model, saved, COCO.joint_names, MPII.joint_names)) == 12
    assert "kept the rows of 12 joints" in caplog.text
    # As the whole model's checkpoint (model.checkpoint=FILE of a run): the same.
    module = PoseEstimationModule(
        backbone_overrides=TINY_BACKBONE, keypoint_set="coco", checkpoint_path=str(path)
    )
    _assert_backbone_loaded(module.model, saved)
    assert len(_assert_rows(module.model, saved, COCO.joint_names, MPII.joint_names)) == 12
    # Without joint names the head must fit, as before.
    with pytest.raises(lite_hrnet.CheckpointError, match="wrong shapes"):
        lite_hrnet.create_pose_model("lite_hrnet_18", 17, checkpoint_path=path, **TINY_BACKBONE)


def test_hydra_runs_fine_tune_from_a_tag(tiny_tag, coco_root: Path, mpii_root: Path) -> None:
    """``model.pretrained=TAG`` in a run on MPII's joints: the tag's COCO head gives the 12
    rows the two sets share."""
    overrides = [
        *pose_overrides(coco_root),
        "experiment=synthetic_mpii",
        f"data.root={mpii_root}",
        "model.width=0.25",
        "model.pretrained=test_tiny",
    ]
    cfg = compose_config(overrides)
    cfg.validate()
    module, datamodule = cfg.task.build(cfg.data, cfg.model)
    assert datamodule.codec is module.codec
    assert module.keypoints == MPII and module.hparams.pretrained == "test_tiny"
    _assert_backbone_loaded(module.model, tiny_tag)
    assert len(_assert_rows(module.model, tiny_tag, MPII.joint_names, COCO_HEAD)) == 12


def test_hydra_runs_fine_tune_from_a_file(tmp_path: Path, coco_root: Path) -> None:
    """``model.backbone_checkpoint=FILE`` (one of our runs on MPII's joints) in a COCO run."""
    path, saved = _our_checkpoint(tmp_path / "mpii.ckpt", MPII)
    overrides = [*pose_overrides(coco_root), "model.width=0.25"]
    cfg = compose_config([*overrides, f"model.backbone_checkpoint={path}"])
    cfg.validate()
    module, _ = cfg.task.build(cfg.data, cfg.model)
    _assert_backbone_loaded(module.model, saved)
    assert len(_assert_rows(module.model, saved, COCO.joint_names, MPII.joint_names)) == 12
    both = compose_config(
        [*overrides, f"model.backbone_checkpoint={path}", f"model.checkpoint={path}"]
    )
    with pytest.raises(
        ValueError, match=r"model\.backbone_checkpoint: set it or model\.checkpoint"
    ):
        both.validate()
