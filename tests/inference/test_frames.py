"""Frame sources (video file, image folder, camera), the mp4 writer, the display fallback
and the progress bar, on a generated clip of people moving."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite_hrnet.inference import frames as frames_module
from lite_hrnet.inference.frames import (
    CAMERA_MISSES,
    DEFAULT_FPS,
    VideoWriter,
    open_frames,
    show_frames,
    with_progress,
)
from tests.inference.moving_people import crossing_scene

FPS = 10.0


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """(12, 96, 128, 3) uint8 RGB: two people crossing, one walking slowly."""
    return crossing_scene().frames


@pytest.fixture(scope="module")
def video(clip: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with VideoWriter(path, FPS, (clip.shape[2], clip.shape[1])) as writer:
        for image in clip:
            writer.write(image)
    return path


def test_a_written_video_reads_back_with_its_frames_size_and_rate(
    video: Path, clip: np.ndarray
) -> None:
    source = open_frames(video)
    assert (source.size, source.fps, source.frame_count) == ((128, 96), FPS, 12)
    read = list(source)
    assert [f.index for f in read] == list(range(12))
    assert [f.time_s for f in read] == pytest.approx(np.arange(12) / FPS)
    assert read[3].name == "clip.mp4#3"
    assert not source.problems
    images = np.stack([f.image for f in read])
    assert images.shape == clip.shape and images.dtype == np.uint8
    # lossy, but the same pictures in the same order (RGB, not BGR)
    error = np.abs(images.astype(float) - clip).mean(axis=(1, 2, 3))
    assert error.max() < 6, error
    assert np.abs(images[:, ..., ::-1].astype(float) - clip).mean() > 2 * error.max()
    assert len(list(source)) == 12  # a file can be read again


def _faststart(data: bytes) -> bytes:
    """The mp4 with its index (moov) moved before the frames, as a streamed or downloaded
    file has it, so that a copy cut short still opens; chunk offsets (stco) moved along."""
    boxes, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        boxes.append((at, size, kind))
        at += size
    (moov_at, moov_size, _) = next(b for b in boxes if b[2] == b"moov")
    moov = bytearray(data[moov_at : moov_at + moov_size])
    at = moov.find(b"stco")
    assert at > 0 and moov.find(b"co64") < 0
    while at > 0:
        for k in range(struct.unpack(">I", moov[at + 8 : at + 12])[0]):
            o = at + 12 + 4 * k
            moov[o : o + 4] = struct.pack(">I", struct.unpack(">I", moov[o : o + 4])[0] + moov_size)
        at = moov.find(b"stco", at + 4)
    ftyp_end = boxes[0][1]
    return data[:ftyp_end] + bytes(moov) + data[ftyp_end:moov_at] + data[moov_at + moov_size :]


def test_a_video_cut_short_yields_the_frames_before_the_cut_and_says_it_ended_early(
    video: Path, tmp_path: Path
) -> None:
    whole = _faststart(video.read_bytes())
    complete = tmp_path / "whole.mp4"
    complete.write_bytes(whole)
    assert len(list(open_frames(complete))) == 12  # the rewrite itself loses nothing
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 6 // 10])
    source = open_frames(cut)
    assert source.frame_count == 12
    with pytest.warns(UserWarning, match="ended early"):
        read = list(source)
    assert 1 <= len(read) < 12
    assert [f.index for f in read] == list(range(len(read)))
    assert f"ended early after {len(read)} of 12 frames" in source.problems.report()
    assert len(source.problems) == 1


def test_an_mp4_cut_before_its_index_is_a_clear_error(video: Path, tmp_path: Path) -> None:
    cut = tmp_path / "recording.mp4"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])  # a recording stopped: its index is last
    with pytest.raises(ValueError, match=r"recording\.mp4: cannot open as a video"):
        open_frames(cut)


def test_missing_and_unreadable_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing\.mp4: no such"):
        open_frames(tmp_path / "nothing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(ValueError, match=r"notes\.mp4: cannot open"):
        open_frames(text)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="empty: no images"):
        open_frames(empty)


def _write_folder(folder: Path, clip: np.ndarray) -> None:
    folder.mkdir()
    for i, image in enumerate(clip):
        cv2.imwrite(str(folder / f"frame_{i}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not a frame")


def test_a_folder_is_read_in_natural_order_at_the_given_rate(
    clip: np.ndarray, tmp_path: Path
) -> None:
    _write_folder(tmp_path / "frames", clip)
    source = open_frames(tmp_path / "frames")
    assert (source.size, source.fps, source.frame_count) == ((128, 96), DEFAULT_FPS, 12)
    read = list(source)
    assert [f.name for f in read] == [f"frame_{i}.png" for i in range(12)]  # 2 before 10
    np.testing.assert_array_equal(np.stack([f.image for f in read]), clip)  # PNG: lossless
    assert open_frames(tmp_path / "frames", fps=5).fps == 5
    assert list(open_frames(tmp_path / "frames", fps=5))[4].time_s == pytest.approx(0.8)
    with pytest.raises(ValueError, match="fps 0 must be > 0"):
        open_frames(tmp_path / "frames", fps=0)


def test_a_corrupt_or_odd_sized_image_in_a_folder_is_counted_warned_and_skipped(
    clip: np.ndarray, tmp_path: Path
) -> None:
    folder = tmp_path / "frames"
    _write_folder(folder, clip)
    png = (folder / "frame_5.png").read_bytes()
    (folder / "frame_5.png").write_bytes(png[: len(png) // 3])  # cut short
    cv2.imwrite(str(folder / "frame_9.png"), np.zeros((50, 60, 3), np.uint8))
    source = open_frames(folder)
    with pytest.warns(UserWarning) as caught:
        read = list(source)
    messages = " ".join(str(w.message) for w in caught)
    assert "frame_5.png" in messages and "frame_9.png" in messages
    assert [f.index for f in read] == [i for i in range(12) if i not in (5, 9)]
    assert len(source.problems) == 2
    assert "frame_5.png: skipped: not a decodable image" in source.problems.report()
    assert "60x50, not the first image's 128x96" in source.problems.report()


def test_a_folder_whose_first_images_are_corrupt_takes_its_size_from_a_readable_one(
    clip: np.ndarray, tmp_path: Path
) -> None:
    folder = tmp_path / "frames"
    _write_folder(folder, clip[:3])
    (folder / "frame_0.png").write_bytes(b"\x89PNG broken")
    assert open_frames(folder).size == (128, 96)
    for i in range(1, 3):
        (folder / f"frame_{i}.png").write_bytes(b"")
    with pytest.raises(ValueError, match="none of its 3 images can be decoded"):
        open_frames(folder)


class FakeCamera:
    """A ``cv2.VideoCapture`` of a camera that sends ``frames`` (BGR) and then nothing."""

    def __init__(self, frames: np.ndarray, opened: bool = True, fps: float = 0.0) -> None:
        self.frames, self.opened, self.fps = list(frames), opened, fps
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def get(self, prop: int) -> float:
        h, w = self.frames[0].shape[:2]
        known = {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FRAME_WIDTH: w}
        return known.get(prop, h if prop == cv2.CAP_PROP_FRAME_HEIGHT else -1.0)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.frames:
            return True, self.frames.pop(0)
        return False, None

    def release(self) -> None:
        self.released = True


def test_a_camera_is_read_through_the_capture_factory(
    clip: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int | str] = []
    camera = FakeCamera(clip[:5, ..., ::-1])

    def factory(source: int | str) -> FakeCamera:
        opened.append(source)
        return camera

    monkeypatch.setattr(frames_module, "capture_factory", factory)
    with open_frames("2") as source:  # a string of digits is a camera index too
        assert (source.size, source.fps, source.frame_count) == ((128, 96), DEFAULT_FPS, None)
        with pytest.warns(UserWarning, match="camera 2: stopped sending frames after 5"):
            read = list(source)
    assert opened == [2] and camera.released
    np.testing.assert_array_equal(read[4].image, clip[4])  # BGR from the device, RGB out
    times = [f.time_s for f in read]
    assert times[0] == 0 and all(b > a for a, b in itertools.pairwise(times))
    assert source.measured_fps is not None and source.measured_fps > 0
    assert source.problems.ended_early is not None
    assert CAMERA_MISSES > 1  # a single empty read does not end the stream


def test_a_stream_url_goes_to_opencv_as_it_is(
    clip: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int | str] = []

    def factory(source: int | str) -> FakeCamera:
        opened.append(source)
        return FakeCamera(clip[:4, ..., ::-1], fps=12)

    monkeypatch.setattr(frames_module, "capture_factory", factory)
    source = open_frames("rtsp://camera.local:554/stream")
    assert (source.name, source.fps, source.size) == (
        "rtsp://camera.local:554/stream",
        12,
        (128, 96),
    )
    read = list(source)
    assert len(read) == 4 and source.frame_count is None and not source.problems
    assert read[1].name == "rtsp://camera.local:554/stream#1"
    assert opened == ["rtsp://camera.local:554/stream"] * 2  # properties, then the frames
    monkeypatch.setattr(frames_module, "capture_factory", lambda s: FakeCamera(clip, False))
    with pytest.raises(ValueError, match=r"rtsp://camera\.local:554/stream: cannot open"):
        open_frames("rtsp://camera.local:554/stream")


def test_a_camera_that_cannot_be_opened_is_a_clear_error(
    clip: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames_module, "capture_factory", lambda s: FakeCamera(clip, False))
    with pytest.raises(ValueError, match="camera 0: cannot open"):
        open_frames(0)


def test_a_camera_closed_while_reading_stops_the_stream(
    clip: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames_module, "capture_factory", lambda s: FakeCamera(clip, fps=25))
    source = open_frames(0)
    assert source.fps == 25
    read = []
    for frame in source:
        read.append(frame)
        if len(read) == 3:
            source.close()
    assert len(read) == 3 and not source.problems


def test_the_writer_refuses_frames_it_would_drop_and_folders_that_are_missing(
    tmp_path: Path,
) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "out.mp4", 10, (64, 48))
    with VideoWriter(tmp_path / "out.mp4", 10, (64, 48)) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(ValueError, match=r"frame 1 is uint8 \(64, 48, 3\)"):
            writer.write(np.zeros((64, 48, 3), np.uint8))
    assert open_frames(tmp_path / "out.mp4").frame_count == 1


def test_the_writer_says_when_the_codec_cannot_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames_module, "MP4_FOURCC", "zzzz")
    with pytest.raises(RuntimeError, match="cannot open a 'zzzz' video writer"):
        VideoWriter(tmp_path / "out.mp4", 10, (64, 48))


def test_without_a_display_frames_go_to_a_folder(
    clip: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames_module, "display_problem", lambda: "no display (test)")
    with pytest.raises(RuntimeError, match=r"no display \(test\)"):
        show_frames(clip)
    with pytest.warns(UserWarning, match="writing them to"):
        assert show_frames(clip[:3], fallback_folder=tmp_path / "shown") == 3
    assert sorted(p.name for p in (tmp_path / "shown").iterdir()) == [
        f"frame_00000{i}.png" for i in range(3)
    ]


def test_the_headless_opencv_is_recognised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:        NONE\n")
    assert "no GUI" in frames_module.display_problem()
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:        GTK3\n")
    monkeypatch.setenv("DISPLAY", ":0")
    assert frames_module.display_problem() is None


def test_with_a_display_frames_are_shown_until_q(
    clip: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[np.ndarray] = []
    monkeypatch.setattr(frames_module, "display_problem", lambda: None)
    monkeypatch.setattr(cv2, "imshow", lambda name, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda ms: ord("q") if len(shown) == 4 else -1)
    monkeypatch.setattr(cv2, "destroyWindow", lambda name: None)
    assert show_frames(clip) == 4
    np.testing.assert_array_equal(shown[2], clip[2, ..., ::-1])


def test_the_progress_bar_passes_every_frame_and_counts_them(
    video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = open_frames(video)
    assert len(list(with_progress(source, total=source.frame_count))) == 12
    assert "12/12" in capsys.readouterr().err
    assert len(list(with_progress(source, enabled=False))) == 12
    assert capsys.readouterr().err == ""
