"""The shuffle-form comparison at a tiny size: both shuffle forms equal the plain model
(checked inside), every runtime gets its paired ratios (speed itself is never asserted)."""

from __future__ import annotations

import pytest

from benchmarks import shuffle_form
from lite_hrnet.deploy import lean_blocks

# OpenVINO in a pytest process of its own (`make test`): a process that has run it
# and then forks can crash in a later garbage collection.
pytestmark = pytest.mark.openvino


@pytest.mark.slow
def test_shuffle_form_pairs_both_forms_per_runtime() -> None:
    report = shuffle_form.main(
        ["--input", "64x64", "--batch", "2", "--threads", "1", "--budget", "0.5", "--no-int8"]
    )
    assert set(report["ratios"]) == {"openvino fp32", "onnxruntime fp32"}
    assert all(
        set(r) == {"transpose", "none"} and min(r.values()) > 0 for r in report["ratios"].values()
    )
    assert lean_blocks._shuffle_cat.__name__ == "_shuffle_cat"  # the bound's swap is undone
