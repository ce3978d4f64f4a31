"""The new-process start of a package, on the tiny one (speed itself is never asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import package_start

pytestmark = pytest.mark.slow  # an AOTInductor compile (shared) and fresh processes


def test_reports_each_fresh_process_and_the_medians(tiny_package: Path) -> None:
    report = package_start.main([str(tiny_package), "--runs", "2", "--threads", "1"])
    assert len(report["runs"]) == 2
    for run in report["runs"]:
        assert run["process_s"] > run["import_and_load_s"] > run["load_s"] > 0
        assert run["first_call_s"] > 0 and run["second_call_s"] > 0
    assert report["median_process_s"] > 0
