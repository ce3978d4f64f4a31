"""The person-instance readers of COCO, COCO detection and MPII files, one defect each."""

import json
import shutil

import numpy as np
import pytest
import scipy.io

from lite_hrnet.data.pose.datamodule import MpiiDataModule
from lite_hrnet.data.pose.records import mpii_instances


def _mpii_copy(mpii_root, tmp_path):
    return shutil.copytree(mpii_root, tmp_path / "mpii")


def test_mpii_center_is_zero_based_like_the_joints(tmp_path):
    """The official HRNet loader and mmpose: shift the center down by 15 * scale, grow the
    scale by 1.25, then subtract 1 from the center exactly as from the joints."""
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"")
    record = {
        "image": "a.jpg",
        "center": [101.0, 201.0],
        "scale": 2.0,
        "joints": [[11.0, 21.0]] * 16,
        "joints_vis": [1] * 16,
    }
    (tmp_path / "val.json").write_text(json.dumps([record]))
    (inst,) = mpii_instances(tmp_path / "val.json", tmp_path / "images")
    np.testing.assert_allclose(inst.center, [100.0, 201.0 + 15 * 2.0 - 1])
    np.testing.assert_allclose(inst.scale, [2.5, 2.5])
    np.testing.assert_allclose(inst.joints, [[10.0, 20.0]] * 16)


def test_mpii_ground_truth_in_another_order_fails_at_set_up(mpii_root, tmp_path):
    root = _mpii_copy(mpii_root, tmp_path)
    mat_file = root / "annotations/mpii_gt_val.mat"
    mat = scipy.io.loadmat(mat_file)
    for key in ("pos_gt_src", "jnt_missing", "headboxes_src"):
        mat[key] = mat[key][..., ::-1]
    scipy.io.savemat(mat_file, {k: v for k, v in mat.items() if not k.startswith("__")})
    with pytest.raises(ValueError, match=r"mpii_gt_val.mat does not match .*mpii_val.json"):
        MpiiDataModule(root, num_workers=0).setup("validate")


def test_mpii_ground_truth_with_other_records_fails_at_set_up(mpii_root, tmp_path):
    root = _mpii_copy(mpii_root, tmp_path)
    val = root / "annotations/mpii_val.json"
    val.write_text(json.dumps(json.loads(val.read_text())[:-1]))
    with pytest.raises(ValueError, match=r"mpii_gt_val.mat holds \d+ records but .*mpii_val"):
        MpiiDataModule(root, num_workers=0).setup("validate")


def test_broken_mpii_ground_truth_fails_at_set_up(mpii_root, tmp_path):
    root = _mpii_copy(mpii_root, tmp_path)
    (root / "annotations/mpii_gt_val.mat").write_bytes(b"MATLAB 5.0 garbage")
    with pytest.raises(ValueError, match=r"cannot read MPII ground-truth file .*mpii_gt_val"):
        MpiiDataModule(root, num_workers=0).setup("validate")
