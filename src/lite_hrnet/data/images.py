"""Image headers read without decoding, and the warning of a skipped sample; the decoding
itself is ``formats.images``'s (re-exported here for the data sets)."""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

from ..formats.images import ImageReadError, read_image, read_rgb

__all__ = [
    "CorruptImageWarning",
    "ImageReadError",
    "PngHeader",
    "read_image",
    "read_image_size",
    "read_png_header",
    "read_rgb",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types: 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA.
PNG_GREY = 0


class CorruptImageWarning(UserWarning):
    """An image or label file could not be read; its sample was skipped (and counted)."""


class PngHeader(NamedTuple):
    """What a PNG file's IHDR chunk says about the image."""

    width: int
    height: int
    bit_depth: int
    color_type: int


def read_png_header(path: str | os.PathLike[str]) -> PngHeader | None:
    """The header of a PNG file from its first 26 bytes, without decoding it; None when the
    file is not a PNG (or too short), which the full read then reports."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height, bit_depth, color_type = struct.unpack(">IIBB", head[16:26])
    return PngHeader(width, height, bit_depth, color_type)


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """[W, H] of an image file as its header states it (Pillow reads the header only,
    without the EXIF rotation that decoding applies), or None when Pillow cannot tell
    (a missing, corrupt or unknown file: the full read reports it)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except (OSError, ValueError, Image.DecompressionBombError):  # UnidentifiedImageError: OSError
        return None
