"""Image reading that reports the file it could not read."""

from __future__ import annotations

import cv2
import numpy as np


class ImageReadError(OSError):
    """An image file is missing or cannot be decoded."""


def read_rgb(path: str) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 RGB, or raise ``ImageReadError`` naming it."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError(f"image not found or unreadable: {path} ({e.strerror})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageReadError(f"cannot decode image (corrupt or not an image): {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
