import json

import pytest

from lite_hrnet import KeypointSet
from lite_hrnet.meta import keypoint_files
from lite_hrnet.meta.keypoint_files import from_yaml_file
from lite_hrnet.meta.keypoints import COCO

# A 5-joint object, not a person: corners of a table and its center.
TABLE = ["top_left", "top_right", "bottom_left", "bottom_right", "center"]


def _ann(ann_id: int, k: int, category_id: int = 1, values: list | None = None) -> dict:
    keypoints = values if values is not None else [v for j in range(k) for v in (10 + j, 20, 2)]
    return {
        "id": ann_id,
        "image_id": 1,
        "category_id": category_id,
        "bbox": [0, 0, 50, 50],
        "area": 2500,
        "iscrowd": 0,
        "keypoints": keypoints,
    }


def _write(tmp_path, categories, annotations, name="ann.json"):
    path = tmp_path / name
    data = {
        "images": [{"id": 1, "file_name": "1.jpg", "width": 64, "height": 64}],
        "annotations": annotations,
    }
    if categories is not None:
        data["categories"] = categories
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(autouse=True)
def _fresh_print_once(monkeypatch):
    monkeypatch.setattr(keypoint_files, "_printed", set())


def test_names_and_skeleton_from_the_categories_k_not_17(tmp_path, capsys):
    cat = {"id": 1, "name": "table", "keypoints": TABLE, "skeleton": [[1, 2], [3, 4], [1, 5]]}
    kset = KeypointSet.from_coco(_write(tmp_path, [cat], [_ann(1, 5)]))
    assert kset.num_joints == 5 and kset.joint_names == tuple(TABLE)
    assert kset.skeleton == ((0, 1), (2, 3), (0, 4))  # 1-based in the file
    assert kset.flip_pairs == ((0, 1), (2, 3))
    assert kset.named and kset.name == "table" and kset.sigmas is None
    printed = capsys.readouterr().out
    assert "flip pairs derived from the joint names" in printed and "top_left" in printed


def test_the_derived_table_is_printed_once(tmp_path, capsys):
    cat = {"id": 1, "name": "table", "keypoints": TABLE}
    path = _write(tmp_path, [cat], [_ann(1, 5)])
    KeypointSet.from_coco(path)
    KeypointSet.from_coco(path)
    assert capsys.readouterr().out.count("flip pairs derived") == 1


def test_a_category_without_names_takes_k_from_the_annotations(tmp_path):
    # Face landmark files list no names: K comes from the 3K numbers of each annotation.
    kset = KeypointSet.from_coco(
        _write(tmp_path, [{"id": 1, "name": "face"}], [_ann(1, 68), _ann(2, 68)])
    )
    assert kset.num_joints == 68 and not kset.named
    assert kset.joint_names[:3] == ("0", "1", "2")
    assert kset.flip_pairs == () and kset.skeleton == ()


def test_a_file_without_categories_takes_k_from_the_annotations(tmp_path):
    assert KeypointSet.from_coco(_write(tmp_path, None, [_ann(1, 9)])).num_joints == 9


def test_several_categories_of_one_layout_form_one_set(tmp_path):
    cats = [
        {"id": 1, "name": "cat", "keypoints": TABLE},
        {"id": 2, "name": "dog", "keypoints": TABLE},
        {"id": 3, "name": "unlabelled species"},  # no names: takes the layout of the others
    ]
    anns = [_ann(1, 5, 1), _ann(2, 5, 2), _ann(3, 5, 3)]
    kset = KeypointSet.from_coco(_write(tmp_path, cats, anns))
    assert kset.num_joints == 5 and kset.joint_names == tuple(TABLE)
    assert kset.categories == ("cat", "dog", "unlabelled species")


