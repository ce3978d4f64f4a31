"""A run on a user's COCO-format keypoint set (5 joints, not COCO's): it trains through
Hydra, scores the metrics the config picks (the first is the monitor), and its checkpoint
carries the keypoint set."""

import json

import pytest
import torch

from lite_hrnet.tasks.pose import PoseEstimationModule
from lite_hrnet.training.run import run_training
from tests.support import FIGURE_JOINTS, compose_config, figure_overrides

pytestmark = pytest.mark.slow  # a training run


def test_train_on_a_five_joint_coco_format_set(coco_root, figure_root, tmp_path):
    cfg = compose_config(
        [
            *figure_overrides(coco_root, figure_root),
            "data.metrics=[PCK,AP,EPE]",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.num_sanity_val_steps=0",
            "trainer.check_val_every_n_epoch=1",
            "logger=none",
        ]
    )
    with pytest.warns(UserWarning, match="no OKS sigmas"):
        value = run_training(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["monitor"] == "val/PCK" and value == pytest.approx(summary["best"])
    assert {"PCK", "AP", "AP50", "EPE"} <= set(summary["test"])
    assert 0 <= summary["test"]["PCK"] <= 1 and summary["test"]["EPE"] > 0
    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    saved = torch.load(ckpt, weights_only=True, map_location="cpu")["hyper_parameters"]
    assert saved["keypoint_set"]["joint_names"] == list(FIGURE_JOINTS)
    module = PoseEstimationModule.from_checkpoint(ckpt)
    assert module.keypoints.num_joints == 5 and module.keypoints.flip_pairs == ((1, 2), (3, 4))
    assert module.model(torch.zeros(1, 3, 64, 64)).shape == (1, 5, 16, 16)
    # A plain state dict of that head loads with 5 unnamed joints.
    plain = tmp_path / "plain.pth"
    torch.save(module.model.state_dict(), plain)
    tiny = {"width": 0.5, "num_modules": [1, 1, 1]}
    again = PoseEstimationModule.from_checkpoint(
        plain, backbone="lite_hrnet_18", backbone_overrides=tiny
    )
    assert again.keypoints.num_joints == 5 and not again.keypoints.named
