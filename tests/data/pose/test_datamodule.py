import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from lite_hrnet.data.loaders import collate_skipping
from lite_hrnet.data.pose.datamodule import CocoKeypointsDataModule, MpiiDataModule
from lite_hrnet.data.pose.records import (
    coco_detection_instances,
    coco_ground_truth_instances,
    mpii_instances,
)
from lite_hrnet.formats.coco import load_coco
from lite_hrnet.meta.keypoints import COCO
from lite_hrnet.synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco
from tests.support import TINY_POSE as TINY
from tests.support import compose_config, fake_png


def _copy(root, tmp_path):
    return shutil.copytree(root, tmp_path / "copy")


def test_synthetic_coco_is_valid_coco_and_deterministic(coco_root, tmp_path):
    data = json.loads((coco_root / "annotations/person_keypoints_train2017.json").read_text())
    assert data["categories"][0]["keypoints"] == list(COCO.joint_names)
    anns = data["annotations"]
    assert len(anns) >= 12
    vis = np.concatenate([np.array(a["keypoints"]).reshape(17, 3)[:, 2] for a in anns])
    assert {0, 1, 2} <= set(vis.tolist())  # unlabelled, occluded and visible joints all occur
    for a in anns:
        k = np.array(a["keypoints"]).reshape(17, 3)
        assert a["num_keypoints"] == int((k[:, 2] > 0).sum())
        x, y, w, h = a["bbox"]
        assert x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480 and a["area"] > 0
        assert (k[k[:, 2] == 0, :2] == 0).all()
    assert len({a["image_id"] for a in anns}) < len(anns)  # several people per image
    again = ensure_synthetic_coco(tmp_path / "again", TINY)
    for name in ("person_keypoints_train2017.json", "person_keypoints_val2017.json"):
        assert (again / "annotations" / name).read_bytes() == (
            coco_root / "annotations" / name
        ).read_bytes()
    first = sorted((coco_root / "val2017").iterdir())[0]
    assert (again / "val2017" / first.name).read_bytes() == first.read_bytes()


def test_generation_is_skipped_when_present(coco_root):
    stamp = (coco_root / "annotations/person_keypoints_val2017.json").stat().st_mtime_ns
    ensure_synthetic_coco(coco_root, TINY)
    assert (coco_root / "annotations/person_keypoints_val2017.json").stat().st_mtime_ns == stamp


def test_coco_instances_filter_and_clean(coco_root):
    ann = coco_root / "annotations/person_keypoints_train2017.json"
    instances = coco_ground_truth_instances(ann, coco_root / "train2017", COCO, 0.75)
    data = json.loads(ann.read_text())
    usable = [a for a in data["annotations"] if a["num_keypoints"] > 0]
    assert 0 < len(instances) <= len(usable)
    for inst in instances:
        assert inst.visible.sum() > 0 and inst.scale[0] / inst.scale[1] == pytest.approx(0.75)


def test_mpii_instances_and_ground_truth(mpii_root):
    import scipy.io

    instances = mpii_instances(mpii_root / "annotations/mpii_val.json", mpii_root / "images")
    gt = scipy.io.loadmat(mpii_root / "annotations/mpii_gt_val.mat")
    assert gt["pos_gt_src"].shape == (16, 2, len(instances))
    first = instances[0]
    visible = first.visible > 0
    # JSON and .mat are 1-based; the loader makes joints 0-based
    assert np.allclose(first.joints[visible] + 1, gt["pos_gt_src"][visible, :, 0], atol=0.01)


@pytest.mark.parametrize(
    "module_cls, root_fixture",
    [
        (CocoKeypointsDataModule, "coco_root"),
        (MpiiDataModule, "mpii_root"),
    ],
)
def test_datamodule_batches(module_cls, root_fixture, request):
    root = request.getfixturevalue(root_fixture)
    dm = module_cls(root, input_size=(64, 64), batch_size=4, num_workers=0, pin_memory=False)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    k = dm.keypoint_set.num_joints
    assert batch["image"].shape == (4, 3, 64, 64) and batch["target"].shape == (4, k, 16, 16)
    assert batch["target_weight"].shape == (4, k) and batch["skipped"] == 0
    assert batch["target"].max() <= 1 and batch["image"].dtype == torch.float32


@pytest.mark.parametrize("module_cls, root_fixture", [
    (CocoKeypointsDataModule, "coco_root"), (MpiiDataModule, "mpii_root"),
])  # fmt: skip
def test_the_train_split_through_the_test_time_transform(module_cls, root_fixture, request):
    dm = module_cls(request.getfixturevalue(root_fixture), input_size=(64, 64), num_workers=0)
    plain, again = dm.split_dataset("train", augment=False), dm.split_dataset("train", False)
    assert [i.image_path for i in plain.instances] == [
        i.image_path for i in dm.build_dataset("train").instances
    ]
    assert dm.build_dataset("train").transform.train and not plain.transform.train
    # No augmentation: the same crop on every read.
    assert np.array_equal(plain[1]["image"], again[1]["image"])
    assert plain[1]["image"].shape == (3, 64, 64)


