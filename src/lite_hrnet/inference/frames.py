"""Frames in and out: a video file, a folder of images or a camera as one stream of RGB
frames, an mp4 writer, a window (or a folder where there is no display) and a progress bar.

Every frame is an (H, W, 3) uint8 RGB array, as everywhere else in the package; OpenCV's
BGR stays inside this module. A frame that cannot be decoded is counted in the source's
``problems``, warned about with its name and skipped; a source that cannot be opened at
all is an error naming it.
"""

from __future__ import annotations

import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np

# Frames per second of a folder of images, and of a camera that reports no rate.
DEFAULT_FPS = 30.0
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
# Files that are videos by their name (what OpenCV's FFmpeg commonly decodes).
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"}
)
# The codec of VideoWriter: MPEG-4 part 2, which every opencv-python wheel (the headless
# one included) encodes without an external library; H.264 would need one.
MP4_FOURCC = "mp4v"
# A camera that returns this many empty reads in a row has stopped (unplugged, closed).
CAMERA_MISSES = 30


def _default_capture(source: int | str) -> Any:
    return cv2.VideoCapture(source)


# Opens every video file and camera (``cv2.VideoCapture``-like: isOpened, read, get,
# release). Tests replace it with a fake camera.
capture_factory: Callable[[int | str], Any] = _default_capture


@dataclass(frozen=True)
class Frame:
    """One frame: ``index`` in the source (a skipped frame leaves a gap), ``image``
    (H, W, 3) uint8 RGB, ``time_s`` seconds since the first frame, ``name`` (the file name
    in a folder, ``<video name>#<index>`` in a video, ``camera<N>#<index>``)."""

    index: int
    image: np.ndarray
    time_s: float
    name: str


@dataclass
class FrameProblems:
    """What went wrong while reading a source: frames skipped (name and reason) and an
    early end. Empty (falsy) when every frame was read."""

    skipped: list[tuple[str, str]] = field(default_factory=list)
    ended_early: str | None = None

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))
        warnings.warn(f"{name}: frame skipped: {reason}", stacklevel=3)

    def end_early(self, message: str) -> None:
        self.ended_early = message
        warnings.warn(message, stacklevel=3)

    def __len__(self) -> int:
        return len(self.skipped) + (self.ended_early is not None)

    def report(self) -> str:
        """One line per problem; empty when there were none."""
        lines = [f"{name}: skipped: {reason}" for name, reason in self.skipped]
        if self.ended_early:
            lines.append(self.ended_early)
        return "\n".join(lines)


class FrameSource:
    """A stream of ``Frame``s with ``name``, ``fps``, ``size`` (W, H), ``frame_count``
    (None when unknown) and ``problems``. Use ``open_frames`` to make one; video files and
    folders can be iterated again (``problems`` then starts over), a camera once."""

    name: str
    fps: float
    size: tuple[int, int]
    frame_count: int | None

    def __init__(self) -> None:
        self.problems = FrameProblems()

    def __iter__(self) -> Iterator[Frame]:
        self.problems = FrameProblems()
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file (a camera); iterating ends."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class VideoFileSource(FrameSource):
    """The frames of a video file or a stream URL (``rtsp://``, ``http://``), decoded by
    OpenCV (FFmpeg). Time stamps are ``index / fps`` (a constant frame rate, as OpenCV
    reports it)."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = path  # a Path, or the URL as given
        self.name = path.name if isinstance(path, Path) else str(path)
        capture = self._open()
        try:
            fps = float(capture.get(cv2.CAP_PROP_FPS))
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            self.size = (
                int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            )
        finally:
            capture.release()
        self.fps = fps if fps > 0 else DEFAULT_FPS
        self.frame_count = count if count > 0 else None

    def _open(self) -> Any:
        capture = capture_factory(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise ValueError(
                f"{self.path}: cannot open as a video (not a video, a codec OpenCV lacks, "
                "or a file cut short: an mp4 written to the end stores its index last)"
            )
        return capture

    def _frames(self) -> Iterator[Frame]:
        capture = self._open()
        index = 0
        try:
            while True:
                try:
                    ok, image = capture.read()
                except cv2.error as error:  # a decoder failure the backend raises
                    ok, image = False, None
                    self.problems.skip(f"{self.name}#{index}", str(error).strip())
                if not ok or image is None:
                    break
                yield Frame(index, _to_rgb(image), index / self.fps, f"{self.name}#{index}")
                index += 1
        finally:
            capture.release()
        if self.frame_count is not None and index < self.frame_count:
            self.problems.end_early(
                f"{self.path}: ended early after {index} of {self.frame_count} frames "
                "(a cut or damaged file)"
            )


def _natural_key(path: Path) -> list[Any]:
    # frame_2 before frame_10: digit runs compare as numbers
    return [int(bit) if bit.isdigit() else bit.lower() for bit in re.split(r"(\d+)", path.name)]


def _read_image(path: Path) -> tuple[np.ndarray | None, str]:
    """(image (H, W, 3) RGB, "") or (None, why)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as error:
        return None, error.strerror or str(error)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        return None, "not a decodable image (corrupt or cut short)"
    return _to_rgb(image), ""


