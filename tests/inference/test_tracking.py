"""Track ids on the true boxes and keypoints of generated motion (plus noise): people who
move slowly or cross keep their ids, one who is missed for a while gets it back within
``max_age``, no id appears twice in a frame; and boxes from keypoints."""

from __future__ import annotations

import numpy as np
import pytest

from lite_hrnet.inference.tracking import (
    BOX_PADDING,
    Tracker,
    box_iou,
    boxes_from_keypoints,
    keypoint_similarity,
)
from lite_hrnet.meta.keypoints import COCO
from tests.inference.moving_people import MovingScene, crossing_scene, moving_scene


def _noisy(scene: MovingScene, seed: int, pixels: float) -> tuple[np.ndarray, np.ndarray]:
    """The scene's boxes and keypoints with Gaussian noise of ``pixels`` and random
    keypoint scores, as a detector and a pose model would give them."""
    rng = np.random.default_rng(seed)
    keypoints = scene.keypoints.copy()
    keypoints[..., :2] += rng.normal(0, pixels, keypoints[..., :2].shape)
    keypoints[..., 2] = rng.uniform(0.4, 1.0, keypoints.shape[:-1])
    boxes = scene.boxes + rng.normal(0, pixels, scene.boxes.shape)
    return boxes, keypoints


def _run(
    tracker: Tracker,
    boxes: np.ndarray,
    keypoints: np.ndarray | None,
    order_seed: int = 0,
) -> np.ndarray:
    """Ids (T, P) of each true person in each frame, people handed over in a new random
    order every frame (a detector keeps no order)."""
    rng = np.random.default_rng(order_seed)
    out = np.zeros(boxes.shape[:2], np.int64)
    for t in range(len(boxes)):
        order = rng.permutation(boxes.shape[1])
        ids = tracker.update(boxes[t, order], None if keypoints is None else keypoints[t, order])
        assert len(set(ids.tolist())) == len(ids)
        out[t, order] = ids
    return out


@pytest.mark.parametrize("use_keypoints", [True, False], ids=["oks", "iou"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_people_who_cross_keep_their_ids(use_keypoints: bool, seed: int) -> None:
    scene = crossing_scene(num_frames=12)
    boxes, keypoints = _noisy(scene, seed, pixels=1.0)
    ids = _run(Tracker(sigmas=COCO.oks_sigmas()), boxes, keypoints if use_keypoints else None, seed)
    assert (ids == ids[0]).all(), ids  # every person keeps the id of the first frame
    assert sorted(ids[0].tolist()) == [1, 2, 3]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_people_who_move_fast_keep_their_ids(seed: int) -> None:
    """10 px a frame, 18 % of their height: too far for OKS in the first steps, before the
    velocity is known; the second pass by IoU keeps them."""
    scene = moving_scene(
        starts=[(30.0, 60.0), (260.0, 62.0), (240.0, 58.0)],
        steps=[(10.0, 0.0), (-10.0, 0.0), (0.0, 0.5)],
        num_frames=24,
        size=(290, 96),
    )
    boxes, keypoints = _noisy(scene, seed, pixels=1.0)
    ids = _run(Tracker(sigmas=COCO.oks_sigmas()), boxes, keypoints, seed)
    assert (ids == ids[0]).all(), ids


def test_without_its_velocity_a_box_tracker_swaps_the_people_who_cross() -> None:
    """The test above can fail: two boxes that meet look alike to IoU alone."""
    scene = crossing_scene(num_frames=12)
    crossing = scene.boxes[:, :2]
    tracker = Tracker()
    ids = np.stack([tracker.update(b) for b in crossing])
    tracker = Tracker()
    standing = []
    for b in crossing:
        for track in tracker.tracks:
            track.velocity[:] = 0  # a tracker without a motion model
        standing.append(tracker.update(b))
    assert (ids == ids[0]).all()
    assert not (np.stack(standing) == standing[0]).all()


def test_a_person_missed_for_a_while_gets_the_id_back_within_max_age() -> None:
    scene = moving_scene(
        starts=[(30.0, 60.0), (100.0, 60.0)], steps=[(1.0, 0.0), (-1.0, 0.5)], num_frames=20
    )
    boxes, keypoints = _noisy(scene, 0, pixels=0.5)
    gone = range(6, 12)  # person 1 is not detected in these frames (hidden, or missed)

    def track(max_age: int) -> list[dict[int, int]]:
        tracker = Tracker(max_age=max_age)
        seen = []
        for t in range(len(boxes)):
            people = [p for p in range(2) if not (p == 1 and t in gone)]
            ids = tracker.update(boxes[t, people], keypoints[t, people])
            seen.append(dict(zip(people, ids.tolist())))
        return seen

    kept = track(max_age=len(gone))
    assert all(frame[1] == kept[0][1] for frame in kept if 1 in frame)
    assert all(frame[0] == kept[0][0] for frame in kept)
    lost = track(max_age=len(gone) - 1)
    assert lost[-1][1] != lost[0][1] and lost[-1][1] == 3  # a new id after max_age


def test_ids_are_never_repeated_in_a_frame_and_new_people_get_new_ids() -> None:
    rng = np.random.default_rng(0)
    tracker = Tracker(max_age=2)
    every = []
    for _ in range(40):
        n = int(rng.integers(0, 6))
        boxes = np.concatenate([rng.uniform(0, 100, (n, 2)), rng.uniform(5, 40, (n, 2))], 1)
        ids = tracker.update(boxes)
        assert len(ids) == n and len(set(ids.tolist())) == n and (ids >= 1).all()
        every.append(ids)
    assert np.concatenate(every).max() == tracker.next_id - 1
    assert len(tracker.tracks) <= 5 * 3  # lost tracks go after max_age


def test_oks_is_used_where_joints_are_shared_and_iou_where_they_are_not() -> None:
    box = np.array([[0.0, 0.0, 40.0, 80.0]])
    pose = np.zeros((1, 17, 3))
    pose[0, :, :2] = np.random.default_rng(0).uniform([0, 0], [40, 80], (17, 2))
    pose[0, :, 2] = 1.0
    tracker = Tracker()
    tracker.update(box, pose)
    moved_box = box + np.array([4.0, 0, 0, 0])
    far_pose = pose.copy()
    far_pose[0, :, :2] += 30  # the joints say it is someone else; the box overlaps
    assert tracker.similarity(moved_box, far_pose)[0, 0] < 0.05
    unseen = far_pose.copy()
    unseen[0, :, 2] = 0.1  # no joint above the threshold: the boxes decide
    assert tracker.similarity(moved_box, unseen)[0, 0] == pytest.approx(box_iou(box, moved_box))


def test_keypoint_similarity_is_cocos_oks() -> None:
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(0, 50, (2, 17, 2)), np.ones((2, 17, 1))], -1)
    b = a[::-1].copy()
    b[..., :2] += rng.normal(0, 2, b[..., :2].shape)
    sigmas = COCO.oks_sigmas()
    oks, shared = keypoint_similarity(
        a, b, np.array([900.0, 1600]), np.array([1000.0, 700]), sigmas
    )
    # COCO's formula, written out for one pair: mean of exp(-d^2 / (2 s^2 k^2)), k = 2 sigma
    d2 = ((a[0, :, :2] - b[1, :, :2]) ** 2).sum(-1)
    expected = np.exp(-d2 / (2 * (900 + 700) / 2 * (2 * sigmas) ** 2)).mean()
    assert oks[0, 1] == pytest.approx(expected)
    assert (shared == 17).all()