def test_categories_of_different_layouts_need_a_pick(tmp_path):
    cats = [{"id": 1, "name": "table", "keypoints": TABLE}, {"id": 2, "name": "hand"}]
    path = _write(tmp_path, cats, [_ann(1, 5, 1), _ann(2, 21, 2)])
    layouts = r"different keypoint layouts: 'table' \(5 named joints\), 'hand' \(21 joints\)"
    with pytest.raises(ValueError, match=layouts):
        KeypointSet.from_coco(path)
    assert KeypointSet.from_coco(path, categories=["hand"]).num_joints == 21
    assert KeypointSet.from_coco(path, categories=[1]).joint_names == tuple(TABLE)
    with pytest.raises(ValueError, match="no category 'chair'"):
        KeypointSet.from_coco(path, categories=["chair"])


def test_coco_names_take_coco_sigmas_and_upper_body(tmp_path):
    cat = {"id": 1, "name": "person", "keypoints": list(COCO.joint_names)}
    kset = KeypointSet.from_coco(_write(tmp_path, [cat], [_ann(1, 17)]))
    assert kset.sigmas == COCO.sigmas and kset.upper_body_ids == COCO.upper_body_ids
    assert kset.flip_pairs == COCO.flip_pairs


def test_keypoints_not_3k_is_an_error_naming_the_file_and_field(tmp_path):
    cat = {"id": 1, "name": "table", "keypoints": TABLE}
    path = _write(tmp_path, [cat], [_ann(1, 5), _ann(7, 4)])
    with pytest.raises(ValueError) as err:
        KeypointSet.from_coco(path)
    assert str(path) in str(err.value)
    assert "annotations[1] (id 7) 'keypoints' has 12 values" in str(err.value)
    assert "15 expected" in str(err.value)
    path = _write(tmp_path, None, [_ann(1, 0, values=[1, 2, 2, 5])])
    with pytest.raises(ValueError, match="'keypoints' has 4 values, not \\[x, y, v\\] per joint"):
        KeypointSet.from_coco(path)


def test_unnamed_annotations_of_different_lengths_are_an_error(tmp_path):
    path = _write(tmp_path, [{"id": 1, "name": "face"}], [_ann(1, 68), _ann(2, 98)])
    with pytest.raises(ValueError, match="has 294 values, but annotations\\[0\\] has 204"):
        KeypointSet.from_coco(path)


def test_skeleton_index_out_of_range_names_the_file_and_field(tmp_path):
    cat = {"id": 1, "name": "table", "keypoints": TABLE, "skeleton": [[1, 2], [5, 6]]}
    path = _write(tmp_path, [cat], [_ann(1, 5)])
    with pytest.raises(ValueError) as err:
        KeypointSet.from_coco(path)
    assert f"{path}: categories[0].skeleton holds [5, 6]" in str(err.value)
    assert "run 1..5" in str(err.value)