def test_sigma_and_heatmap_follow_input_size(coco_root):
    dm = CocoKeypointsDataModule(coco_root, input_size=(384, 288), num_workers=0)
    assert dm.codec.heatmap_hw == (96, 72) and dm.codec.sigma == 3


# ---- bad input -------------------------------------------------------------------------


def test_missing_annotation_file_names_it(tmp_path):
    dm = CocoKeypointsDataModule(tmp_path, num_workers=0)
    with pytest.raises(FileNotFoundError, match=r"person_keypoints_train2017.json"):
        dm.setup("fit")


def test_truncated_annotation_file(coco_root, tmp_path):
    root = _copy(coco_root, tmp_path)
    ann = root / "annotations/person_keypoints_val2017.json"
    ann.write_text(ann.read_text()[:500])
    with pytest.raises(ValueError, match=r"person_keypoints_val2017.json is not valid JSON"):
        load_coco(ann)


def test_malformed_annotation(coco_root, tmp_path):
    root = _copy(coco_root, tmp_path)
    ann = root / "annotations/person_keypoints_val2017.json"
    data = json.loads(ann.read_text())
    data["annotations"][0]["keypoints"] = [1, 2, 3]
    ann.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"annotation \d+ needs 51 keypoint values"):
        coco_ground_truth_instances(ann, root / "val2017", COCO, 0.75)
    ann.write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="'images' and 'annotations'"):
        load_coco(ann)


def test_missing_image_is_a_counted_skip(coco_root, tmp_path):
    root = _copy(coco_root, tmp_path)
    ann = root / "annotations/person_keypoints_val2017.json"
    before = coco_ground_truth_instances(ann, root / "val2017", COCO, 0.75)
    sorted((root / "val2017").iterdir())[0].unlink()
    with pytest.warns(UserWarning, match=r"images listed but not on disk.*: 1 of 4"):
        after = coco_ground_truth_instances(ann, root / "val2017", COCO, 0.75)
    assert 0 < len(after) < len(before)


def test_undecodable_image_is_skipped_and_counted(coco_root, tmp_path):
    root = _copy(coco_root, tmp_path)
    dm = CocoKeypointsDataModule(root, input_size=(64, 64), batch_size=64, num_workers=0)
    dm.setup("validate")
    bad = dm.datasets["val"].instances[0].image_path
    with open(bad, "wb") as f:
        f.write(b"not a jpeg")
    n_bad = sum(i.image_path == bad for i in dm.datasets["val"].instances)
    with pytest.warns(UserWarning, match="cannot decode image"):
        batch = next(iter(dm.val_dataloader()))
    assert batch["skipped"] == n_bad
    assert len(batch["image"]) == len(dm.datasets["val"]) - n_bad
    assert collate_skipping([None, None]) == {"skipped": torch.tensor(2)}


def test_keypoints_outside_image_become_unlabelled(coco_root, tmp_path):
    root = _copy(coco_root, tmp_path)
    ann = root / "annotations/person_keypoints_val2017.json"
    data = json.loads(ann.read_text())
    target = next(a for a in data["annotations"] if a["num_keypoints"] >= 3)
    j = int(np.flatnonzero(np.array(target["keypoints"][2::3]) > 0)[0])
    target["keypoints"][3 * j] = 5000.0
    ann.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="1 labelled keypoints lie outside their image"):
        instances = coco_ground_truth_instances(ann, root / "val2017", COCO, 0.75)
    assert all(i.joints[:, 0].max() < 640 for i in instances)


