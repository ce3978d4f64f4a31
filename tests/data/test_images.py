"""Image files: every unreadable one is an ``ImageReadError`` naming it (a counted skip
for the datasets), never an OpenCV assertion inside a worker."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lite_hrnet.data.images import ImageReadError, PngHeader, read_png_header, read_rgb
from tests.support import fake_png


def test_header_claiming_100000_squared_pixels_names_the_file(tmp_path: Path) -> None:
    path = fake_png(tmp_path / "huge.png", 100000, 100000)
    with pytest.raises(ImageReadError, match=r"cannot decode image \(OpenCV: .*\): .*huge.png"):
        read_rgb(path)


def test_png_header_is_read_without_decoding(tmp_path: Path) -> None:
    assert read_png_header(fake_png(tmp_path / "huge.png", 100000, 7, 0)) == PngHeader(
        100000, 7, 8, 0
    )
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((5, 9), np.uint16))
    assert read_png_header(tmp_path / "a.png") == PngHeader(9, 5, 16, 0)
    (tmp_path / "b.png").write_bytes(b"GIF89a")
    assert read_png_header(tmp_path / "b.png") is None
