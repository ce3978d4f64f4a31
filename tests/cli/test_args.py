"""The inputs of ``predict``: images below folders, through symlinked folders too."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from lite_hrnet.cli.args import collect_images


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_images_in_symlinked_folders_are_found(tmp_path: Path) -> None:
    real = _touch(tmp_path / "elsewhere" / "deep" / "a.jpg").parent.parent
    _touch(tmp_path / "elsewhere" / "b.png")
    folder = tmp_path / "inputs"
    folder.mkdir()
    os.symlink(real, folder / "linked", target_is_directory=True)
    assert collect_images([folder]) == [
        folder / "linked" / "b.png",
        folder / "linked" / "deep" / "a.jpg",
    ]


def test_a_link_loop_is_followed_once(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _touch(a / "x.png")
    _touch(b / "y.png")
    os.symlink(b, a / "to_b", target_is_directory=True)
    os.symlink(a, b / "to_a", target_is_directory=True)  # a -> b -> a -> ...
    os.symlink(a, a / "self", target_is_directory=True)
    with pytest.warns(UserWarning, match="links back to") as record:
        images = collect_images([a])
    assert images == [a / "to_b" / "y.png", a / "x.png"]
    assert len(record) == 2  # a/self and a/to_b/to_a


def test_a_broken_link_named_as_an_image_is_kept_for_the_reader_to_count(tmp_path) -> None:
    _touch(tmp_path / "x.png")
    os.symlink(tmp_path / "gone.png", tmp_path / "broken.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert collect_images([tmp_path]) == [tmp_path / "broken.png", tmp_path / "x.png"]