class FolderSource(FrameSource):
    """The images of a folder (``IMAGE_SUFFIXES``), sorted naturally, at ``fps``. The size
    is the first readable image's; an image of another size is skipped."""

    def __init__(self, path: Path, fps: float | None) -> None:
        super().__init__()
        self.path = path
        self.name = path.name
        self.files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
            key=_natural_key,
        )
        if not self.files:
            raise ValueError(
                f"{path}: no images in the folder (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        self.fps = fps or DEFAULT_FPS
        self.frame_count = len(self.files)
        for file in self.files:
            image, _ = _read_image(file)
            if image is not None:
                self.size = (image.shape[1], image.shape[0])
                break
        else:
            raise ValueError(f"{path}: none of its {len(self.files)} images can be decoded")

    def _frames(self) -> Iterator[Frame]:
        for index, file in enumerate(self.files):
            image, why = _read_image(file)
            if image is None:
                self.problems.skip(file.name, why)
                continue
            if (image.shape[1], image.shape[0]) != self.size:
                w, h = self.size
                self.problems.skip(
                    file.name, f"{image.shape[1]}x{image.shape[0]}, not the first image's {w}x{h}"
                )
                continue
            yield Frame(index, image, index / self.fps, file.name)


class CameraSource(FrameSource):
    """Frames of a camera as they come; ``time_s`` is measured (the clock when the frame
    was read), so that smoothing sees the real spacing of frames. ``fps`` is the rate the
    driver reports, else ``DEFAULT_FPS``; ``measured_fps`` is the rate seen so far."""

    def __init__(self, index: int, fps: float | None) -> None:
        super().__init__()
        self.index = index
        self.name = f"camera{index}"
        self.capture = capture_factory(index)
        if not self.capture.isOpened():
            self.capture.release()
            raise ValueError(f"camera {index}: cannot open (no such device, or it is busy)")
        reported = float(self.capture.get(cv2.CAP_PROP_FPS))
        self.fps = fps or (reported if reported > 0 else DEFAULT_FPS)
        self.size = (
            int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self.frame_count = None
        self._closed = False
        self._clock: tuple[float, float, int] | None = None  # first, last time read; frames

    @property
    def measured_fps(self) -> float | None:
        """Frames per second between the first and the last frame read (None before two)."""
        if self._clock is None or self._clock[1] <= self._clock[0]:
            return None
        first, last, count = self._clock
        return (count - 1) / (last - first)

    def _frames(self) -> Iterator[Frame]:
        index, misses, start = 0, 0, None
        while not self._closed:
            ok, image = self.capture.read()
            now = time.monotonic()
            if not ok or image is None:
                misses += 1
                if misses >= CAMERA_MISSES:
                    self.problems.end_early(
                        f"camera {self.index}: stopped sending frames after {index} frames"
                    )
                    break
                continue
            misses = 0
            start = now if start is None else start
            self._clock = (start, now, index + 1)
            yield Frame(index, _to_rgb(image), now - start, f"{self.name}#{index}")
            index += 1

    def close(self) -> None:
        self._closed = True
        self.capture.release()


def open_frames(source: str | os.PathLike[str] | int, fps: float | None = None) -> FrameSource:
    """The frames of ``source``: a camera index (int, or a string of digits), a folder of
    images, a video file or a stream URL (``scheme://...``, opened by OpenCV as it is).
    ``fps`` sets the rate of a folder or a camera (a video has its own)."""
    if fps is not None and not fps > 0:
        raise ValueError(f"{source}: fps {fps} must be > 0")
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return CameraSource(int(source), fps)
    if isinstance(source, str) and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", source):
        return VideoFileSource(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video file, image folder or camera")
    if path.is_dir():
        return FolderSource(path, fps)
    return VideoFileSource(path)


class VideoWriter:
    """An mp4 file written frame by frame: ``write(image)`` takes (H, W, 3) uint8 RGB of
    ``size`` (W, H). A context manager; the file is complete once closed."""

    def __init__(self, path: str | os.PathLike[str], fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))
        self.frames = 0
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path}: the folder {self.path.parent} does not exist")
        if fps <= 0 or min(self.size) <= 0:
            raise ValueError(f"{self.path}: fps {fps} and size {size} must be positive")
        self._writer = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter_fourcc(*MP4_FOURCC), float(fps), self.size
        )
        if not self._writer.isOpened():
            raise RuntimeError(
                f"{self.path}: OpenCV cannot open a {MP4_FOURCC!r} video writer "
                f"(this OpenCV build has no such encoder, or the file cannot be written)"
            )

    def write(self, image: np.ndarray) -> None:
        # OpenCV drops a frame of the wrong size or type without a word.
        if image.dtype != np.uint8 or image.shape != (self.size[1], self.size[0], 3):
            raise ValueError(
                f"{self.path}: frame {self.frames} is {image.dtype} {image.shape}, the video "
                f"is uint8 ({self.size[1]}, {self.size[0]}, 3)"
            )
        self._writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def display_problem() -> str | None:
    """Why frames cannot be shown in a window here, or None when they can."""
    info = cv2.getBuildInformation()
    gui = re.search(r"^\s*GUI:\s*(\S+)", info, re.MULTILINE)
    if gui is not None and gui.group(1).upper() == "NONE":
        return (
            "this OpenCV has no GUI (opencv-python-headless); install opencv-python "
            "instead to see a window"
        )
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    return None


