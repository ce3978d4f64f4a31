"""The generators' one contract: a set is written once per settings, an interrupted one is
redone, real data is never touched, and parallel jobs that need the same set write it once."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lite_hrnet.synthetic.marker import MARKER, ensure_generated, generation_lock, settings_key
from lite_hrnet.synthetic.pose_scenes import ensure_synthetic_coco, ensure_synthetic_mpii
from lite_hrnet.synthetic.street_scenes import ensure_synthetic_cityscapes
from tests.support import TINY_POSE, read_only, small_disk


def test_a_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    events: list[str] = []
    held = threading.Event()

    def first() -> None:
        with generation_lock(tmp_path / "data"):
            held.set()
            time.sleep(0.3)
            events.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait()
    with generation_lock(tmp_path / "data"):
        events.append("second in")
    thread.join()
    assert events == ["first done", "second in"]


def _write_counting(calls: list[Path]):
    def write(root: Path) -> None:
        calls.append(root)
        (root / "images").mkdir()
        (root / "images" / "a.txt").write_text("data")

    return write


@dataclass
class _Settings:
    seed: int = 0


def test_one_contract_writes_once_and_again_when_the_settings_change(tmp_path: Path) -> None:
    calls: list[Path] = []
    write = _write_counting(calls)
    root = ensure_generated(tmp_path / "set", "demo", 1, _Settings(), ("images",), write)
    assert root == tmp_path / "set" and calls == [root]
    assert json.loads((root / MARKER).read_text()) == {
        "generator": "demo",
        "version": 1,
        "config": {"seed": 0},
    }
    ensure_generated(root, "demo", 1, _Settings(), ("images",), write)
    assert len(calls) == 1  # complete with the same settings: nothing written
    ensure_generated(root, "demo", 1, _Settings(seed=1), ("images",), write)
    ensure_generated(root, "demo", 2, _Settings(seed=1), ("images",), write)
    assert len(calls) == 3  # new settings, then a new generator version


def test_an_interrupted_run_is_redone(tmp_path: Path) -> None:
    def crash(root: Path) -> None:
        (root / "images").mkdir()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_generated(tmp_path, "demo", 1, _Settings(), ("images",), crash)
    assert not (tmp_path / MARKER).exists() and (tmp_path / f"{MARKER}.partial").exists()
    calls: list[Path] = []
    ensure_generated(tmp_path, "demo", 1, _Settings(), ("images",), _write_counting(calls))
    assert calls and (tmp_path / MARKER).exists()


def test_an_interrupted_run_with_other_settings_leaves_no_marker_of_the_old(
    tmp_path: Path,
) -> None:
    """A complete set with seed 0, a regeneration with seed 1 killed half-way: the next run
    with seed 0 must not find the old marker on the mixed files, and writes again."""
    calls: list[Path] = []
    ensure_generated(tmp_path, "demo", 1, _Settings(seed=0), ("images",), _write_counting(calls))

    def crash(root: Path) -> None:
        (root / "images").mkdir()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensure_generated(tmp_path, "demo", 1, _Settings(seed=1), ("images",), crash)
    assert not (tmp_path / MARKER).exists()
    ensure_generated(tmp_path, "demo", 1, _Settings(seed=0), ("images",), _write_counting(calls))
    assert len(calls) == 2 and (tmp_path / "images" / "a.txt").exists()


def test_settings_key_is_short_and_follows_every_setting() -> None:
    key = settings_key({"seed": 0, "size": [64, 128]})
    assert re.fullmatch(r"[0-9a-f]{8}", key)
    assert settings_key({"size": [64, 128], "seed": 0}) == key
    assert settings_key({"seed": 1, "size": [64, 128]}) != key


@pytest.mark.parametrize(
    ("ensure", "layout"),
    [(ensure_synthetic_coco, "train2017"), (ensure_synthetic_mpii, "images"),
     (ensure_synthetic_cityscapes, "leftImg8bit")],
)  # fmt: skip
def test_a_folder_with_real_data_and_no_marker_is_never_touched(
    ensure, layout: str, tmp_path: Path
) -> None:
    (tmp_path / layout).mkdir()
    (tmp_path / layout / "keep.jpg").write_bytes(b"a real image")
    with pytest.raises(FileExistsError, match=rf"no {re.escape(MARKER)}; not a generated set"):
        ensure(tmp_path)
    assert (tmp_path / layout / "keep.jpg").read_bytes() == b"a real image"


def test_a_set_marked_by_an_older_version_is_written_again(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / ".complete.json").write_text("{}")  # the pose generators' former marker
    calls: list[Path] = []
    ensure_generated(
        tmp_path, "demo", 1, _Settings(), ("images",), _write_counting(calls),
        legacy_markers=(".complete.json",),
    )  # fmt: skip
    assert calls and not (tmp_path / ".complete.json").exists()


def test_a_complete_set_is_used_from_a_read_only_folder(tmp_path: Path) -> None:
    calls: list[Path] = []
    parent = tmp_path / "mount"
    parent.mkdir()
    root = ensure_generated(
        parent / "set", "demo", 1, _Settings(), ("images",), _write_counting(calls)
    )
    with read_only(parent):
        again = ensure_generated(
            parent / "set", "demo", 1, _Settings(), ("images",), _write_counting(calls)
        )
    assert again == root and calls == [root]  # read, not written again


def test_a_set_that_cannot_be_written_names_its_folder(tmp_path: Path) -> None:
    parent = tmp_path / "mount"
    parent.mkdir()
    with read_only(parent), pytest.raises(OSError) as caught:
        ensure_generated(parent / "set", "demo", 1, _Settings(), ("images",), _write_counting([]))
    message = str(caught.value)
    assert message.startswith(f"cannot write the generated data set {parent / 'set'}")
    assert "data.root (or LITE_HRNET_CACHE)" in message and "\n" not in message


def test_a_full_disk_while_generating_names_the_file(tmp_path: Path) -> None:
    root = tmp_path / "disk" / "coco"
    with small_disk(tmp_path / "disk", "256k"), pytest.raises(OSError) as caught:
        ensure_synthetic_coco(root, TINY_POSE)
    message = str(caught.value)
    assert f"cannot write the generated data set {root} at {root}/" in message
    assert "no space left on device" in message
    assert not (root / MARKER).exists()
