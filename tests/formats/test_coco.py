"""load_coco: a wrong value in a COCO keypoint file is an error naming the file and entry."""

import json

import pytest

from lite_hrnet.formats.coco import load_coco


def _valid() -> dict:
    keypoints = [10.0, 20.0, 2] * 17
    return {
        "images": [
            {"id": 1, "file_name": "1.jpg", "width": 640, "height": 480},
            {"id": 2, "file_name": "2.jpg", "width": 640, "height": 480},
        ],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 900.0,
             "bbox": [5.0, 5.0, 30.0, 30.0], "keypoints": keypoints, "num_keypoints": 17},
            {"id": 11, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 900.0,
             "bbox": [5.0, 5.0, 30.0, 30.0], "keypoints": keypoints, "num_keypoints": 17},
        ],
    }  # fmt: skip


def _load(tmp_path, data):
    path = tmp_path / "person_keypoints_val2017.json"
    path.write_text(json.dumps(data))  # json writes float("nan") as NaN, as Python reads it
    return load_coco(path)


def test_valid_file_loads(tmp_path):
    coco = _load(tmp_path, _valid())
    assert sorted(coco.imgs) == [1, 2] and sorted(coco.anns) == [10, 11]


def _set(path: str, value):
    def change(data: dict) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    "defect, message",
    [
        (_set("annotations.0.bbox", ["5", "5", "30", "30"]),
         r"annotation 10 \(annotations\[0\]\): 'bbox' must be 4 finite numbers"),
        (_set("annotations.0.bbox", None), r"annotation 10 .*'bbox' must be 4 finite numbers"),
        (_set("annotations.1.bbox", [5.0, 5.0, 30.0]), r"annotation 11 .*'bbox' must be 4"),
        (_set("annotations", None), r"'annotations' must be a list"),
        (_set("images", {"id": 1}), r"'images' must be a list"),
        (_set("annotations.0.keypoints", ["10"] * 51), r"annotation 10 .*'keypoints' must be"),
        (_set("annotations.0.keypoints.3", float("nan")), r"annotation 10 .*'keypoints' must be"),
        (_set("annotations.0.keypoints", [1.0, 2.0]), r"annotation 10 .*\[x, y, v\] per joint"),
        (_set("annotations.0.image_id", "1"), r"annotation 10 .*'image_id' must be an integer"),
        (_set("annotations.0.area", "big"), r"annotation 10 .*'area' must be a finite number"),
        (_set("annotations.0", "oops"), r"annotations\[0\] must be an object"),
        (_set("images.1.width", "640"), r"images\[1\] needs a positive 'width'"),
        (_set("images.0.height", 0), r"images\[0\] needs a positive 'height'"),
        (_set("images.0.id", "1"), r"images\[0\] needs an integer 'id'"),
        (_set("images.0.file_name", 7), r"images\[0\] needs a string 'file_name'"),
        (_set("images.1.id", 1), r"1 image ids are used more than once, e.g. \[1\]"),
        (_set("annotations.1.id", 10),
         r"1 annotation ids are used more than once, e.g. \[10\]"),
    ],
)  # fmt: skip
def test_defect_is_an_error_naming_file_and_entry(tmp_path, defect, message):
    data = _valid()
    defect(data)
    with pytest.raises(ValueError, match=message) as info:
        _load(tmp_path, data)
    assert "person_keypoints_val2017.json" in str(info.value)


@pytest.mark.parametrize("value", [-1, 2.5, "17", True])
def test_num_keypoints_must_be_a_count(tmp_path, value):
    data = _valid()
    data["annotations"][1]["num_keypoints"] = value
    with pytest.raises(ValueError, match=r"annotation 11 .*'num_keypoints' must be an integer"):
        _load(tmp_path, data)
