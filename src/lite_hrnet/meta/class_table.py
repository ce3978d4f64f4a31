"""A segmentation data set's class table: class names, a colour per class, the ignore
value, and the id each class has in the data set's own masks.

Class maps are (H, W) integer arrays of class indices 0..K-1, with ``ignore_index`` for
pixels that count neither in the loss nor in mIoU. ``label_ids[k]`` is what the data set's
masks store for class k (Cityscapes' labelIds; k + 1 with ``reduce_zero_label``), so that
predictions can be written back in the data set's own id space. The table travels in
checkpoints as ``as_dict()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def default_palette(num_classes: int) -> np.ndarray:
    """(K, 3) uint8 RGB: the Pascal VOC colour map (bits of the class index spread over
    R, G and B), the palette VOC's own masks use, so that classes get distinct colours."""
    palette = np.zeros((num_classes, 3), dtype=np.uint8)
    for k in range(num_classes):
        index, r, g, b = k, 0, 0, 0
        for bit in range(8):
            r |= ((index >> 0) & 1) << (7 - bit)
            g |= ((index >> 1) & 1) << (7 - bit)
            b |= ((index >> 2) & 1) << (7 - bit)
            index >>= 3
        palette[k] = (r, g, b)
    return palette


@dataclass(frozen=True)
class ClassTable:
    """``names`` (K,), ``palette`` (K, 3) uint8 RGB, ``ignore_index`` (0..255, not a class
    index) and ``label_ids`` (K,) (default: the class indices). ``ValueError`` naming the
    field for a table that does not fit together."""

    names: tuple[str, ...]
    palette: np.ndarray
    ignore_index: int = 255
    label_ids: tuple[int, ...] | None = None

    @classmethod
    def build(
        cls,
        names: Sequence[str],
        palette: Sequence[Sequence[int]] | np.ndarray | None = None,
        ignore_index: int = 255,
        label_ids: Sequence[int] | None = None,
        field: str = "classes",
    ) -> ClassTable:
        """A checked table; ``palette`` None: ``default_palette``. ``field`` prefixes the
        names of the fields in errors (e.g. "data.classes")."""
        names = tuple(str(n) for n in names)
        prefix = field.rsplit(".", 1)[0] + "." if "." in field else ""
        if not names:
            raise ValueError(f"{field}: at least one class name is needed")
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"{field}: class names must be distinct, repeated: {repeated}")
        if palette is None:
            colours = default_palette(len(names))
        else:
            colours = np.asarray(palette)
            if (
                colours.shape != (len(names), 3)
                or colours.min(initial=0) < 0
                or colours.max(initial=0) > 255
            ):
                raise ValueError(
                    f"{prefix}palette: one [R, G, B] (0..255) per class, {len(names)} in all; "
                    f"got shape {colours.shape}"
                )
            colours = colours.astype(np.uint8)
        if not 0 <= ignore_index <= 255 or ignore_index < len(names):
            raise ValueError(
                f"{prefix}ignore_index: must be in {len(names)}..255 (not a class index of "
                f"the {len(names)} classes), got {ignore_index}"
            )
        if label_ids is not None:
            label_ids = tuple(int(i) for i in label_ids)
            if len(label_ids) != len(names):
                raise ValueError(
                    f"{prefix}label_ids: {len(label_ids)} ids for {len(names)} classes"
                )
        return cls(names, colours, int(ignore_index), label_ids)

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def colorize(self, class_map: np.ndarray) -> np.ndarray:
        """(H, W) class indices -> (H, W, 3) uint8 RGB in the palette; other values black."""
        lut = np.zeros((256, 3), dtype=np.uint8)
        lut[: self.num_classes] = self.palette
        return lut[np.asarray(class_map, dtype=np.uint8)]

    def to_label_ids(self, class_map: np.ndarray) -> np.ndarray:
        """(H, W) class indices -> (H, W) uint8 ids as the data set's masks store them."""
        if self.label_ids is None:
            return np.asarray(class_map, dtype=np.uint8)
        return np.asarray(self.label_ids, dtype=np.uint8)[class_map]

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for checkpoints' hyperparameters and JSON)."""
        return {
            "names": list(self.names),
            "palette": self.palette.tolist(),
            "ignore_index": self.ignore_index,
            "label_ids": None if self.label_ids is None else list(self.label_ids),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ClassTable:
        """The table of ``as_dict()``."""
        return cls.build(
            values["names"],
            values.get("palette"),
            values.get("ignore_index", 255),
            values.get("label_ids"),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassTable) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self.names, self.ignore_index, self.label_ids))
