"""``lite-hrnet predict pose``: a counted skip for an undecodable image, distinct outputs
for inputs that share a stem, boxes checked and clipped, no NaN in the results, results
kept on a full disk, outputs that cannot be written."""

from __future__ import annotations

import json
import re
import sys
import types
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import lite_hrnet
from lite_hrnet.cli.main import main
from lite_hrnet.data.images import CorruptImageWarning
from lite_hrnet.testing.weights import randomize
from tests.support import read_only, small_disk


@pytest.fixture(scope="module")
def pose_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "pose.pth"
    torch.save(randomize(lite_hrnet.create_pose_model("lite_hrnet_18"), seed=2).state_dict(), path)
    return path


def _image(path: Path, seed: int, size: int = 0) -> Path:
    """A noise image, 48 x 40 or ``size`` x ``size`` (noise: its drawing compresses badly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size, size, 3) if size else (48, 40, 3)
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    cv2.imwrite(str(path), pixels)
    return path


def _predict(images: list[Path], weights: Path, output: Path, more: list[str] = ()) -> int:
    argv = ["predict", "pose", *map(str, images), "--checkpoint", str(weights), *more]
    return main([*argv, "--input", "64x64", "--output", str(output)])


def test_an_undecodable_image_is_a_counted_skip(pose_weights, tmp_path, capsys) -> None:
    good = _image(tmp_path / "in" / "good.png", 0)
    bad = tmp_path / "in" / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.warns(CorruptImageWarning, match=r"cannot decode image .*bad.jpg"):
        assert _predict([bad, good], pose_weights, tmp_path / "out") == 0
    assert "wrote 1 of 2 predictions" in capsys.readouterr().out
    results = json.loads((tmp_path / "out" / "keypoints.json").read_text())
    assert list(results) == ["good.png"] and np.shape(results["good.png"]) == (1, 17, 3)
    assert (tmp_path / "out" / "good_pose.png").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _predict([bad], pose_weights, tmp_path / "out2") != 0
    assert "none of the 1 images could be decoded" in capsys.readouterr().err


def test_inputs_sharing_a_stem_keep_their_own_outputs(pose_weights, tmp_path) -> None:
    images = [
        _image(tmp_path / "a" / "x.png", 1),
        _image(tmp_path / "b" / "x.png", 2),
        _image(tmp_path / "b" / "x.jpg", 3),
    ]
    out = tmp_path / "out"
    assert _predict(images, pose_weights, out) == 0
    results = json.loads((out / "keypoints.json").read_text())
    assert sorted(results) == ["a/x.png", "b/x.jpg", "b/x.png"]
    assert sorted(p.name for p in out.glob("*_pose.png")) == [
        "a_x_png_pose.png", "b_x_jpg_pose.png", "b_x_png_pose.png"
    ]  # fmt: skip
    drawn = [cv2.imread(str(out / f"{name}_pose.png")) for name in ("a_x_png", "b_x_png")]
    assert not np.array_equal(*drawn)  # each drawn over its own image


def _strict_json(path: Path) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_boxes_are_clipped_and_empty_or_unmatched_ones_reported(
    pose_weights, tmp_path, capsys
) -> None:
    a = _image(tmp_path / "in" / "a.png", 0)  # 40 x 48 (W x H)
    b = _image(tmp_path / "in" / "b.png", 1)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(
        json.dumps(
            {
                "a.png": [[-10, -10, 100, 100], [50, 50, 10, 10], [5, 5, 0, 10], [5, 5, -3, 4]],
                "b.png": [[0, 0, 1e30, 1e30], [1e30, 0, 5, 5]],
                "c.png": [[0, 0, 5, 5]],  # no such input
            }
        )
    )
    argv = ["--boxes", str(boxes)]
    with pytest.warns(UserWarning) as record:
        assert _predict([a, b], pose_weights, tmp_path / "out", argv) == 0
    messages = [str(w.message) for w in record]
    assert any("1 of 3 image names match no input" in m and "c.png" in m for m in messages)
    assert any("4 boxes have no area inside their image" in m for m in messages)
    out = capsys.readouterr().out
    assert "clipped 2 boxes to their image" in out and "skipped 4 boxes" in out
    results = _strict_json(tmp_path / "out" / "keypoints.json")
    assert np.shape(results["a.png"]) == (1, 17, 3) and np.shape(results["b.png"]) == (1, 17, 3)


def test_workers_give_the_same_keypoints_as_one_image_at_a_time(
    pose_weights, tmp_path, capsys
) -> None:
    """``--workers``: Lightning's predict loop (workers decode and crop) writes the same
    keypoints.json as the default path, boxes included, and counts an undecodable image."""
    images = [_image(tmp_path / "in" / f"{i}.png", i) for i in range(3)]
    bad = tmp_path / "in" / "bad.png"
    bad.write_bytes(b"not a png")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"1.png": [[2, 3, 30, 40], [-5, 0, 20, 20]], "2.png": []}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        more = ["--boxes", str(boxes)]
        assert _predict([*images, bad], pose_weights, tmp_path / "one", more) == 0
        capsys.readouterr()
        assert _predict([*images, bad], pose_weights, tmp_path / "loop",
                        [*more, "--workers", "1"]) == 0  # fmt: skip
    assert "wrote 3 of 4 predictions" in capsys.readouterr().out
    loop = json.loads((tmp_path / "loop" / "keypoints.json").read_text())
    one = json.loads((tmp_path / "one" / "keypoints.json").read_text())
    assert list(loop) == list(one) == ["0.png", "1.png", "2.png"]
    for key in one:
        assert np.asarray(loop[key]) == pytest.approx(np.asarray(one[key]), abs=1e-4)
    assert np.shape(loop["1.png"]) == (2, 17, 3) and loop["2.png"] == []
    assert not list((tmp_path / "loop").glob("*_pose.png"))  # keypoints only


def test_a_malformed_box_is_one_line_naming_the_file(pose_weights, tmp_path, capsys) -> None:
    a = _image(tmp_path / "in" / "a.png", 0)
    boxes = tmp_path / "boxes.json"
    boxes.write_text('{"a.png": [[0, 0, "10", 10]]}')
    assert _predict([a], pose_weights, tmp_path / "out", ["--boxes", str(boxes)]) == 2
    err = capsys.readouterr().err
    assert f"boxes file {boxes}: box 0 of 'a.png'" in err and "Traceback" not in err


def test_a_nan_box_is_refused_rather_than_written_as_nan(pose_weights, tmp_path, capsys) -> None:
    a = _image(tmp_path / "in" / "a.png", 0)
    boxes = tmp_path / "boxes.json"
    boxes.write_text('{"a.png": [[NaN, 0, 10, 10]]}')  # what json.dumps writes for nan
    assert _predict([a], pose_weights, tmp_path / "out", ["--boxes", str(boxes)]) == 2
    assert "box 0 of 'a.png' must be 4 finite numbers" in capsys.readouterr().err
    assert not (tmp_path / "out" / "keypoints.json").exists()


def test_a_full_disk_keeps_the_keypoints_made_so_far(pose_weights, tmp_path, capsys) -> None:
    images = [_image(tmp_path / "in" / f"{i}.png", i, size=96) for i in range(5)]
    with small_disk(tmp_path / "disk", "64k") as disk:  # room for about two drawings
        assert _predict(images, pose_weights, disk / "out") == 2
        err = capsys.readouterr().err.strip()
        assert re.fullmatch(
            rf"lite-hrnet predict: error: {disk}/out/\d_pose\.png: no space left on device; "
            rf"the keypoints of the (\d) images predicted so far are in {disk}/out/"
            r"keypoints\.jsonl \(one JSON line per image\)",
            err,
        ), err
        lines = (disk / "out" / "keypoints.jsonl").read_text().splitlines()
        done = [json.loads(line) for line in lines]
        assert len(done) >= 1 and [d["file"] for d in done] == [
            f"{i}.png" for i in range(len(done))
        ]
        assert all(np.shape(d["keypoints"]) == (1, 17, 3) for d in done)
        assert not (disk / "out" / "keypoints.json").exists()


def test_the_lines_file_gives_way_to_keypoints_json(pose_weights, tmp_path) -> None:
    images = [_image(tmp_path / "in" / f"{i}.png", i) for i in range(2)]
    assert _predict(images, pose_weights, tmp_path / "out") == 0
    assert sorted(json.loads((tmp_path / "out" / "keypoints.json").read_text())) == [
        "0.png",
        "1.png",
    ]
    assert not (tmp_path / "out" / "keypoints.jsonl").exists()


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_an_output_that_cannot_be_a_folder_is_one_line(kind, pose_weights, tmp_path, capsys):
    image = _image(tmp_path / "in" / "a.png", 0)
    (tmp_path / "mount").mkdir()
    if kind == "file":
        output = tmp_path / "mount" / "taken"
        output.write_text("not a folder")
        code = _predict([image], pose_weights, output)
    else:
        output = tmp_path / "mount" / "out"
        with read_only(tmp_path / "mount"):
            code = _predict([image], pose_weights, output)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(f"lite-hrnet predict: error: --output {output}: ")
    assert "\n" not in err
    assert err.endswith(
        {"file": ("exists and is not a folder (name a folder)",),
         "read-only": ("read-only file system", "permission denied")}[kind]
    )  # fmt: skip


def test_a_detector_tag_reaches_the_estimator(pose_weights, tmp_path, monkeypatch) -> None:
    """``--detector TAG`` loads through ``inference.detection.load_detector`` (a stand-in
    here) and its boxes are the people of images without ``--boxes``."""
    loaded: list[str] = []

    def load_detector(spec: str, **options):
        loaded.append(spec)
        return lambda image: np.array([[1, 2, 20, 30, 0.9], [5, 5, 10, 10, 0.4]], np.float32)

    detection = types.ModuleType("lite_hrnet.inference.detection")
    detection.load_detector = load_detector
    monkeypatch.setitem(sys.modules, "lite_hrnet.inference.detection", detection)
    image = _image(tmp_path / "in" / "a.png", 0)
    assert _predict([image], pose_weights, tmp_path / "out", ["--detector", "stand-in"]) == 0
    assert loaded == ["stand-in"]
    results = json.loads((tmp_path / "out" / "keypoints.json").read_text())
    assert np.shape(results["a.png"]) == (2, 17, 3)


def _clip(path: Path, frames: int = 6) -> Path:
    """An mp4 of two people walking apart (128 x 96, 10 frames per second)."""
    from lite_hrnet.inference.frames import VideoWriter
    from tests.inference.moving_people import moving_scene

    scene = moving_scene([(40.0, 60.0), (88.0, 60.0)], [(-2.0, 0.0), (2.0, 0.5)], frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    with VideoWriter(path, 10.0, (128, 96)) as writer:
        for image in scene.frames:
            writer.write(image)
    return path


def _frames_written(path: Path) -> list[dict]:
    written = _strict_json(path)
    assert isinstance(written, dict)
    return written["frames"]


def test_a_video_among_images_gets_its_drawn_video_and_per_frame_json(
    pose_weights, tmp_path, capsys
) -> None:
    """Images and a video in one call; the video's JSON has every frame, each person
    with a track id, box, score and keypoints."""
    from lite_hrnet.inference.frames import open_frames

    video = _clip(tmp_path / "in" / "walk.mp4")
    image = _image(tmp_path / "in" / "a.png", 0)
    out = tmp_path / "out"
    assert _predict([image, video], pose_weights, out, ["--no-flip", "--smooth"]) == 0
    assert (out / "a_pose.png").is_file() and (out / "keypoints.json").is_file()
    assert open_frames(out / "walk_pose.mp4").frame_count == 6
    frames = _frames_written(out / "walk.json")
    assert [f["index"] for f in frames] == list(range(6))
    assert [f["time_s"] for f in frames] == pytest.approx(np.arange(6) / 10)
    person = frames[2]["people"][0]  # no detector: the whole frame, one person
    assert person["track_id"] == 1 and person["box"] == [0, 0, 128, 96]
    assert np.shape(person["keypoints"]) == (17, 3)
    assert re.search(r"walk\.mp4: 6 frames, up to 1 people, 1 tracks", capsys.readouterr().out)


def test_a_video_named_keypoints_never_replaces_the_images_results(pose_weights, tmp_path) -> None:
    video = _clip(tmp_path / "in" / "keypoints.mp4", frames=2)
    image = _image(tmp_path / "in" / "a.png", 0)
    out = tmp_path / "out"
    assert _predict([image, video], pose_weights, out, ["--no-flip"]) == 0
    assert list(json.loads((out / "keypoints.json").read_text())) == ["a.png"]
    assert len(_frames_written(out / "keypoints_2.json")) == 2
    assert (out / "keypoints_2_pose.mp4").is_file()


def test_a_cut_video_keeps_the_frames_before_the_cut_and_says_so(
    pose_weights, tmp_path, capsys
) -> None:
    from tests.inference.test_frames import _faststart

    whole = _faststart(_clip(tmp_path / "walk.mp4").read_bytes())
    cut = tmp_path / "in" / "cut.mp4"
    cut.parent.mkdir()
    cut.write_bytes(whole[: len(whole) * 6 // 10])
    with pytest.warns(UserWarning, match="ended early"):
        assert _predict([cut], pose_weights, tmp_path / "out", ["--no-flip"]) == 0
    frames = _frames_written(tmp_path / "out" / "cut.json")
    assert 1 <= len(frames) < 6
    printed = capsys.readouterr().out
    assert f"cut.mp4: {len(frames)} frames" in printed and "ended early" in printed
    assert f"ended early after {len(frames)} of 6 frames" in printed
    assert (tmp_path / "out" / "cut_pose.mp4").is_file()


def test_a_folder_of_frames_is_one_video_with_frames(pose_weights, tmp_path) -> None:
    folder = tmp_path / "shots"
    for t in (0, 1, 2, 10):  # in natural order: shot_10 last
        _image(folder / f"shot_{t}.png", t)
    more = ["--no-flip", "--frames", "--fps", "5"]
    assert _predict([folder], pose_weights, tmp_path / "out", more) == 0
    frames = _frames_written(tmp_path / "out" / "shots.json")
    assert [f["name"] for f in frames] == [f"shot_{t}.png" for t in (0, 1, 2, 10)]
    assert frames[1]["time_s"] == pytest.approx(0.2)
    assert not (tmp_path / "out" / "keypoints.json").exists()  # not taken as images


def test_a_camera_without_a_display_writes_its_frames_and_json(
    pose_weights, tmp_path, monkeypatch, capsys
) -> None:
    from lite_hrnet.inference import frames as frames_module
    from lite_hrnet.inference.frames import open_frames
    from tests.inference.test_frames import FakeCamera

    clip = np.stack([f.image[..., ::-1] for f in open_frames(_clip(tmp_path / "c.mp4", 3))])
    monkeypatch.setattr(frames_module, "capture_factory", lambda index: FakeCamera(clip))
    monkeypatch.setattr(frames_module, "display_problem", lambda: "no display (test)")
    out = tmp_path / "out"
    with pytest.warns(UserWarning) as warned:
        assert _predict([], pose_weights, out, ["--no-flip", "--camera", "0"]) == 0
    assert any("writing them to" in str(w.message) for w in warned)
    assert sorted(p.name for p in (out / "camera0_frames").iterdir()) == [
        f"frame_00000{i}.png" for i in range(3)
    ]
    assert len(_frames_written(out / "camera0.json")) == 3
    assert "camera0: 3 frames" in capsys.readouterr().out


def test_workers_run_the_detector_as_one_image_at_a_time_does(pose_weights, tmp_path) -> None:
    """``--workers`` with ``--detector FILE``: the workers detect (each with its own
    session) and give the keypoints of the default path; --boxes still win where given."""
    from tests.inference.tiny_detectors import ContentDetector, export_detector

    detector = export_detector(
        ContentDetector((64, 64), 1.0), tmp_path / "tiny_rtmdet.onnx", (64, 64)
    )
    images = [_image(tmp_path / "in" / f"{i}.png", i) for i in range(3)]
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"2.png": [[2, 3, 30, 40]]}))
    more = ["--no-flip", "--detector", str(detector), "--boxes", str(boxes)]
    assert _predict(images, pose_weights, tmp_path / "one", more) == 0
    assert _predict(images, pose_weights, tmp_path / "loop", [*more, "--workers", "2"]) == 0
    loop = json.loads((tmp_path / "loop" / "keypoints.json").read_text())
    one = json.loads((tmp_path / "one" / "keypoints.json").read_text())
    assert list(loop) == list(one) == ["0.png", "1.png", "2.png"]
    assert [len(one[k]) for k in one] == [5, 5, 1]  # the detector's people; 2.png: its box
    for key in one:
        assert np.asarray(loop[key]) == pytest.approx(np.asarray(one[key]), abs=1e-4)
