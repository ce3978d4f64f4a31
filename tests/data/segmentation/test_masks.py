"""Mask files: palette PNGs read as indices, colour masks refused, the value lookups."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lite_hrnet.data.segmentation.masks import (
    check_mask_header,
    class_lookup,
    read_mask,
    to_class_map,
)
from lite_hrnet.meta.class_table import default_palette


def write_palette_png(path: Path, indices: np.ndarray, palette: np.ndarray) -> Path:
    """(H, W) uint8 indices as a palette PNG (PIL mode "P") that displays ``palette``."""
    image = Image.frombytes("P", indices.shape[::-1], indices.astype(np.uint8).tobytes())
    image.putpalette(np.asarray(palette, dtype=np.uint8).flatten().tolist())
    image.save(path)
    return path


def test_a_voc_palette_png_is_read_as_indices_not_colours(tmp_path: Path) -> None:
    indices = np.zeros((6, 8), np.uint8)
    indices[1:3, 2:5], indices[4, :], indices[0, 0] = 15, 255, 1  # person, outline, plane
    path = write_palette_png(tmp_path / "2007_000032.png", indices, default_palette(256))
    assert np.array_equal(read_mask(path), indices)
    check_mask_header(path)  # a palette PNG is a mask
    # What OpenCV reads is the colours: three channels, none of them the indices.
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape == (6, 8, 3)


def test_a_colour_mask_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mask.png"
    cv2.imwrite(str(path), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r"mask\.png: a mask PNG must be 8-bit single-channel"):
        check_mask_header(path)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "mask.tif")
    with pytest.raises(ValueError, match=r"mask\.tif: a mask must hold class indices.*'RGB'"):
        read_mask(tmp_path / "mask.tif")


def test_reduce_zero_label_ignores_zero_and_shifts_the_classes() -> None:
    lookup = class_lookup(150, 255, reduce_zero_label=True)  # ADE20K
    values = np.array([[0, 1, 150], [255, 2, 0]], np.uint8)
    assert to_class_map(values, lookup, Path("a.png"), "").tolist() == [
        [255, 0, 149],
        [255, 1, 255],
    ]
    with pytest.raises(ValueError, match=r"a\.png: label ids \[151\] are not in the class table"):
        to_class_map(np.array([[151]], np.uint8), lookup, Path("a.png"), "")


def test_without_reduction_the_values_are_the_classes() -> None:
    lookup = class_lookup(3, 255, reduce_zero_label=False)
    assert to_class_map(np.array([[0, 2, 255]], np.uint8), lookup, Path("m.png"), "").tolist() == [
        [0, 2, 255]
    ]
    with pytest.raises(ValueError, match=r"m\.png: label ids \[3, 7\].*\(3 classes\)"):
        to_class_map(np.array([[3, 7]], np.uint8), lookup, Path("m.png"), "3 classes")
