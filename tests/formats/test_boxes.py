"""The boxes file of ``predict``: every box checked when read, clipped to its image."""

import json

import numpy as np
import pytest

from lite_hrnet.formats.boxes import clip_boxes, read_boxes_file


def _write(tmp_path, text: str):
    path = tmp_path / "boxes.json"
    path.write_text(text)
    return path


def test_boxes_of_numbers_are_read(tmp_path) -> None:
    path = _write(tmp_path, json.dumps({"a.png": [[1, 2, 3, 4], [1.5, 2, 3, 4, 0.9]], "b.png": []}))
    boxes = read_boxes_file(path)
    assert boxes["a.png"].tolist() == [[1, 2, 3, 4], [1.5, 2, 3, 4]]
    assert boxes["b.png"].shape == (0, 4)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"a.png": [[0, 0, "10", 10]]}', "box 0 of 'a.png' must be 4 finite numbers"),
        ('{"a.png": [[0, 0, 10, 10], [true, 0, 10, 10]]}', "box 1 of 'a.png'"),
        ('{"a.png": [[NaN, 0, 10, 10]]}', "box 0 of 'a.png'"),
        ('{"a.png": [[0, 0, Infinity, 10]]}', "box 0 of 'a.png'"),
        ('{"a.png": [[0, 0, 10]]}', "box 0 of 'a.png'"),
        ('{"a.png": [0, 0, 10, 10]}', "box 0 of 'a.png'"),
        ('{"a.png": {"x": 0}}', "'a.png' must map to a list"),
        ("[[0, 0, 10, 10]]", "must be a JSON object"),
    ],
)
def test_a_malformed_box_is_an_error_naming_the_file(tmp_path, text: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=problem) as error:
        read_boxes_file(path)
    assert str(path) in str(error.value)


def test_boxes_are_clipped_to_the_image_and_empty_ones_dropped() -> None:
    boxes = np.array(
        [
            [10, 10, 20, 20],  # inside
            [-10, -5, 30, 1e30],  # reaches out: clipped
            [200, 10, 5, 5],  # right of the image
            [10, 10, 0, 5],  # no width
            [10, 10, 5, -4],  # negative height
            [1e30, 0, 5, 5],
        ],
        np.float64,
    )
    kept, changed, dropped = clip_boxes(boxes, width=100, height=50)
    assert kept.tolist() == [[10, 10, 20, 20], [0, 0, 20, 50]]
    assert (changed, dropped) == (1, 4)