def test_box_iou() -> None:
    a = np.array([[0.0, 0, 10, 10]])
    b = np.array([[5.0, 0, 10, 10], [20.0, 20, 5, 5], [0.0, 0, 0, 0]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0, 0]])


def test_boxes_from_keypoints_grow_the_box_of_the_seen_joints_and_clip_it() -> None:
    pose = np.array(
        [
            [[10.0, 20, 0.9], [30, 60, 0.8], [200, 200, 0.1]],  # the last joint is not seen
            [[90.0, 10, 0.9], [110, 30, 0.9], [100, 20, 0.9]],  # runs over the right edge
            [[5.0, 5, 0.0], [6, 6, 0.2], [7, 7, 0.1]],  # nothing seen
        ]
    )
    boxes = boxes_from_keypoints(pose, (100, 80), score_threshold=0.3)
    w, h = 20 * BOX_PADDING, 40 * BOX_PADDING
    np.testing.assert_allclose(boxes[0], [20 - w / 2, 40 - h / 2, w, h])
    np.testing.assert_allclose(boxes[1], [100 - 12.5, 20 - 12.5, 12.5, 25])
    np.testing.assert_array_equal(boxes[2], [0, 0, 0, 0])


def test_boxes_from_keypoints_of_the_clip_cover_each_person() -> None:
    scene = crossing_scene(num_frames=2)
    boxes = boxes_from_keypoints(scene.keypoints[0], (128, 96))
    for box, pose in zip(boxes, scene.keypoints[0]):
        inside = pose[:, :2].clip([0, 0], [128, 96])
        assert (inside >= box[:2] - 1e-9).all() and (inside <= box[:2] + box[2:] + 1e-9).all()


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="must be \\(N, K, 3\\) for 2 boxes"):
        Tracker().update(np.zeros((2, 4)), np.zeros((3, 17, 3)))
    with pytest.raises(ValueError, match="16 OKS sigmas for keypoints of 17 joints"):
        Tracker(sigmas=np.full(16, 0.07)).update(np.zeros((1, 4)), np.zeros((1, 17, 3)))
    with pytest.raises(ValueError, match="max_age"):
        Tracker(max_age=-1)


def test_boxes_of_no_or_negative_size_are_matched_without_nan() -> None:
    """A person clipped away at the border leaves a box of no area; noise can make it
    negative. OKS then has a scale of at least 1 px^2, IoU sees an empty box: no match, no
    NaN in the Hungarian matching."""
    pose = np.concatenate([np.full((1, 17, 2), 5.0), np.ones((1, 17, 1))], -1)
    tracker = Tracker()
    first = tracker.update(np.array([[0.0, 0, 0, 0]]), pose)
    moved = pose + np.array([3.0, 0, 0])
    scores = tracker.similarity(np.array([[0.0, 0, -2, 3]]), moved)
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()
    assert first.tolist() == [1]
    assert tracker.update(np.array([[0.0, 0, -2, 3]]), moved).tolist() == [2]  # no scale: new