def test_images_without_people_are_fine(coco_root, tmp_path):
    root = _copy(coco_root, tmp_path)
    ann = root / "annotations/person_keypoints_val2017.json"
    data = json.loads(ann.read_text())
    data["images"].append({"id": 999, "file_name": "empty.jpg", "width": 640, "height": 480})
    ann.write_text(json.dumps(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        instances = coco_ground_truth_instances(ann, root / "val2017", COCO, 0.75)
    assert all(i.image_id != 999 for i in instances)


def test_detection_files(coco_root, tmp_path):
    coco = load_coco(coco_root / "annotations/person_keypoints_val2017.json")
    image_id = sorted(coco.imgs)[0]
    dets = tmp_path / "dets.json"
    dets.write_text(
        json.dumps([{"image_id": image_id, "category_id": 2, "bbox": [0, 0, 9, 9], "score": 1}])
    )
    with pytest.raises(ValueError, match=r"dets.json holds no person boxes"):
        coco_detection_instances(dets, coco, coco_root / "val2017", 17, 0.75)
    dets.write_text(
        json.dumps(
            [
                {"image_id": image_id, "category_id": 1, "bbox": [10, 10, 50, 100], "score": 0.9},
                {"image_id": 123456789, "category_id": 1, "bbox": [10, 10, 50, 100], "score": 0.9},
            ]
        )
    )
    with pytest.warns(UserWarning, match="boxes for images that are not in the annotation file"):
        instances = coco_detection_instances(dets, coco, coco_root / "val2017", 17, 0.75)
    assert len(instances) == 1 and instances[0].score == pytest.approx(0.9)
    dets.write_text("[{")
    with pytest.raises(ValueError, match=r"dets.json is not valid JSON"):
        coco_detection_instances(dets, coco, coco_root / "val2017", 17, 0.75)


def test_a_test_split_with_nobody_to_score_fails_at_set_up(coco_root, tmp_path):
    """Detection boxes need no ground truth to crop, but the metric scores against it: with
    num_keypoints=0 everywhere, COCOeval would give -1 for every number at the end."""
    root = _copy(coco_root, tmp_path)
    ann = root / "annotations/person_keypoints_val2017.json"
    data = json.loads(ann.read_text())
    for a in data["annotations"]:
        a["num_keypoints"] = 0
    ann.write_text(json.dumps(data))
    image_id = data["images"][0]["id"]
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": image_id, "bbox": [10, 10, 50, 90], "score": 1}]))
    dm = CocoKeypointsDataModule(root, input_size=(64, 64), num_workers=0, detection_file=str(dets))
    with pytest.raises(ValueError, match=r"val2017\.json: nothing to score"):
        dm.setup("test")


def test_missing_image_folder(coco_root, tmp_path):
    root = _copy(coco_root, tmp_path)
    shutil.rmtree(root / "train2017")
    with pytest.raises(FileNotFoundError, match=r"image folder not found: .*train2017"):
        CocoKeypointsDataModule(root, num_workers=0).setup("fit")


def test_generator_config_change_regenerates(tmp_path):
    small = PoseSceneConfig(seed=1, num_train_images=2, num_val_images=1)
    root = ensure_synthetic_coco(tmp_path, small)
    n = len(list((root / "train2017").iterdir()))
    ensure_synthetic_coco(tmp_path, PoseSceneConfig(seed=1, num_train_images=3, num_val_images=1))
    assert len(list((root / "train2017").iterdir())) == n + 1


def test_image_header_claiming_100000_squared_pixels_is_a_counted_skip(coco_root, tmp_path):
    root = _copy(coco_root, tmp_path)
    dm = CocoKeypointsDataModule(root, input_size=(64, 64), batch_size=64, num_workers=1)
    dm.setup("validate")
    bad = dm.datasets["val"].instances[0].image_path
    fake_png(Path(bad), 100000, 100000)  # a .jpg name: OpenCV reads the bytes, not the name
    n_bad = sum(i.image_path == bad for i in dm.datasets["val"].instances)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the worker's warning goes to its own stderr
        batch = next(iter(dm.val_dataloader()))
    assert batch["skipped"] == n_bad and len(batch["image"]) == len(dm.datasets["val"]) - n_bad


# ---- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "experiment, override, key",
    [
        ("synthetic_coco", "data.heatmap_size=[0,0]", "data.heatmap_size"),
        ("synthetic_coco", "data.sigma=-1", "data.sigma"),
        ("synthetic_coco", "data.scale_factor=3", "data.scale_factor"),
        ("synthetic_coco", "data.rotation_factor=-5", "data.rotation_factor"),
        ("synthetic_coco", "data.val_batch_size=0", "data.val_batch_size"),
        ("synthetic_coco", "data.val_batch_size=-1", "data.val_batch_size"),
        ("synthetic_mpii", "data.scale_factor=1.0", "data.scale_factor"),
        ("synthetic_cityscapes", "data.val_batch_size=-1", "data.val_batch_size"),
        ("synthetic_cityscapes", "data.color_jitter=-0.1", "data.color_jitter"),
    ],
)
def test_wrong_settings_fail_at_start_naming_the_key(experiment, override, key):
    cfg = compose_config([f"experiment={experiment}", override])
    with pytest.raises(ValueError, match=rf"^{key}: "):
        cfg.validate()


def test_train_split_smaller_than_a_batch_fails_at_set_up_with_both_numbers(coco_root):
    dm = CocoKeypointsDataModule(coco_root, batch_size=64, num_workers=0)
    n = len(coco_ground_truth_instances(
        coco_root / "annotations/person_keypoints_train2017.json", coco_root / "train2017",
        COCO, 0.75))  # fmt: skip
    assert n < 64
    with pytest.raises(ValueError, match=rf"data.batch_size: .* has {n} samples, fewer than "
                                         r"data.batch_size=64"):  # fmt: skip
        dm.setup("fit")
