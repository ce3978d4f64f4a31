"""A ``VideoPose`` run to files: ``<stem>_pose.mp4`` (skeletons drawn, each track in its own
colour) and ``<stem>.json`` (per frame: index, time, and each person's track id, box,
score and keypoints), or, for a camera, a window with the skeletons and the frame rate
(frames written to a folder where there is no display) and the same JSON.

The JSON is streamed: one line per frame to ``<stem>.jsonl``, flushed after each, joined
into ``<stem>.json`` when the run ends (the lines file then removed). A run that crashes
keeps the lines of the frames done; a source that ends early or has corrupt frames, or a
run stopped by q / Ctrl-C, still ends normally, with its frames written and the problems
counted in the summary and in the JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import cv2
import numpy as np

from ..formats.json_files import PREDICTION_DECIMALS, json_numbers
from ..meta.keypoints import KeypointSet
from .drawing import draw_skeletons
from .frames import FrameProblems, VideoWriter, show_frames, with_progress
from .video_pose import FrameResult, VideoPose


def frame_record(result: FrameResult) -> dict[str, Any]:
    """One frame as JSON: ``index``, ``time_s``, ``name`` and ``people`` (``track_id``,
    ``box`` [x, y, w, h], ``score``, ``keypoints`` K x [x, y, score])."""
    frame, people = result
    return {
        "index": frame.index,
        "time_s": round(frame.time_s, 4),
        "name": frame.name,
        "people": [
            {
                "track_id": p.track_id,
                "box": json_numbers(p.box, PREDICTION_DECIMALS),
                "score": json_numbers(p.score, 4),
                "keypoints": json_numbers(p.keypoints, PREDICTION_DECIMALS),
            }
            for p in people
        ],
    }


class FramesJson:
    """``with FramesJson(path, header) as out: out.add(record)`` for every frame; on a
    normal exit ``path`` holds ``{**header, "frames": [...], "problems": ...}``."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.lines_path = path.with_suffix(".jsonl")
        self.header = header
        self.frames: list[dict[str, Any]] = []
        self.problems: FrameProblems | None = None
        self._lines: IO[str] | None = None

    def __enter__(self) -> FramesJson:
        self._lines = open(self.lines_path, "w", encoding="utf-8")  # closed in __exit__
        return self

    def add(self, record: dict[str, Any]) -> None:
        assert self._lines is not None
        self._lines.write(json.dumps(record, allow_nan=False) + "\n")
        self._lines.flush()
        self.frames.append(record)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._lines is not None
        self._lines.close()
        if error is not None:
            return  # the lines of the frames done stay
        problems = self.problems or FrameProblems()
        whole = {
            **self.header,
            "frames": self.frames,
            "problems": {
                "skipped": [list(item) for item in problems.skipped],
                "ended_early": problems.ended_early,
            },
        }
        temp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            temp.write_text(json.dumps(whole, allow_nan=False), encoding="utf-8")
            os.replace(temp, self.path)
        except OSError as failed:
            temp.unlink(missing_ok=True)
            raise OSError(
                failed.errno,
                f"{failed.strerror}; the {len(self.frames)} frames done are in "
                f"{self.lines_path} (one JSON line per frame)",
                str(self.path),
            ) from None
        self.lines_path.unlink(missing_ok=True)


@dataclass
class VideoSummary:
    """What a run did: ``frames`` written, distinct ``tracks``, the most ``people`` in
    one frame, the source's ``problems``, whether it was ``stopped`` (q, Ctrl-C), the
    processing rate ``fps`` and the files written (``outputs``)."""

    source: str
    frames: int = 0
    tracks: int = 0
    people: int = 0
    problems: FrameProblems = field(default_factory=FrameProblems)
    stopped: bool = False
    fps: float = 0.0
    outputs: list[Path] = field(default_factory=list)

    def line(self) -> str:
        """One line: frames, people, rate, outputs, and the problems counted."""
        text = (
            f"{self.source}: {self.frames} frames, up to {self.people} people"
            + (f", {self.tracks} tracks" if self.tracks else "")
            + f", {self.fps:.1f} frames/s -> {', '.join(str(p) for p in self.outputs)}"
        )
        if self.problems.skipped:
            text += f"; skipped {len(self.problems.skipped)} corrupt frames"
        if self.problems.ended_early:
            text += "; the source ended early (cut or damaged)"
        if self.stopped:
            text += "; stopped before the end"
        return text


