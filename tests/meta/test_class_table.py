"""Class tables: the default palette, the checks that name the field, the round trip."""

from __future__ import annotations

import numpy as np
import pytest

from lite_hrnet.meta.cityscapes import CLASS_TABLE, TRAIN_ID_TO_LABEL_ID
from lite_hrnet.meta.class_table import ClassTable, default_palette


def test_the_default_palette_is_pascal_vocs_colour_map() -> None:
    palette = default_palette(256)
    # VOC's own masks: background black, aeroplane, bicycle, bird; 255 (outlines) cream.
    assert palette[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert palette[15].tolist() == [192, 128, 128]  # person
    assert palette[255].tolist() == [224, 224, 192]
    assert len({tuple(c) for c in palette}) == 256


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"names": []}, r"data\.classes: at least one"),
        ({"names": ["a", "b", "a"]}, r"data\.classes: class names must be distinct.*\['a'\]"),
        ({"names": ["a", "b"], "palette": [[0, 0, 0]]}, r"data\.palette: one \[R, G, B\]"),
        ({"names": ["a", "b"], "palette": [[0, 0, 0], [0, 0, 300]]}, r"data\.palette"),
        ({"names": ["a", "b"], "ignore_index": 1}, r"data\.ignore_index: must be in 2\.\.255"),
    ],
)
def test_a_table_that_does_not_fit_names_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClassTable.build(**kwargs, field="data.classes")


def test_the_table_survives_its_dict_and_maps_ids() -> None:
    table = ClassTable.build(["sky", "cat"], [[1, 2, 3], [4, 5, 6]], 255, [1, 2])
    assert ClassTable.from_dict(table.as_dict()) == table
    class_map = np.array([[0, 1], [255, 1]])
    assert table.colorize(class_map).tolist() == [[[1, 2, 3], [4, 5, 6]], [[0, 0, 0], [4, 5, 6]]]
    assert table.to_label_ids(np.array([[0, 1]])).tolist() == [[1, 2]]
    assert ClassTable.build(["a", "b"]).to_label_ids(np.array([1])).tolist() == [1]


def test_cityscapes_is_a_class_table() -> None:
    assert CLASS_TABLE.num_classes == len(TRAIN_ID_TO_LABEL_ID)
    assert CLASS_TABLE.names[0] == "road" and CLASS_TABLE.palette[0].tolist() == [128, 64, 128]
    assert CLASS_TABLE.to_label_ids(np.array([0])).tolist() == [7]  # road's labelId