# YAML ------------------------------------------------------------------------------------
def _yaml(tmp_path, text, name="set.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_with_every_field(tmp_path):
    path = _yaml(
        tmp_path,
        """
name: table
keypoints: [top_left, top_right, bottom_left, bottom_right, center]
flip_pairs: [[top_left, top_right], [2, 3]]
skeleton: [[top_left, center], [1, 4]]
sigmas: [0.05, 0.05, 0.06, 0.06, 0.1]
upper_body: [top_left, top_right, center]
joint_weights: [1, 1, 1, 1, 1.5]
""",
    )
    kset = KeypointSet.from_yaml(path)
    assert kset.name == "table" and kset.num_joints == 5
    assert kset.flip_pairs == ((0, 1), (2, 3))
    assert kset.skeleton == ((0, 4), (1, 4))  # YAML indices are 0-based
    assert kset.sigmas == (0.05, 0.05, 0.06, 0.06, 0.1)
    assert kset.upper_body_ids == (0, 1, 4)
    assert kset.joint_weights == (1.0, 1.0, 1.0, 1.0, 1.5)


def test_yaml_flip_pairs_given_empty_means_none(tmp_path):
    kset = KeypointSet.from_yaml(_yaml(tmp_path, "keypoints: [left_a, right_a]\nflip_pairs: []\n"))
    assert kset.flip_pairs == ()


def test_yaml_without_flip_pairs_derives_them(tmp_path):
    kset = KeypointSet.from_yaml(_yaml(tmp_path, "keypoints: [nose, eyeL, eyeR]\n"))
    assert kset.flip_pairs == ((1, 2),)


def test_ultralytics_kpt_shape_and_flip_idx(tmp_path):
    text = (
        "path: ../datasets/x\ntrain: images/train\nnames: {0: hand}\n"
        "kpt_shape: [4, 3]\nflip_idx: [1, 0, 2, 3]\n"
    )
    kset = KeypointSet.from_yaml(_yaml(tmp_path, text))
    assert kset.num_joints == 4 and not kset.named and kset.flip_pairs == ((0, 1),)
    bad = _yaml(tmp_path, "kpt_shape: [4, 3]\nflip_idx: [1, 2, 0, 3]\n", "bad.yaml")
    with pytest.raises(ValueError, match="flip_idx must give each of the 4 joints its mirror"):
        KeypointSet.from_yaml(bad)


def test_mmpose_dataset_info_as_yaml(tmp_path):
    text = """
dataset_name: mini
keypoint_info:
  0: {name: nose, id: 0, color: [51, 153, 255], type: upper, swap: ''}
  1: {name: left_paw, id: 1, color: [0, 255, 0], type: lower, swap: right_paw}
  2: {name: right_paw, id: 2, color: [255, 128, 0], type: lower, swap: left_paw}
skeleton_info:
  0: {link: [nose, left_paw], id: 0, color: [0, 255, 0]}
joint_weights: [1.0, 1.2, 1.2]
sigmas: [0.026, 0.079, 0.079]
"""
    kset = KeypointSet.from_yaml(_yaml(tmp_path, text))
    assert kset.name == "mini" and kset.joint_names == ("nose", "left_paw", "right_paw")
    assert kset.flip_pairs == ((1, 2),) and kset.upper_body_ids == (0,)
    assert kset.skeleton == ((0, 1),) and kset.sigmas == (0.026, 0.079, 0.079)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("keypoints: [a, b]\nsigma: [1, 2]\n", "unknown keys \\['sigma'\\]"),
        ("keypoints: [a, b]\nskeleton: [[a, c]]\n", "skeleton holds 'c', which is neither"),
        ("keypoints: [a, b]\nskeleton: [[0, 2]]\n", "skeleton holds 2: 0-based indices run 0..1"),
        ("keypoints: [a, b]\nsigmas: [0.1]\n", "sigmas must be 2 numbers"),
        ("flip_pairs: []\n", "give the joint names"),
        ("keypoints: [a, b]\nkpt_shape: [3, 3]\n", "kpt_shape says 3 joints but 2 names"),
        ("- a\n- b\n", "must be a mapping"),
    ],
)
def test_bad_yaml_names_the_file_and_key(tmp_path, text, message):
    path = _yaml(tmp_path, text)
    with pytest.raises(ValueError, match=message) as err:
        KeypointSet.from_yaml(path)
    assert str(path) in str(err.value)


def test_yaml_completes_the_set_of_a_coco_file(tmp_path):
    base = KeypointSet.from_coco(_write(tmp_path, [{"id": 1, "name": "face"}], [_ann(1, 4)]))
    text = "keypoints: [eye_l, eye_r, nose, mouth]\nsigmas: [0.02, 0.02, 0.03, 0.04]\n"
    path = _yaml(tmp_path, text)
    kset = from_yaml_file(path, base=base)
    assert kset.named and kset.joint_names[0] == "eye_l"
    assert kset.sigmas == (0.02, 0.02, 0.03, 0.04) and kset.flip_pairs == ((0, 1),)
    wrong = _yaml(tmp_path, "kpt_shape: [5, 3]\n", "wrong.yaml")
    with pytest.raises(ValueError, match="annotation file has 4 per instance"):
        from_yaml_file(wrong, base=base)
