"""Image files read with errors that name the file, and the warning of a skipped sample."""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

import cv2
import numpy as np

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour types: 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA.
PNG_GREY = 0


class ImageReadError(OSError):
    """An image file is missing or cannot be decoded."""


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


def read_image(path: str | os.PathLike[str], flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode an image file with OpenCV ``flags`` (as stored by default), or raise
    ``ImageReadError`` naming it (also for a header that claims more pixels than OpenCV
    decodes, ``CV_IO_MAX_IMAGE_PIXELS``)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError(f"image not found or unreadable: {path} ({e.strerror})") from None
    try:
        image = cv2.imdecode(data, flags) if data.size else None
    except cv2.error as e:  # OpenCV asserts on impossible headers
        reason = e.err or str(e).strip().splitlines()[-1]
        raise ImageReadError(f"cannot decode image (OpenCV: {reason}): {path}") from None
    if image is None:
        raise ImageReadError(f"cannot decode image (corrupt or not an image): {path}")
    return image


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 RGB, or raise ``ImageReadError`` naming it."""
    return cv2.cvtColor(read_image(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
