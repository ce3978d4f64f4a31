"""``lite-hrnet train``'s checks before a run: keys that no config has."""

from __future__ import annotations

from pathlib import Path

import pytest

from lite_hrnet.cli.train import unknown_keys
from tests.support import compose_config

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
