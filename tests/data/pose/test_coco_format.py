"""Any COCO-format keypoint set through the COCO reader: K from the file, flip pairs from
the names, categories, a YAML file, the metrics a config picks and the monitor they give."""

import json

import numpy as np
import pytest
import torch

from lite_hrnet.data.loaders import collate_skipping
from lite_hrnet.data.pose.datamodule import (
    POSE_METRICS,
    CocoFormatDataConfig,
    CocoKeypointsDataModule,
    MpiiDataConfig,
)
from lite_hrnet.data.pose.transforms import TopDownTransform
from lite_hrnet.meta.keypoints import COCO, KeypointSet
from lite_hrnet.metrics.pose_metrics import POSE_METRIC_NAMES
from tests.support import FIGURE_JOINTS, compose_config, figure_overrides, write_figure_set


def _config(coco_root, figure_root, **options) -> CocoFormatDataConfig:
    fields = {
        "root": str(figure_root),
        "train_annotations": "train.json",
        "val_annotations": "val.json",
        "train_images": str(coco_root / "train2017"),
        "val_images": str(coco_root / "val2017"),
        "input_size": [64, 64],
        "batch_size": 2,
        "num_workers": 0,
    }
    return CocoFormatDataConfig(**{**fields, **options})


def test_a_five_joint_set_reads_k_names_skeleton_and_derived_flips(coco_root, figure_root):
    dm = CocoKeypointsDataModule(config=_config(coco_root, figure_root))
    kset = dm.keypoint_set
    assert kset.num_joints == 5 and kset.joint_names == tuple(FIGURE_JOINTS)
    assert kset.flip_pairs == ((1, 2), (3, 4)) and kset.skeleton[0] == (0, 1)
    dm.setup("fit")
    batch = collate_skipping([dm.datasets["val"][i] for i in range(2)])
    assert batch["target"].shape == (2, 5, 16, 16) and batch["target_weight"].shape == (2, 5)
    # The labels in image pixels, for PCK and NME: those of the annotation file.
    data = json.loads((figure_root / "val.json").read_text())
    first = np.array(data["annotations"][0]["keypoints"], np.float32).reshape(5, 3)
    inst = dm.datasets["val"].instances[0]
    assert np.allclose(inst.joints[inst.visible > 0], first[first[:, 2] > 0, :2])
    assert batch["joints"].shape == (2, 5, 2) and batch["joints_visible"].shape == (2, 5)
    assert torch.equal(batch["bbox"][0], torch.tensor(data["annotations"][0]["bbox"]))


def test_several_categories_form_one_set_and_a_pick_keeps_one(coco_root, tmp_path):
    cats = [
        {"id": 4, "name": "figure", "keypoints": list(FIGURE_JOINTS)},
        {"id": 9, "name": "statue", "keypoints": list(FIGURE_JOINTS)},
    ]
    root = write_figure_set(coco_root, tmp_path, categories=cats)
    both = CocoKeypointsDataModule(config=_config(coco_root, root))
    statues = CocoKeypointsDataModule(config=_config(coco_root, root, categories=["statue"]))
    assert both.keypoint_set.categories == ("figure", "statue")
    n_both, n_statues = len(both.instances("val")), len(statues.instances("val"))
    assert 0 < n_statues < n_both


def test_a_yaml_file_completes_the_set(coco_root, figure_root, tmp_path):
    yaml_file = tmp_path / "figure.yaml"
    yaml_file.write_text(
        "sigmas: [0.03, 0.08, 0.08, 0.1, 0.1]\nupper_body: [head, shoulderL, shoulderR]\n"
        "joint_weights: [1, 1, 1, 2, 2]\n"
    )
    cfg = _config(coco_root, figure_root, keypoints=str(yaml_file))
    kset = cfg.keypoint_set
    assert kset.sigmas == (0.03, 0.08, 0.08, 0.1, 0.1) and kset.upper_body_ids == (0, 1, 2)
    assert kset.flip_pairs == ((1, 2), (3, 4))  # still derived from the file's names
    # Joint weights scale the loss weights of the targets.
    dm = CocoKeypointsDataModule(config=cfg)
    dm.setup("validate")
    sample = dm.datasets["val"][0]
    visible = sample["joints_visible"] > 0
    assert np.allclose(sample["target_weight"][visible], np.array([1, 1, 1, 2, 2])[visible])


