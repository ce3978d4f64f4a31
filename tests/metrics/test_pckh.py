"""MPII PCKh as a metric: predictions are scored against their own record of the .mat."""

import shutil

import numpy as np
import pytest
import torch

from lite_hrnet.data.pose.datamodule import MpiiDataModule
from lite_hrnet.formats.mpii import load_mpii_ground_truth
from lite_hrnet.metrics.pckh import MpiiPCKh


def _perfect_pckh(dm: MpiiDataModule) -> float:
    """PCKh of perfect predictions of every sample of the val dataset, fed like the task."""
    metric = MpiiPCKh(dm.evaluation_file("val"))
    for index, inst in enumerate(dm.datasets["val"].instances):
        keypoints = torch.from_numpy(np.concatenate([inst.joints, inst.visible[:, None]], 1))
        metric.update(
            keypoints[None],
            torch.ones(1, 2),
            torch.ones(1),
            torch.tensor([inst.image_id]),
            torch.tensor([index]),
        )
    return float(metric.compute()["PCKh"])


def test_missing_image_scores_only_its_own_records(mpii_root, tmp_path):
    root = shutil.copytree(mpii_root, tmp_path / "mpii")
    dm = MpiiDataModule(root, num_workers=0)
    dm.setup("validate")
    assert _perfect_pckh(dm) == pytest.approx(1.0)
    first = dm.datasets["val"].instances[0]
    (root / "images" / first.image_path.rsplit("/", 1)[1]).unlink()
    dm = MpiiDataModule(root, num_workers=0)
    with pytest.warns(UserWarning, match="records whose image is not on disk"):
        dm.setup("validate")
    gt = load_mpii_ground_truth(dm.evaluation_file("val"))
    labelled = 1 - gt["jnt_missing"]
    labelled[6:8] = 0  # pelvis and thorax are not scored
    kept = {inst.image_id for inst in dm.datasets["val"].instances}
    expected = labelled[:, sorted(kept)].sum() / labelled.sum()
    with pytest.warns(UserWarning, match="records have no prediction"):
        assert _perfect_pckh(dm) == pytest.approx(expected)
    assert 0.5 < expected < 1.0


def test_record_outside_the_ground_truth_is_an_error(mpii_root):
    metric = MpiiPCKh(mpii_root / "annotations/mpii_gt_val.mat")
    metric.update(torch.zeros(1, 16, 3), torch.ones(1, 2), torch.ones(1), torch.tensor([999]),
                  torch.tensor([0]))  # fmt: skip
    with pytest.raises(ValueError, match="prediction is for record 999"):
        metric.compute()
