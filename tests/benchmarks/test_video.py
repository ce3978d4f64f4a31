"""The video benchmark end to end at a tiny size (speed itself is never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import video


def test_the_clip_draws_people_where_their_keypoints_are() -> None:
    clip, keypoints = video.make_clip(frames=3, people=2)
    assert clip.shape == (3, 480, 640, 3) and keypoints.shape == (3, 2, 17, 3)
    background = video.make_clip(frames=1, people=0)[0][0].astype(int)
    x, y = np.round(keypoints[2, 0, 5, :2]).astype(int)  # a shoulder, on the shirt
    assert np.abs(clip[2, y, x].astype(int) - background[y, x]).sum() > 0


@pytest.mark.slow
def test_the_benchmark_times_every_stage_and_tabulates_the_filter(tmp_path: Path) -> None:
    out = tmp_path / "video.json"
    result = video.main(["--frames", "4", "--people", "2", "--rounds", "1", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    stages = result["stages"]["ms_per_frame"]
    assert set(stages) == {"decode", "track", "smooth", "draw + encode"}
    assert all(ms > 0 for ms in stages.values())
    standing = result["smoothing_rms_px"]["standing"]
    assert standing["min_cutoff=1.0 beta=0.05"] < standing["raw"]


@pytest.mark.slow  # an ONNX export of lite_hrnet_18 and forward passes at 256x192
def test_the_networks_are_timed_per_runtime_and_people_count(tmp_path: Path) -> None:
    result = video.time_networks(people=(1, 2), frames=1, rounds=1)
    table = result["ms_per_frame"]
    assert set(table) == {"eager", "onnx runtime"}  # no package or detector given
    assert all(set(row) == {1, 2} and min(row.values()) > 0 for row in table.values())
