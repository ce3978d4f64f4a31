"""Mask files: what their headers say, their stored values, and the map from stored values
to class indices.

A mask stores one value per pixel: a grey PNG its grey level, a palette PNG (Pascal VOC's,
PIL mode "P") the palette index of each pixel, which is read as is: the colours it displays
are not looked at. ``class_lookup`` turns stored values into class indices 0..K-1 and
``ignore_index``; a value it has no class for is an error naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..images import PNG_GREY, ImageReadError, read_png_header

PNG_PALETTE = 3
_INDEX_MODES = ("P", "L", "I;16", "I;16B", "I")  # modes whose pixels are numbers, not colours


def image_size(path: Path) -> tuple[int, int] | None:
    """(H, W) from the file's header without decoding it; None when the header cannot be
    read (the full read then reports the file)."""
    header = read_png_header(path)
    if header is not None:
        return header.height, header.width
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def check_mask_header(mask_path: Path) -> None:
    """A PNG mask must hold indices (grey or palette), not colours; ``ValueError`` naming
    the file otherwise. Files that are not PNGs are left to the read."""
    header = read_png_header(mask_path)
    if header is None:
        return
    if header.color_type == PNG_PALETTE:
        return
    if header.color_type != PNG_GREY or header.bit_depth != 8:
        kind = (
            "single-channel"
            if header.color_type == PNG_GREY
            else f"colour type {header.color_type}"
        )
        raise ValueError(
            f"{mask_path}: a mask PNG must be 8-bit single-channel or a palette PNG (class "
            f"indices), this one is {header.bit_depth}-bit {kind}"
        )


def read_mask(path: Path) -> np.ndarray:
    """(H, W) stored values of a mask file (palette PNGs: the indices, not the colours);
    ``ImageReadError`` if it cannot be decoded, ``ValueError`` naming the file if it holds
    colours (RGB) rather than indices."""
    try:
        with Image.open(path) as image:
            mode = image.mode
            values = np.asarray(image) if mode in _INDEX_MODES else None
    except FileNotFoundError:
        raise ImageReadError(f"mask not found: {path}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ImageReadError(
            f"cannot decode mask (corrupt or not an image): {path} ({e})"
        ) from None
    if values is None:
        raise ValueError(
            f"{path}: a mask must hold class indices (grey or palette image), this one is "
            f"PIL mode {mode!r} (colours)"
        )
    return values


def class_lookup(num_classes: int, ignore_index: int, reduce_zero_label: bool) -> np.ndarray:
    """(256,) int16: stored value -> class index or ``ignore_index``; -1 where a value has no
    class. Without ``reduce_zero_label`` values 0..K-1 are the classes; with it value 0 is
    ignored and values 1..K are classes 0..K-1 (ADE20K). ``ignore_index`` stays ignored."""
    lut = np.full(256, -1, dtype=np.int16)
    offset = 1 if reduce_zero_label else 0
    lut[offset : offset + num_classes] = np.arange(num_classes)
    if reduce_zero_label:
        lut[0] = ignore_index
    lut[ignore_index] = ignore_index
    return lut


def to_class_map(values: np.ndarray, lookup: np.ndarray, path: Path, table: str) -> np.ndarray:
    """(H, W) stored values -> (H, W) uint8 class map through ``lookup`` (256,); a
    ``ValueError`` naming ``path``, the values and ``table`` (what the valid values are) for
    values without a class."""
    if values.dtype != np.uint8:
        if values.size and (values.min() < 0 or values.max() > 255):
            big = np.unique(values[(values < 0) | (values > 255)]).tolist()
            raise ValueError(f"{path}: label ids {big[:10]} are not in the class table ({table})")
        values = values.astype(np.uint8)
    classes = lookup[values]
    if (classes < 0).any():
        bad = np.unique(values[classes < 0]).tolist()
        raise ValueError(f"{path}: label ids {bad[:10]} are not in the class table ({table})")
    return classes.astype(np.uint8)
