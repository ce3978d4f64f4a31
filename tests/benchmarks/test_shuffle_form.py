"""The shuffle-form comparison at a tiny size: both forms equal the plain model (checked
inside), every runtime gets its paired ratio (speed itself is never asserted)."""

from __future__ import annotations

import pytest

from benchmarks import shuffle_form

# OpenVINO in a pytest process of its own (`make test`): a process that has run it
# and then forks can crash in a later garbage collection.
pytestmark = pytest.mark.openvino


@pytest.mark.slow
def test_shuffle_form_pairs_both_forms_per_runtime() -> None:
    report = shuffle_form.main(
        ["--input", "64x64", "--batch", "2", "--threads", "1", "--budget", "0.5"]
    )
    assert set(report["ratios"]) == {"openvino fp32", "onnxruntime fp32", "onnxruntime int8"}
    assert all(r > 0 for r in report["ratios"].values())
