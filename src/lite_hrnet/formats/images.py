"""Image files decoded with OpenCV, with errors that name the file: what the data sets,
the inference classes and the commands read images with."""

from __future__ import annotations

import os

import cv2
import numpy as np

# An image given to predict on: (H, W, 3) uint8 RGB, or its file.
Image = np.ndarray | str | os.PathLike[str]


class ImageReadError(OSError):
    """An image file is missing or cannot be decoded."""


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


def as_rgb(image: Image) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array as it is, or an image file decoded to one; a
    ValueError for other arrays."""
    if isinstance(image, (str, os.PathLike)):
        return read_rgb(image)
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(
            f"images: (H, W, 3) uint8 RGB arrays or files, got {array.dtype} {array.shape}"
        )
    return array
