"""The per-class profile at a tiny size: every executed node lands in a class, the floors
come from positive measured rates (speed itself is never asserted)."""

from __future__ import annotations

import pytest

from benchmarks import op_classes

# OpenVINO in a pytest process of its own (`make test`): a process that has run it
# and then forks can crash in a later garbage collection.
pytestmark = pytest.mark.openvino


def test_op_class_sorts_nodes_by_their_job() -> None:
    c = op_classes.op_class
    assert c("/backbone/stage0/x/depthwise_convs.0/conv/Conv", "Convolution", (40, 1, 1, 3, 3)) == (
        "depthwise convolutions"
    )
    assert c("/backbone/stem/conv1/conv/Conv", "Conv", (32, 3, 3, 3)).startswith("dense")
    assert c("/a/spatial_weighting.0/conv1/conv/Conv", "Conv", (8, 16, 1, 1)).startswith("gates")
    assert c("images_abcd_acdb", "Reorder", None) == "layout conversions"
    assert c("/backbone/stem/Reshape_1", "ShuffleChannels", None).startswith("channel shuffle")
    assert c("/backbone/stage1/stage1.0/fuse_layers.0.1/Resize", "Interpolate", None).startswith(
        "fuse layers"
    )


@pytest.mark.slow
def test_op_classes_profile_accounts_for_every_node() -> None:
    report = op_classes.main(["--input", "64x64", "--runs", "2", "--threads", "1"])
    assert report["rates"]["bytes_per_s"] > 0 and report["rates"]["macs_per_s"] > 0
    assert len(report["tables"]) == 4
    for table in report["tables"].values():
        convs = table["dense convolutions (1x1, stem 3x3)"]
        assert convs["nodes"] > 10 and convs["mmacs"] > 0 and convs["floor_ms"] > 0
        assert table["depthwise convolutions"]["nodes"] > 10
        assert sum(r["ms"] for r in table.values()) > 0
