import json

import numpy as np

from lite_hrnet import KeypointSet
from lite_hrnet.synthetic.object_scenes import JOINTS, ObjectSceneConfig, ensure_synthetic_objects

TINY = ObjectSceneConfig(seed=5, num_train_images=3, num_val_images=2)


def test_the_arm_set_is_a_coco_format_keypoint_set(tmp_path):
    root = ensure_synthetic_objects(tmp_path / "arms", TINY)
    kset = KeypointSet.from_coco(root / "annotations/train.json")
    assert kset.num_joints == 9 and kset.joint_names == JOINTS and kset.sigmas is None
    # base, fingers and tips pair by their names; shoulder, elbow, wrist have no partner.
    assert kset.flip_pairs == ((0, 1), (5, 6), (7, 8))
    assert {j for p in kset.flip_pairs for j in p}.isdisjoint({2, 3, 4})
    assert len(kset.skeleton) == 9
    data = json.loads((root / "annotations/val.json").read_text())
    assert len(data["images"]) == 2 and data["annotations"]
    for ann in data["annotations"]:
        k = np.array(ann["keypoints"]).reshape(9, 3)
        x, y, w, h = ann["bbox"]
        labelled = k[k[:, 2] > 0, :2]
        assert ann["num_keypoints"] == len(labelled) >= 3
        assert (labelled >= [x, y]).all() and (labelled <= [x + w, y + h]).all()
        assert (root / "images/val" / data["images"][0]["file_name"]).is_file()


def test_the_arm_set_is_a_function_of_the_seed(tmp_path):
    a = ensure_synthetic_objects(tmp_path / "a", TINY)
    b = ensure_synthetic_objects(tmp_path / "b", TINY)
    assert (a / "annotations/train.json").read_text() == (b / "annotations/train.json").read_text()
