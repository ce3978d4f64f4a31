"""``lite-hrnet train``'s checks before a run: keys that no config has."""

from __future__ import annotations

from pathlib import Path

import pytest

from lite_hrnet.cli.train import unknown_keys
from tests.support import compose_config, pose_overrides, read_only, run_cli

EXPERIMENTS = sorted(
    p.stem for p in (Path(__file__).parents[2] / "src/lite_hrnet/conf/experiment").glob("*.yaml")
)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_uses_known_keys_only(experiment: str) -> None:
    assert unknown_keys(compose_config([f"experiment={experiment}"], typed=False)) == []


def test_keys_added_with_plus_are_found() -> None:
    cfg = compose_config(
        ["+data.sigmaa=2", "+task.learning_rate=0.1", "+data.synthetic.bar=3", "+foo=1"],
        typed=False,
    )
    assert sorted(unknown_keys(cfg)) == [
        "data.sigmaa", "data.synthetic.bar", "foo", "task.learning_rate"
    ]  # fmt: skip


def test_a_read_only_data_cache_is_one_line(coco_root, tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "cache").mkdir()
    monkeypatch.setenv("LITE_HRNET_CACHE", str(tmp_path / "cache"))
    overrides = [o for o in pose_overrides(coco_root) if not o.startswith("data.root=")]
    with read_only(tmp_path / "cache"):
        code = run_cli(["train", *overrides, f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"cannot write the generated data set {tmp_path / 'cache'}/synthetic_coco_" in err
    assert "choose a writable data.root (or LITE_HRNET_CACHE)" in err