def test_a_set_without_flip_pairs_never_flips_and_says_so(coco_root, figure_root, capsys):
    kset = KeypointSet("tripod", ("a", "b", "c"))
    transform = TopDownTransform(_config(coco_root, figure_root, flip_prob=1.0), kset, True)
    image = np.zeros((64, 64, 3), np.uint8)
    joints = np.array([[10, 20], [40, 20], [25, 50]], np.float32)
    out = transform(image, joints, np.ones(3), np.array([32, 32]), np.array([0.3, 0.3]),
                    np.random.default_rng(0))  # fmt: skip
    # No flip: joint 0 (left of center) keeps the left heatmap half.
    hm = out["target"][0]
    assert np.unravel_index(hm.argmax(), hm.shape)[1] < hm.shape[1] / 2
    # The set read from a file without sided names says in one line it trains unflipped.
    data = json.loads((figure_root / "train.json").read_text())
    data["categories"][0]["keypoints"] = ["p0", "p1", "p2", "p3", "p4"]
    (figure_root.parent / "noflip").mkdir(exist_ok=True)
    path = figure_root.parent / "noflip" / "train.json"
    path.write_text(json.dumps(data))
    cfg = _config(coco_root, figure_root, train_annotations=str(path))
    assert cfg.keypoint_set.flip_pairs == ()
    assert "no flip pairs: training without horizontal flips, evaluating without the flip test" in (
        capsys.readouterr().out
    )


def test_annotations_not_3k_name_the_file_and_field(coco_root, figure_root, tmp_path):
    data = json.loads((figure_root / "val.json").read_text())
    data["annotations"][1]["keypoints"] = data["annotations"][1]["keypoints"][:12]
    bad = tmp_path / "val.json"
    bad.write_text(json.dumps(data))
    dm = CocoKeypointsDataModule(config=_config(coco_root, figure_root, val_annotations=str(bad)))
    with pytest.raises(ValueError, match=r"needs 15 keypoint values in 'keypoints'") as err:
        dm.instances("val")
    assert str(bad) in str(err.value)


def test_coco_2017_is_a_preset_of_the_same_reader():
    cfg = compose_config(["data=coco"]).data
    assert cfg.keypoint_set is COCO and cfg.metrics == ["AP"]
    assert str(cfg.annotation_file("val")).endswith("annotations/person_keypoints_val2017.json")
    assert str(cfg.image_folder("train")).endswith("train2017")


@pytest.mark.parametrize(
    ("overrides", "monitor"),
    [
        ([], ("val/AP", "max")),
        (["data=mpii"], ("val/PCKh", "max")),
        (["data.metrics=[EPE,AP]"], ("val/EPE", "min")),
        (["data.metrics=[NME]", "monitor=val/AP"], ("val/AP", "max")),
        (["data.metrics=[PCK]", "monitor=val/NME"], ("val/NME", "min")),
    ],
)
def test_the_first_metric_is_the_monitor(coco_root, figure_root, overrides, monitor):
    cfg = compose_config([*figure_overrides(coco_root, figure_root), *overrides])
    cfg.validate()
    assert (cfg.monitor, cfg.monitor_mode) == monitor


def test_metric_names_are_checked_against_the_format():
    with pytest.raises(ValueError, match=r"data.metrics: AP needs the ground truth of coco"):
        MpiiDataConfig(metrics=["AP"]).validate()
    with pytest.raises(ValueError, match=r"data.metrics: unknown metric 'MAP'"):
        CocoFormatDataConfig(metrics=["MAP"], train_annotations="a", val_annotations="b",
                             train_images="c", val_images="d").validate()  # fmt: skip
    assert set(POSE_METRICS) == set(POSE_METRIC_NAMES)


def test_coco_format_needs_its_files():
    with pytest.raises(ValueError, match=r"data.train_annotations: required with data=coco_format"):
        compose_config(["data=coco_format"]).validate()
