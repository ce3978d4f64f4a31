"""The vendored Cityscapes label table against the official ``cityscapesscripts`` one."""

from __future__ import annotations

import numpy as np
import pytest

from lite_hrnet.meta.cityscapes import (
    CLASS_NAMES,
    IGNORE_INDEX,
    LABELS,
    NUM_CLASSES,
    label_id_to_train_id_lut,
    label_ids_to_train_ids,
    train_ids_to_label_ids,
)

official = pytest.importorskip("cityscapesscripts.helpers.labels")


def test_table_equals_the_official_one() -> None:
    assert [tuple(label) for label in LABELS] == [tuple(label) for label in official.labels]
    assert LABELS[0]._fields == official.labels[0]._fields


def test_label_id_to_train_id_matches_official() -> None:
    lut = label_id_to_train_id_lut()
    for label in official.labels:
        if label.id < 0:
            continue
        expected = IGNORE_INDEX if label.trainId in (255, -1) else label.trainId
        assert lut[label.id] == expected, label.name
    # Ids beyond the table are marked invalid, not silently ignored.
    assert (lut[34:] == -1).all()


def test_nineteen_classes_in_train_id_order() -> None:
    assert NUM_CLASSES == 19
    assert tuple(official.trainId2label[i].name for i in range(19)) == CLASS_NAMES


def test_round_trip_through_label_ids() -> None:
    train_ids = np.arange(19, dtype=np.uint8).reshape(1, 19)
    label_ids = train_ids_to_label_ids(train_ids)
    assert [official.id2label[i].trainId for i in label_ids[0]] == list(range(19))
    np.testing.assert_array_equal(label_ids_to_train_ids(label_ids), train_ids)


def test_void_ids_become_ignore() -> None:
    label_ids = np.array([[0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30]], np.uint8)
    assert (label_ids_to_train_ids(label_ids) == IGNORE_INDEX).all()


def test_ids_outside_the_table_name_the_file() -> None:
    label_ids = np.array([[7, 8, 34, 200]], np.uint8)
    with pytest.raises(ValueError, match=r"frankfurt_x\.png: label ids \[34, 200\]"):
        label_ids_to_train_ids(label_ids, "frankfurt_x.png")
