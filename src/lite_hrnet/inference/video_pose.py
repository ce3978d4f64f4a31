"""Pose over a stream of frames (a video file, a folder of frames, a camera): each frame's
people from a ``PoseEstimator``, with track ids (``tracking.Tracker``), keypoints smoothed
per track (``smoothing.KeypointSmoother``) and the person detector run only every N
frames, the boxes in between taken from the previous frame's keypoints
(``tracking.boxes_from_keypoints``), as rtmlib's ``PoseTracker`` does.

>>> for frame, people in est.video("clip.mp4"):  # doctest: +SKIP
...     print(frame.index, frame.time_s, [p.track_id for p in people])
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .frames import Frame, FrameProblems, FrameSource, open_frames
from .smoothing import KeypointSmoother
from .tracking import KEYPOINT_THRESHOLD, Tracker, boxes_from_keypoints

if TYPE_CHECKING:
    from .estimator import Person, PoseEstimator


class FrameResult(NamedTuple):
    """One frame and its people; unpacks as ``frame, people``.

    Attributes:
        frame: the ``frames.Frame``: ``image`` (H, W, 3) uint8 RGB, ``index`` in the
            source, ``time_s``, ``name``.
        people: the ``Person``s found in it (``track_id`` set when tracking).
    """

    frame: Frame
    people: list[Person]


class VideoPose:
    """The people of every frame of ``source``, one ``FrameResult`` per frame read, in
    order. Iterate it once; a camera stops on ``close()`` (or the end of the loop).

    Args:
        estimator: the ``PoseEstimator`` (its ``detector``, if any, finds the people).
        source: a video file or stream URL, a folder of frames (natural order), a camera
            index, or an opened ``frames.FrameSource``.
        track: give each person a ``track_id`` that stays theirs while in view.
        smooth: smooth each track's keypoints over time (One-Euro filter); needs ``track``.
        detect_every: run the detector on every N-th frame (0, N, 2N, ...); the frames in
            between are cropped at the boxes of the previous frame's keypoints, and the
            detector also runs on a frame whose previous frame left no person. Without a
            detector every frame uses ``boxes``, else the whole frame.
        boxes: (N, 4 or 5) [x, y, w, h(, score)] used for every frame when there is no
            detector.
        fps: the frame rate of a folder or a camera (a video file has its own).
        tracker, smoother: replace the default ``Tracker`` (the keypoint set's OKS sigmas)
            or ``KeypointSmoother``.

    Attributes:
        frames: the ``FrameSource`` (``name``, ``fps``, ``size`` (W, H), ``frame_count``).
        detector_frames: the stream positions (0, 1, ...) the detector ran on.
    """

    def __init__(
        self,
        estimator: PoseEstimator,
        source: str | os.PathLike[str] | int | FrameSource,
        *,
        track: bool = True,
        smooth: bool = False,
        detect_every: int = 1,
        boxes: Any = None,
        fps: float | None = None,
        tracker: Tracker | None = None,
        smoother: KeypointSmoother | None = None,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every: must be >= 1, got {detect_every}")
        if smooth and not track:
            raise ValueError("smooth=True needs track=True: keypoints are smoothed per track")
        self.estimator = estimator
        self.detect_every = detect_every
        self.boxes = None if boxes is None else np.asarray(boxes, np.float32)
        if self.boxes is not None and estimator.detector is not None:
            raise ValueError("boxes=: the estimator has a detector; give one or the other")
        sigmas = estimator.keypoint_set.oks_sigmas()
        self.tracker = (tracker or Tracker(sigmas=sigmas)) if track else None
        self.smoother = (smoother or KeypointSmoother()) if smooth else None
        self.frames = source if isinstance(source, FrameSource) else open_frames(source, fps)
        self.detector_frames: list[int] = []
        self._started = False

    @property
    def problems(self) -> FrameProblems:
        """Frames skipped and an early end of the source (see ``frames.FrameProblems``);
        complete once the iteration has ended."""
        return self.frames.problems

    def __iter__(self) -> Iterator[FrameResult]:
        if self._started:
            raise RuntimeError(f"{self.frames.name}: a VideoPose is iterated once")
        self._started = True
        return self._results()

    def _results(self) -> Iterator[FrameResult]:
        carried: np.ndarray | None = None  # boxes (N, 4 or 5) from the last frame's people
        try:
            for position, frame in enumerate(self.frames):
                boxes = self._boxes_for(frame.image, position, carried)
                people = self.estimator.predict_image(frame.image, boxes)
                if self.estimator.detector is not None:
                    carried = self._carry(people, boxes, frame.image.shape)
                people = self._tracked(people, frame.time_s)
                yield FrameResult(frame, people)
        finally:
            self.frames.close()

    def _boxes_for(
        self, image: np.ndarray, position: int, carried: np.ndarray | None
    ) -> np.ndarray | None:
        """The boxes (N, 4 or 5) to crop frame ``position`` at: the detector's on its
        frames, else ``carried``; without a detector ``boxes`` (None: the whole frame)."""
        detector = self.estimator.detector
        if detector is None:
            return self.boxes
        if position % self.detect_every == 0 or carried is None or not len(carried):
            self.detector_frames.append(position)
            return detector(image)
        return carried

    def _carry(self, people: list[Person], boxes: Any, shape: tuple[int, ...]) -> np.ndarray:
        """Boxes (N, 5) [x, y, w, h, score] around each person's keypoints, each with the
        detector score of the box the person was cropped from (so that people's scores
        stay comparable between frames); people with no keypoint above the tracker's
        threshold are dropped."""
        if not people:
            return np.zeros((0, 5), np.float32)
        given = np.asarray(boxes, np.float32).reshape(len(people), -1)
        box_scores = given[:, 4] if given.shape[1] > 4 else np.ones(len(people), np.float32)
        keypoints = np.stack([p.keypoints for p in people])
        around = boxes_from_keypoints(keypoints, (shape[1], shape[0]), KEYPOINT_THRESHOLD)
        carried = np.concatenate([around, box_scores[:, None]], axis=1)
        return carried[(around[:, 2] > 0) & (around[:, 3] > 0)].astype(np.float32)

    def _tracked(self, people: list[Person], time_s: float) -> list[Person]:
        if self.tracker is None:
            return people
        k = self.estimator.keypoint_set.num_joints
        keypoints = np.stack([p.keypoints for p in people]) if people else np.zeros((0, k, 3))
        boxes = np.stack([p.box for p in people]) if people else np.zeros((0, 4))
        ids = self.tracker.update(boxes, keypoints)
        if self.smoother is not None:
            keypoints = self.smoother.update(keypoints, ids, time_s).astype(np.float32)
        else:
            keypoints = [p.keypoints for p in people]
        return [
            dataclasses.replace(p, keypoints=points, track_id=int(i))
            for p, points, i in zip(people, keypoints, ids)
        ]

    def close(self) -> None:
        """Stop reading (release a camera)."""
        self.frames.close()

    def __enter__(self) -> VideoPose:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
