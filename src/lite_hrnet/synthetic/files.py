"""Writing the generated files so that a failure names the file: OpenCV's ``imwrite``
returns False on a full disk (or leaves a truncated file), and Python's ``write`` errors
name no path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``; an ``OSError`` names ``path``."""
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from None


def write_image(path: Path, image: np.ndarray, params: Sequence[int] = ()) -> None:
    """Encode ``image`` ((H, W, 3) BGR or (H, W) uint8) by ``path``'s extension, as
    ``cv2.imwrite`` would, and write it with ``write_file``."""
    ok, encoded = cv2.imencode(path.suffix, image, list(params))
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode a {image.shape} image")
    write_file(path, encoded.tobytes())