def _header(video: VideoPose) -> dict[str, Any]:
    source = video.frames
    keypoint_set = video.estimator.keypoint_set
    return {
        "source": source.name,
        "fps": source.fps,
        "size": list(source.size),
        "keypoint_names": list(keypoint_set.joint_names),
    }


def _drawn(
    results: Iterator[FrameResult],
    keypoint_set: KeypointSet,
    threshold: float,
    out: FramesJson,
    summary: VideoSummary,
    overlay: Callable[[np.ndarray, int], np.ndarray] | None = None,
) -> Iterator[np.ndarray]:
    """Each result recorded in ``out`` and ``summary``, then yielded drawn."""
    tracks: set[int] = set()
    for result in results:
        out.add(frame_record(result))
        people = result.people
        summary.frames += 1
        summary.people = max(summary.people, len(people))
        tracks.update(p.track_id for p in people if p.track_id is not None)
        summary.tracks = len(tracks)
        k = keypoint_set.num_joints
        keypoints = np.stack([p.keypoints for p in people]) if people else np.zeros((0, k, 3))
        colours = [p.track_id if p.track_id is not None else i for i, p in enumerate(people)]
        image = draw_skeletons(result.frame.image, keypoints, keypoint_set, threshold, colours)
        yield image if overlay is None else overlay(image, summary.frames)


def save_pose_video(
    video: VideoPose,
    folder: Path,
    stem: str,
    threshold: float = 0.3,
    progress: bool = True,
) -> VideoSummary:
    """Run ``video`` to ``folder/<stem>_pose.mp4`` and ``folder/<stem>.json`` (see the
    module), with a progress bar (frames, frames per second) when ``progress``. Ctrl-C
    stops the run with what was done written."""
    source = video.frames
    mp4, json_path = folder / f"{stem}_pose.mp4", folder / f"{stem}.json"
    summary = VideoSummary(source.name, outputs=[mp4, json_path])
    start = time.perf_counter()
    with (
        FramesJson(json_path, _header(video)) as out,
        VideoWriter(mp4, source.fps, source.size) as writer,
    ):
        results = with_progress(iter(video), source.frame_count, progress, desc=source.name)
        drawn = _drawn(results, video.estimator.keypoint_set, threshold, out, summary)
        try:
            for image in drawn:
                writer.write(image)
        except KeyboardInterrupt:
            summary.stopped = True
        finally:
            video.close()
        out.problems = summary.problems = video.problems
    summary.fps = summary.frames / max(time.perf_counter() - start, 1e-9)
    return summary


def show_pose_video(
    video: VideoPose,
    folder: Path,
    stem: str,
    threshold: float = 0.3,
) -> VideoSummary:
    """Show ``video`` (a camera, typically) in a window with the skeletons and the frame
    rate until q / Esc / Ctrl-C, writing ``folder/<stem>.json``; without a display
    (``frames.display_problem``) the drawn frames go to ``folder/<stem>_frames/``."""
    json_path = folder / f"{stem}.json"
    summary = VideoSummary(video.frames.name, outputs=[json_path])
    start = time.perf_counter()

    def with_rate(image: np.ndarray, count: int) -> np.ndarray:
        rate = count / max(time.perf_counter() - start, 1e-9)
        scale = max(image.shape[0] / 480, 0.5)
        origin = (int(10 * scale), int(30 * scale))
        cv2.putText(image, f"{rate:.1f} fps", origin, cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), max(1, round(2 * scale)), cv2.LINE_AA)  # fmt: skip
        return image

    with FramesJson(json_path, _header(video)) as out:
        keypoint_set = video.estimator.keypoint_set
        drawn = _drawn(iter(video), keypoint_set, threshold, out, summary, with_rate)
        try:
            show_frames(drawn, f"lite-hrnet {stem}", folder / f"{stem}_frames")
        except KeyboardInterrupt:
            summary.stopped = True
        finally:
            drawn.close()
            video.close()
        out.problems = summary.problems = video.problems
    summary.fps = summary.frames / max(time.perf_counter() - start, 1e-9)
    return summary
