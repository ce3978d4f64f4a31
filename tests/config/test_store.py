"""The ConfigStore registration: the synthetic data folders depend on the generator's
settings, so runs with other settings never share (and overwrite) one folder."""

from __future__ import annotations

import pytest

from tests.support import compose_config


@pytest.mark.parametrize("data", ["synthetic_coco", "synthetic_mpii", "synthetic_cityscapes"])
def test_default_synthetic_root_follows_the_generator_settings(data: str) -> None:
    def root(*overrides: str) -> str:
        return compose_config([f"data={data}", *overrides]).data.root

    default = root()
    assert f"/{data}_" in default
    assert root("data.synthetic.seed=0") == default  # the same settings, spelt out
    assert root("data.synthetic.seed=7") != default
    assert root("data.synthetic.num_val_images=3") not in (default, root("data.synthetic.seed=7"))
    assert root("data.batch_size=4") == default  # not a generator setting
    assert root("data.root=/elsewhere") == "/elsewhere"
