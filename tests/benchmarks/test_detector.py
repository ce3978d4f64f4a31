"""The detector benchmark end to end on a tiny end2end-layout file (speed itself is never
asserted here)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import detector
from tests.inference.tiny_detectors import ContentDetector, export_detector


def test_the_detector_benchmark_reports_its_parts(tmp_path: Path) -> None:
    path = export_detector(ContentDetector((64, 64), 1.0), tmp_path / "end2end.onnx", (64, 64))
    report = detector.main(
        [str(path), "--family", "rtmdet", "--image", "30x50", "--warmup", "1", "--repeats", "2"]
    )
    assert report["input"] == "64x64" and report["image"] == "30x50"
    assert report["family"] == "rtmdet" and report["machine"]["threads"] == 2
    assert all(report[k] > 0 for k in ("call_ms", "preprocess_ms", "network_ms"))