def show_frames(
    frames: Iterable[np.ndarray],
    window: str = "lite-hrnet",
    fallback_folder: str | os.PathLike[str] | None = None,
) -> int:
    """Show images (H, W, 3) uint8 RGB in a window until they end or q / Esc is pressed.
    Without a display (``display_problem``), writes them to ``fallback_folder`` as
    ``frame_000000.png``, ... with a warning saying why, or raises when none is given.
    Returns the number of frames shown or written."""
    problem = display_problem()
    if problem is not None and fallback_folder is None:
        raise RuntimeError(f"cannot show frames: {problem}; give a folder to write them to")
    if problem is not None:
        folder = Path(fallback_folder)  # type: ignore[arg-type]
        folder.mkdir(parents=True, exist_ok=True)
        warnings.warn(f"cannot show frames ({problem}); writing them to {folder}", stacklevel=2)
        count = 0
        for count, image in enumerate(frames, start=1):
            path = folder / f"frame_{count - 1:06d}.png"
            if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise OSError(f"{path}: could not write the frame")
        return count
    count = 0
    try:
        for image in frames:
            cv2.imshow(window, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            count += 1
            if (cv2.waitKey(1) & 0xFF) in (ord("q"), 27):  # q or Esc
                break
    finally:
        cv2.destroyWindow(window)
    return count


def with_progress(
    frames: Iterable[Frame], total: int | None = None, enabled: bool = True, desc: str = "frames"
) -> Iterator[Frame]:
    """``frames`` passed through a tqdm bar on stderr (frames done, of ``total`` when
    known, and frames per second)."""
    if not enabled:
        yield from frames
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True) as bar:
        for frame in frames:
            yield frame
            bar.update(1)
