"""Track ids for the people of a video: each frame's people are matched to the tracks of the
frames before (one-to-one, Hungarian), so that a person keeps one id while in view and for
``max_age`` frames out of it.

Similarity of a track and a person: OKS (object keypoint similarity, as COCO's) of their
keypoints when both have at least ``MIN_SHARED_JOINTS`` joints above the score threshold,
else the IoU of their boxes. The tracks and people that this leaves unmatched are then
matched by the IoU of their boxes alone: OKS falls fast with distance, so a person who
moved far between two frames (fast, or the first step, before a velocity is known) is
still found. Every track is first moved by its recent velocity, so that two people who
cross, or one hidden for a moment, are looked for where they should be by now. Boxes are
[x, y, w, h] in image pixels; keypoints (N, K, 3) [x, y, score].

Also ``boxes_from_keypoints``: the boxes of the people found in one frame, to crop the next
frames with instead of running a person detector on every frame (as rtmlib's PoseTracker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..meta.keypoints import DEFAULT_OKS_SIGMA

# A match needs at least this similarity (IoU or OKS); the value of rtmlib's PoseTracker and
# mmpose's tracking demo.
MATCH_THRESHOLD = 0.3
# Frames a track is kept without a match: one second at 30 frames per second.
MAX_AGE = 30
# A joint counts as seen above this score (mmpose's and rtmlib's keypoint threshold).
KEYPOINT_THRESHOLD = 0.3
# OKS needs a few joints seen in both poses to mean anything; fewer: IoU.
MIN_SHARED_JOINTS = 3
# A box around the visible joints grown by this factor (rtmlib's PoseTracker, mmpose's
# bbox_padding): the joints are the centres of limbs, not the person's outline.
BOX_PADDING = 1.25
# Weight of the newest displacement in a track's velocity (an exponential average).
_VELOCITY_WEIGHT = 0.5


def _valid(boxes: np.ndarray) -> np.ndarray:
    """Boxes (N, 4) float64 with negative widths and heights (noisy input) made 0."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 0)
    return boxes


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), [x, y, w, h] -> (N, M)."""
    a, b = _valid(a), _valid(b)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y2 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def keypoint_similarity(
    a: np.ndarray,
    b: np.ndarray,
    areas_a: np.ndarray,
    areas_b: np.ndarray,
    sigmas: np.ndarray,
    threshold: float = KEYPOINT_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """OKS of every pose of ``a`` (N, K, 3) with every pose of ``b`` (M, K, 3) over the joints
    seen (score > ``threshold``) in both, with the mean of the two box areas as the scale
    (as COCO's ``oks_iou``). Returns OKS (N, M) and the number of shared joints (N, M)."""
    seen = (a[:, None, :, 2] > threshold) & (b[None, :, :, 2] > threshold)
    d2 = ((a[:, None, :, :2] - b[None, :, :, :2]) ** 2).sum(-1)
    # at least 1 px^2: a box of no area must not make every distance infinitely far
    area = np.maximum((np.asarray(areas_a)[:, None] + np.asarray(areas_b)[None, :]) / 2, 1.0)
    e = d2 / ((2 * np.asarray(sigmas)) ** 2)[None, None] / area[..., None] / 2
    shared = seen.sum(-1)
    oks = (np.exp(-e) * seen).sum(-1) / np.maximum(shared, 1)
    return oks, shared


@dataclass
class _Track:
    track_id: int
    box: np.ndarray  # (4,) [x, y, w, h] where it was last seen
    keypoints: np.ndarray | None  # (K, 3)
    velocity: np.ndarray  # (2,) pixels per frame
    missed: int = 0  # frames since it was last matched

    def predicted(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Box and keypoints moved on by the velocity for the frames it has missed + 1."""
        shift = self.velocity * (self.missed + 1)
        box = self.box.copy()
        box[:2] += shift
        if self.keypoints is None:
            return box, None
        keypoints = self.keypoints.copy()
        keypoints[:, :2] += shift
        return box, keypoints


class Tracker:
    """Stable ids for the people of consecutive frames: ``update(boxes, keypoints)`` once a
    frame returns each person's id (ints from 1, never two equal ids in one frame).

    ``sigmas`` (K,): the OKS sigmas of the keypoint set (``KeypointSet.oks_sigmas()``);
    None: ``DEFAULT_OKS_SIGMA`` for each joint. ``max_age``: frames a track is kept without
    a match; a person who comes back in that time gets their old id.
    """

    def __init__(
        self,
        max_age: int = MAX_AGE,
        match_threshold: float = MATCH_THRESHOLD,
        sigmas: Sequence[float] | np.ndarray | None = None,
        keypoint_threshold: float = KEYPOINT_THRESHOLD,
    ) -> None:
        if max_age < 0 or not 0 <= match_threshold <= 1:
            raise ValueError(
                f"max_age {max_age} must be >= 0 and match_threshold {match_threshold} in [0, 1]"
            )
        self.max_age = max_age
        self.match_threshold = match_threshold
        self.sigmas = None if sigmas is None else np.asarray(sigmas, np.float64)
        self.keypoint_threshold = keypoint_threshold
        self.tracks: list[_Track] = []
        self.next_id = 1

    def reset(self) -> None:
        """Forget every track (a new video); ids start again from 1."""
        self.tracks, self.next_id = [], 1

    def similarity(self, boxes: np.ndarray, keypoints: np.ndarray | None) -> np.ndarray:
        """Similarity (T, N) of the tracks (at their predicted places) with the people: OKS
        where a track and a person share ``MIN_SHARED_JOINTS`` seen joints, else IoU."""
        if not self.tracks or not len(boxes):
            return np.zeros((len(self.tracks), len(boxes)))
        predicted = [t.predicted() for t in self.tracks]
        track_boxes = np.stack([box for box, _ in predicted])
        scores = box_iou(track_boxes, boxes)
        with_pose = [i for i, (_, kp) in enumerate(predicted) if kp is not None]
        if keypoints is None or not with_pose:
            return scores
        sigmas = self.sigmas
        if sigmas is None:
            sigmas = np.full(keypoints.shape[1], DEFAULT_OKS_SIGMA)
        track_poses = np.stack([predicted[i][1] for i in with_pose])
        oks, shared = keypoint_similarity(
            track_poses,
            keypoints,
            track_boxes[with_pose, 2] * track_boxes[with_pose, 3],
            boxes[:, 2] * boxes[:, 3],
            sigmas,
            self.keypoint_threshold,
        )
        scores[with_pose] = np.where(shared >= MIN_SHARED_JOINTS, oks, scores[with_pose])
        return scores

    def update(self, boxes: np.ndarray, keypoints: np.ndarray | None = None) -> np.ndarray:
        """The ids (N,) int64 of this frame's people, boxes (N, 4) [x, y, w, h] and keypoints
        (N, K, 3) [x, y, score] or None (boxes only)."""
        boxes = _valid(boxes)
        if keypoints is not None:
            keypoints = np.asarray(keypoints, np.float64)
            if keypoints.ndim != 3 or keypoints.shape[0] != len(boxes) or keypoints.shape[2] < 3:
                raise ValueError(
                    f"keypoints {keypoints.shape} must be (N, K, 3) for {len(boxes)} boxes"
                )
            if self.sigmas is not None and len(self.sigmas) != keypoints.shape[1]:
                raise ValueError(
                    f"{len(self.sigmas)} OKS sigmas for keypoints of {keypoints.shape[1]} joints"
                )
        pairs = _match(self.similarity(boxes, keypoints), self.match_threshold)
        if keypoints is not None:  # a second pass over what is left, by the boxes alone
            left_tracks = sorted(set(range(len(self.tracks))) - {r for r, _ in pairs})
            left_people = sorted(set(range(len(boxes))) - {c for _, c in pairs})
            if left_tracks and left_people:
                predicted = np.stack([self.tracks[r].predicted()[0] for r in left_tracks])
                iou = box_iou(predicted, boxes[left_people])
                pairs += [
                    (left_tracks[i], left_people[j]) for i, j in _match(iou, self.match_threshold)
                ]
        ids = np.zeros(len(boxes), np.int64)
        for r, c in pairs:
            track = self.tracks[r]
            old_center = track.box[:2] + track.box[2:] / 2
            new_center = boxes[c, :2] + boxes[c, 2:] / 2
            step = (new_center - old_center) / (track.missed + 1)
            track.velocity = _VELOCITY_WEIGHT * step + (1 - _VELOCITY_WEIGHT) * track.velocity
            track.box = boxes[c].copy()
            track.keypoints = None if keypoints is None else keypoints[c].copy()
            track.missed = 0
            ids[c] = track.track_id
        matched = {r for r, _ in pairs}
        kept = []
        for r, track in enumerate(self.tracks):
            if r not in matched:
                track.missed += 1
            if track.missed <= self.max_age:
                kept.append(track)
        self.tracks = kept
        for c in np.flatnonzero(ids == 0):
            pose = None if keypoints is None else keypoints[c].copy()
            self.tracks.append(_Track(self.next_id, boxes[c].copy(), pose, np.zeros(2)))
            ids[c] = self.next_id
            self.next_id += 1
        return ids


def _match(scores: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """The one-to-one pairs (row, column) of ``scores`` (R, C) with the highest total
    (Hungarian algorithm), less those below ``threshold``."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(scores, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if scores[r, c] >= threshold]


def boxes_from_keypoints(
    keypoints: np.ndarray,
    image_size: tuple[int, int],
    score_threshold: float = KEYPOINT_THRESHOLD,
    padding: float = BOX_PADDING,
) -> np.ndarray:
    """Boxes (N, 4) [x, y, w, h] around each pose's joints above ``score_threshold`` of
    ``keypoints`` (N, K, 3), grown by ``padding`` about their centre and clipped to the
    image (``image_size`` (W, H)). A pose with no such joint gets a box of no area
    (w = h = 0): leave it out (``boxes[:, 2] * boxes[:, 3] > 0``)."""
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, *np.shape(keypoints)[-2:])
    w, h = image_size
    boxes = np.zeros((len(keypoints), 4))
    for i, pose in enumerate(keypoints):
        seen = pose[pose[:, 2] > score_threshold, :2]
        if not len(seen):
            continue
        low, high = seen.min(0), seen.max(0)
        center, half = (low + high) / 2, (high - low) / 2 * padding
        x1, y1 = np.maximum(center - half, 0)
        x2, y2 = np.minimum(center + half, [w, h])
        boxes[i] = [x1, y1, max(x2 - x1, 0), max(y2 - y1, 0)]
    return boxes
