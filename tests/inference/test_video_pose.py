"""``PoseEstimator.video``: people per frame of a video file, a folder of frames or a camera,
with stable track ids, the detector run every N frames (boxes carried from keypoints in
between), smoothing only when asked, the source's problems at the end; and the run to
files (``video_files``): the drawn mp4 and the per-frame JSON."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lite_hrnet.codecs.heatmap_codec import HeatmapCodec
from lite_hrnet.inference import frames as frames_module
from lite_hrnet.inference.estimator import PoseEstimator
from lite_hrnet.inference.frames import VideoWriter, open_frames
from lite_hrnet.inference.video_files import save_pose_video, show_pose_video
from lite_hrnet.inference.video_pose import FrameResult
from lite_hrnet.meta.keypoints import COCO
from tests.inference.moving_people import MovingScene, moving_scene
from tests.inference.test_frames import FakeCamera, _faststart

FPS = 10.0


class PeakNetwork(torch.nn.Module):
    """Crops (B, 3, 64, 32) -> heatmaps (B, 17, 16, 8) peaked (at 1) where the crop is
    brightest (the padding outside the image is the darkest), each joint's map shifted by
    its own offset:
    confident keypoints spread over the crop that move with the people, at no cost (a
    random network's scores are too low to carry boxes from)."""

    def __init__(self) -> None:
        super().__init__()
        self.codec = HeatmapCodec.from_input_hw((64, 32)).replace(flip_test=False)
        self.keypoints = COCO
        self.offsets = [(dy, dx) for dy in (-6, -4, -2, 0, 2, 4) for dx in (-2, 0, 2)][:17]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        energy = F.avg_pool2d(images.sum(1, keepdim=True), 4)
        low = energy.amin((2, 3), keepdim=True)
        energy = (energy - low) / (energy.amax((2, 3), keepdim=True) - low).clamp_min(1e-6)
        return torch.cat([torch.roll(energy, o, (2, 3)) for o in self.offsets], 1)


@pytest.fixture(scope="module")
def network() -> PeakNetwork:
    return PeakNetwork().eval()


@pytest.fixture(scope="module")
def scene() -> MovingScene:
    """Two people walking apart, 9 frames of 128 x 96."""
    return moving_scene([(40.0, 60.0), (88.0, 60.0)], [(-2.0, 0.0), (2.0, 0.5)], num_frames=9)


class KnownBoxes:
    """A detector that returns the scene's true boxes of the frame it is given (found by
    the frame's content) with a score, and records which frames it was called on."""

    def __init__(self, scene: MovingScene) -> None:
        self.scene = scene
        self.calls: list[int] = []

    def __call__(self, image: np.ndarray) -> np.ndarray:
        errors = np.abs(self.scene.frames.astype(float) - image).mean(axis=(1, 2, 3))
        t = int(errors.argmin())
        self.calls.append(t)
        boxes = self.scene.boxes[t]
        return np.concatenate([boxes, np.full((len(boxes), 1), 0.9)], axis=1)


def _video(scene: MovingScene, path: Path) -> Path:
    with VideoWriter(path, FPS, (scene.frames.shape[2], scene.frames.shape[1])) as writer:
        for image in scene.frames:
            writer.write(image)
    return path


def _folder(scene: MovingScene, folder: Path) -> Path:
    folder.mkdir()
    for t, image in enumerate(scene.frames):
        cv2.imwrite(str(folder / f"frame_{t}.png"), image[..., ::-1])
    return folder


def test_a_folder_of_frames_gives_tracked_people_with_stable_ids(network, scene, tmp_path):
    detector = KnownBoxes(scene)
    est = PoseEstimator(network, detector=detector)
    results = list(est.video(_folder(scene, tmp_path / "frames"), fps=FPS))
    assert len(results) == len(scene.frames) and all(isinstance(r, FrameResult) for r in results)
    frame, people = results[4]  # unpacks as a pair
    assert frame.index == 4 and frame.time_s == pytest.approx(0.4) and len(people) == 2
    np.testing.assert_array_equal(frame.image, scene.frames[4])  # lossless PNGs
    # each person keeps one id, and the two ids differ
    ids = np.array([[p.track_id for p in r.people] for r in results])
    assert (ids == ids[0]).all() and len(set(ids[0])) == 2
    assert detector.calls == list(range(len(scene.frames)))
    # the people are what the estimator finds on that frame and box
    expected = est.predict_image(scene.frames[4], detector(scene.frames[4]))
    for got, want in zip(people, expected):
        np.testing.assert_allclose(got.keypoints, want.keypoints, atol=1e-4)
        assert got.score == pytest.approx(want.score)


def test_the_detector_runs_every_nth_frame_and_boxes_follow_the_keypoints(
    network, scene, tmp_path
) -> None:
    detector = KnownBoxes(scene)
    est = PoseEstimator(network, detector=detector)
    video = est.video(_folder(scene, tmp_path / "frames"), detect_every=3, fps=FPS)
    results = list(video)
    assert detector.calls == [0, 3, 6] and video.detector_frames == [0, 3, 6]
    # frame 1 is cropped at boxes around frame 0's keypoints, not at a detection
    from lite_hrnet.inference.tracking import boxes_from_keypoints

    first = np.stack([p.keypoints for p in results[0].people])
    around = boxes_from_keypoints(first, (128, 96))
    around = around[(around[:, 2] > 0) & (around[:, 3] > 0)]
    carried = np.stack([p.box for p in results[1].people])
    np.testing.assert_allclose(carried, around, atol=1e-3)
    with pytest.raises(ValueError, match="detect_every: must be >= 1"):
        est.video(tmp_path / "frames", detect_every=0)


def test_smoothing_changes_keypoints_only_when_asked(network, scene, tmp_path) -> None:
    video = _video(scene, tmp_path / "walk.mp4")
    boxes = scene.boxes[0]  # no detector: the same boxes on every frame
    est = PoseEstimator(network)
    raw = list(est.video(video, boxes=boxes))
    smooth = list(est.video(video, boxes=boxes, smooth=True))
    untracked = list(est.video(video, boxes=boxes, track=False))
    for r, s, u in zip(raw, smooth, untracked):
        want = est.predict_image(r.frame.image, boxes)
        np.testing.assert_array_equal(np.stack([p.keypoints for p in r.people]), [
            p.keypoints for p in want
        ])  # fmt: skip
        assert [p.track_id for p in u.people] == [None, None]
        np.testing.assert_array_equal(
            np.stack([p.keypoints for p in s.people])[..., 2], [p.keypoints[:, 2] for p in want]
        )  # scores as they were
    moved = [
        np.abs(np.stack([p.keypoints for p in s.people]) - [p.keypoints for p in r.people]).max()
        for r, s in zip(raw, smooth)
    ]
    assert moved[0] < 1e-4 and max(moved[1:]) > 0.5  # the first frame passes as it is
    with pytest.raises(ValueError, match="smooth=True needs track=True"):
        est.video(video, track=False, smooth=True)


def test_a_cut_video_gives_the_frames_before_the_cut_and_its_problems(
    network, scene, tmp_path
) -> None:
    whole = _faststart(_video(scene, tmp_path / "walk.mp4").read_bytes())
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 6 // 10])
    video = PoseEstimator(network).video(cut)
    with pytest.warns(UserWarning, match="ended early"):
        results = list(video)
    assert 1 <= len(results) < len(scene.frames)
    assert f"ended early after {len(results)} of 9 frames" in video.problems.report()


def test_a_run_to_files_writes_the_drawn_video_and_every_frame(network, scene, tmp_path) -> None:
    est = PoseEstimator(network, detector=KnownBoxes(scene))
    video = est.video(_video(scene, tmp_path / "walk.mp4"), detect_every=2)
    out = tmp_path / "out"
    out.mkdir()
    summary = save_pose_video(video, out, "walk", progress=False)
    assert summary.frames == 9 and summary.tracks == 2 and not summary.problems
    assert open_frames(out / "walk_pose.mp4").frame_count == 9
    written = json.loads((out / "walk.json").read_text())
    assert not (out / "walk.jsonl").exists()
    assert written["source"] == "walk.mp4" and written["size"] == [128, 96]
    assert len(written["keypoint_names"]) == 17
    assert [f["index"] for f in written["frames"]] == list(range(9))
    person = written["frames"][3]["people"][1]
    assert set(person) == {"track_id", "box", "score", "keypoints"}
    assert np.shape(person["keypoints"]) == (17, 3) and len(person["box"]) == 4
    assert written["problems"] == {"skipped": [], "ended_early": None}
    assert "9 frames, up to 2 people, 2 tracks" in summary.line()


def test_a_camera_without_a_display_writes_its_frames_and_json(
    network, scene, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(frames_module, "capture_factory", lambda s: FakeCamera(scene.frames[:5]))
    monkeypatch.setattr(frames_module, "display_problem", lambda: "no display (test)")
    est = PoseEstimator(network, detector=KnownBoxes(scene))
    with pytest.warns(UserWarning) as warned:
        summary = show_pose_video(est.video(0), tmp_path, "camera0")
    messages = " ".join(str(w.message) for w in warned)
    assert "writing them to" in messages and "stopped sending frames after 5" in messages
    assert summary.frames == 5
    assert len(list((tmp_path / "camera0_frames").glob("frame_*.png"))) == 5
    written = json.loads((tmp_path / "camera0.json").read_text())
    assert len(written["frames"]) == 5
    assert "stopped sending frames" in written["problems"]["ended_early"]


def test_ctrl_c_stops_a_run_with_the_frames_done_written(network, scene, tmp_path) -> None:
    known = KnownBoxes(scene)

    def detector(image: np.ndarray) -> np.ndarray:
        if len(known.calls) == 3:
            raise KeyboardInterrupt
        return known(image)

    video = PoseEstimator(network, detector=detector).video(_video(scene, tmp_path / "w.mp4"))
    summary = save_pose_video(video, tmp_path, "w", progress=False)
    assert summary.stopped and summary.frames == 3 and "stopped before the end" in summary.line()
    written = json.loads((tmp_path / "w.json").read_text())
    assert [f["index"] for f in written["frames"]] == [0, 1, 2]
    assert open_frames(tmp_path / "w_pose.mp4").frame_count == 3
