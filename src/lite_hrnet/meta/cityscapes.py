"""The Cityscapes label table: labelIds, the 19 trainIds, names and colours.

Vendored from ``cityscapesscripts.helpers.labels`` (the official table), so the core
install does not need that package; ``tests/meta/test_cityscapes.py`` checks that this
copy equals the installed official one field by field. Label maps are (H, W) integer
arrays; ``IGNORE_INDEX`` (255) marks pixels that count neither in the loss nor in mIoU.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .class_table import ClassTable

IGNORE_INDEX = 255
NUM_CLASSES = 19


class Label(NamedTuple):
    """One row of the official table (same field names as ``cityscapesscripts``)."""

    name: str
    id: int
    trainId: int  # the official field names
    category: str
    categoryId: int
    hasInstances: bool
    ignoreInEval: bool
    color: tuple[int, int, int]


# fmt: off
LABELS: tuple[Label, ...] = (
    #     name                    id  trainId category        catId instances ignore  color
    Label("unlabeled",             0, 255, "void",          0, False, True,  (0, 0, 0)),
    Label("ego vehicle",           1, 255, "void",          0, False, True,  (0, 0, 0)),
    Label("rectification border",  2, 255, "void",          0, False, True,  (0, 0, 0)),
    Label("out of roi",            3, 255, "void",          0, False, True,  (0, 0, 0)),
    Label("static",                4, 255, "void",          0, False, True,  (0, 0, 0)),
    Label("dynamic",               5, 255, "void",          0, False, True,  (111, 74, 0)),
    Label("ground",                6, 255, "void",          0, False, True,  (81, 0, 81)),
    Label("road",                  7,   0, "flat",          1, False, False, (128, 64, 128)),
    Label("sidewalk",              8,   1, "flat",          1, False, False, (244, 35, 232)),
    Label("parking",               9, 255, "flat",          1, False, True,  (250, 170, 160)),
    Label("rail track",           10, 255, "flat",          1, False, True,  (230, 150, 140)),
    Label("building",             11,   2, "construction",  2, False, False, (70, 70, 70)),
    Label("wall",                 12,   3, "construction",  2, False, False, (102, 102, 156)),
    Label("fence",                13,   4, "construction",  2, False, False, (190, 153, 153)),
    Label("guard rail",           14, 255, "construction",  2, False, True,  (180, 165, 180)),
    Label("bridge",               15, 255, "construction",  2, False, True,  (150, 100, 100)),
    Label("tunnel",               16, 255, "construction",  2, False, True,  (150, 120, 90)),
    Label("pole",                 17,   5, "object",        3, False, False, (153, 153, 153)),
    Label("polegroup",            18, 255, "object",        3, False, True,  (153, 153, 153)),
    Label("traffic light",        19,   6, "object",        3, False, False, (250, 170, 30)),
    Label("traffic sign",         20,   7, "object",        3, False, False, (220, 220, 0)),
    Label("vegetation",           21,   8, "nature",        4, False, False, (107, 142, 35)),
    Label("terrain",              22,   9, "nature",        4, False, False, (152, 251, 152)),
    Label("sky",                  23,  10, "sky",           5, False, False, (70, 130, 180)),
    Label("person",               24,  11, "human",         6, True,  False, (220, 20, 60)),
    Label("rider",                25,  12, "human",         6, True,  False, (255, 0, 0)),
    Label("car",                  26,  13, "vehicle",       7, True,  False, (0, 0, 142)),
    Label("truck",                27,  14, "vehicle",       7, True,  False, (0, 0, 70)),
    Label("bus",                  28,  15, "vehicle",       7, True,  False, (0, 60, 100)),
    Label("caravan",              29, 255, "vehicle",       7, True,  True,  (0, 0, 90)),
    Label("trailer",              30, 255, "vehicle",       7, True,  True,  (0, 0, 110)),
    Label("train",                31,  16, "vehicle",       7, True,  False, (0, 80, 100)),
    Label("motorcycle",           32,  17, "vehicle",       7, True,  False, (0, 0, 230)),
    Label("bicycle",              33,  18, "vehicle",       7, True,  False, (119, 11, 32)),
    Label("license plate",        -1,  -1, "vehicle",       7, False, True,  (0, 0, 142)),
)
# fmt: on

NAME_TO_LABEL: dict[str, Label] = {label.name: label for label in LABELS}

# Rows a labelIds PNG can hold: the official label images never contain id -1.
_TABLE_ROWS = [label for label in LABELS if label.id >= 0]
_TRAIN_ROWS = sorted(
    (label for label in LABELS if 0 <= label.trainId < IGNORE_INDEX), key=lambda x: x.trainId
)

CLASS_NAMES: tuple[str, ...] = tuple(label.name for label in _TRAIN_ROWS)
"""The 19 evaluated classes, indexed by trainId."""

CLASS_COLORS: np.ndarray = np.array([label.color for label in _TRAIN_ROWS], dtype=np.uint8)
"""(19, 3) RGB colour per trainId, as in the official colour maps."""

TRAIN_ID_TO_LABEL_ID: np.ndarray = np.array([label.id for label in _TRAIN_ROWS], dtype=np.uint8)
"""(19,) labelId of each trainId, for writing predictions in the benchmark's id space."""

CLASS_TABLE = ClassTable.build(CLASS_NAMES, CLASS_COLORS, IGNORE_INDEX, TRAIN_ID_TO_LABEL_ID)
"""The 19 classes as a ``ClassTable``: names, colours, ignore 255, labelId per trainId."""

# labelId -> trainId for every 8-bit value; -1 marks values that are not in the table.
_LABEL_TO_TRAIN = np.full(256, -1, dtype=np.int16)
for _label in _TABLE_ROWS:
    _LABEL_TO_TRAIN[_label.id] = _label.trainId


def label_id_to_train_id_lut() -> np.ndarray:
    """(256,) int16 lookup: labelId -> trainId (255 = ignore), -1 for ids not in the table."""
    return _LABEL_TO_TRAIN.copy()


def label_ids_to_train_ids(label_ids: np.ndarray, path: str | Path | None = None) -> np.ndarray:
    """Map an (H, W) uint8 labelIds map to (H, W) uint8 trainIds, ignore = 255.

    Raises ``ValueError`` naming ``path`` (when given) and the offending ids if the map
    holds ids outside the official table.
    """
    if label_ids.dtype != np.uint8:
        if label_ids.size and (label_ids.min() < 0 or label_ids.max() > 255):
            raise ValueError(f"{path or 'label map'}: label ids outside 0..255")
        label_ids = label_ids.astype(np.uint8)
    train_ids = _LABEL_TO_TRAIN[label_ids]
    if (train_ids < 0).any():
        bad = np.unique(label_ids[train_ids < 0]).tolist()
        raise ValueError(
            f"{path or 'label map'}: label ids {bad[:10]} are not in the Cityscapes table "
            f"(valid ids are 0..{_TABLE_ROWS[-1].id})"
        )
    return train_ids.astype(np.uint8)


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Map (H, W) predicted trainIds (0..18) to labelIds for a benchmark submission."""
    return TRAIN_ID_TO_LABEL_ID[train_ids]


def colorize(train_ids: np.ndarray) -> np.ndarray:
    """(H, W) trainIds -> (H, W, 3) uint8 RGB in the official colours; ignore is black."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: len(CLASS_COLORS)] = CLASS_COLORS
    return palette[train_ids]
