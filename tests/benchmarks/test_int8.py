"""The int8 variants table at a tiny size (speed itself is never asserted)."""

from __future__ import annotations

import pytest

from benchmarks import int8

pytestmark = pytest.mark.slow  # an export and a quantisation of the full lite_hrnet_18


def test_each_variant_gets_a_paired_ratio_and_an_agreement() -> None:
    rows = int8.main(["--input", "32x32", "--repeats", "2", "--variants", "Conv only"])
    assert set(rows) == {"float32", "Conv only"}
    assert rows["float32"]["x_float32"] == 1.0 and rows["float32"]["heatmap_correlation"] > 0.999
    conv = rows["Conv only"]
    assert conv["latency_ms"] > 0 and -1 <= conv["heatmap_correlation"] <= 1
