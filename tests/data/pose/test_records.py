"""The person-instance readers of COCO, COCO detection and MPII files, one defect each."""

import json
import shutil

import numpy as np
import pytest
import scipy.io

from lite_hrnet.data.pose.datamodule import MpiiDataModule
from lite_hrnet.data.pose.records import (
    coco_detection_instances,
    coco_ground_truth_instances,
    mpii_instances,
)
from lite_hrnet.formats.coco import load_coco
from lite_hrnet.meta.keypoints import COCO


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


def _coco_file(tmp_path, bbox, area=100.0) -> tuple:
    """A one-person COCO val file whose image is on disk."""
    (tmp_path / "val2017").mkdir(exist_ok=True)
    (tmp_path / "val2017" / "1.jpg").write_bytes(b"")
    keypoints = [20.0, 30.0, 2] + [0, 0, 0] * 16
    data = {
        "images": [{"id": 1, "file_name": "1.jpg", "width": 64, "height": 64}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "iscrowd": 0,
                         "area": area, "bbox": bbox, "keypoints": keypoints}],
    }  # fmt: skip
    ann = tmp_path / "person_keypoints_val2017.json"
    ann.write_text(json.dumps(data))
    return ann, tmp_path / "val2017"


@pytest.mark.parametrize("bbox, kept", [([20.0, 10.0, 1.0, 40.0], True),
                                        ([20.0, 10.0, 40.0, 1.0], True),
                                        ([70.0, 10.0, 5.0, 40.0], False)])  # fmt: skip
def test_coco_box_cleaning_keeps_one_pixel_boxes(tmp_path, bbox, kept):
    """The official cleaning keeps x2 >= x1 and y2 >= y1: a 1-pixel-wide box (x2 == x1)
    stays; a box right of the image (x1 clipped beyond x2) goes."""
    ann, images = _coco_file(tmp_path, bbox)
    instances = coco_ground_truth_instances(ann, images, COCO, 0.75)
    assert len(instances) == int(kept)
    if kept:
        x, y, w, h = bbox
        np.testing.assert_allclose(instances[0].center, [x + (w - 1) / 2, y + (h - 1) / 2])


def _detections(tmp_path, entries) -> tuple:
    ann, images = _coco_file(tmp_path, [10.0, 10.0, 30.0, 40.0])
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(entries))
    return det_file, load_coco(ann), images


_GOOD = {"image_id": 1, "category_id": 1, "bbox": [10.0, 10.0, 30.0, 40.0], "score": 0.9}


@pytest.mark.parametrize(
    "defect",
    [{"bbox": [10.0, 10.0, 30.0]}, {"score": "0.9"}, {"bbox": ["10", "10", "30", "40"]},
     {"bbox": None}, {"image_id": "1"}],
)  # fmt: skip
def test_detection_of_wrong_shape_is_an_error_naming_the_entry(tmp_path, defect):
    det_file, coco, images = _detections(tmp_path, [_GOOD, {**_GOOD, **defect}])
    with pytest.raises(ValueError, match=r"dets.json: entry 1 needs an integer image_id, a bbox"):
        coco_detection_instances(det_file, coco, images, 17, 0.75)


@pytest.mark.parametrize(
    "defect",
    [{"bbox": [float("nan"), 10.0, 30.0, 40.0]}, {"bbox": [10.0, 10.0, 30.0, float("inf")]},
     {"score": float("nan")}, {"bbox": [10.0, 10.0, 0.0, 40.0]}, {"bbox": [10.0, 10.0, 3.0, 0]}],
)  # fmt: skip
def test_detection_that_crops_nothing_is_a_counted_skip(tmp_path, defect):
    det_file, coco, images = _detections(tmp_path, [_GOOD, {**_GOOD, **defect}, _GOOD])
    with pytest.warns(UserWarning, match=r"dets.json: person boxes with NaN .*: 1 of 3 "
                                         r"\(e.g. entry 1\)"):  # fmt: skip
        instances = coco_detection_instances(det_file, coco, images, 17, 0.75)
    assert len(instances) == 2 and all(np.isfinite(i.center).all() for i in instances)


@pytest.mark.parametrize(
    "defect",
    [{"joints": [[float("nan"), 1.0]] * 16}, {"center": ["a", "b"]}, {"scale": -1.0},
     {"joints_vis": None}, {"image": None}],
)  # fmt: skip
def test_mpii_record_of_wrong_values_is_an_error_naming_it(tmp_path, defect):
    (tmp_path / "images").mkdir()
    record = {"image": "a.jpg", "center": [101.0, 201.0], "scale": 2.0,
              "joints": [[11.0, 21.0]] * 16, "joints_vis": [1] * 16}  # fmt: skip
    (tmp_path / "val.json").write_text(json.dumps([record, {**record, **defect}]))
    with pytest.raises(ValueError, match=r"val.json: record 1 needs image, center, scale"):
        mpii_instances(tmp_path / "val.json", tmp_path / "images")


def _coco_val_with_num_keypoints(coco_root, tmp_path, values) -> tuple:
    """A copy of the generated val split whose people have ``values(i)`` num_keypoints."""
    root = shutil.copytree(coco_root, tmp_path / "coco")
    ann = root / "annotations/person_keypoints_val2017.json"
    data = json.loads(ann.read_text())
    for i, a in enumerate(data["annotations"]):
        a["num_keypoints"] = values(i, a["num_keypoints"])
    ann.write_text(json.dumps(data))
    return ann, root / "val2017", len(data["annotations"])


def test_num_keypoints_zero_everywhere_leaves_nothing_to_score(coco_root, tmp_path):
    ann, images, n = _coco_val_with_num_keypoints(coco_root, tmp_path, lambda i, v: 0)
    with pytest.raises(ValueError, match=rf"nothing to score: the {n} people .* num_keypoints=0"):
        coco_ground_truth_instances(ann, images, COCO, 0.75, scored=True)
    # Training reads the visibility flags, and says that the counts disagree.
    with pytest.warns(UserWarning, match=rf"num_keypoints differs .*: {n} of {n}"):
        assert len(coco_ground_truth_instances(ann, images, COCO, 0.75)) == n


def test_people_the_metric_ignores_are_left_out_of_a_scored_split(coco_root, tmp_path):
    ann, images, n = _coco_val_with_num_keypoints(
        coco_root, tmp_path, lambda i, v: 0 if i == 0 else (v + 1 if i == 1 else v)
    )
    with pytest.warns(UserWarning, match=rf"differs .* the 1 with num_keypoints=0.*: 2 of {n}"):
        scored = coco_ground_truth_instances(ann, images, COCO, 0.75, scored=True)
    assert len(scored) == n - 1
