"""Parallel sweep jobs that need the same generated data set write it once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from lite_hrnet.synthetic.marker import generation_lock


def test_a_second_holder_waits_for_the_first(tmp_path: Path) -> None:
    events: list[str] = []
    held = threading.Event()

    def first() -> None:
        with generation_lock(tmp_path / "data"):
            held.set()
            time.sleep(0.3)
            events.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait()
    with generation_lock(tmp_path / "data"):
        events.append("second in")
    thread.join()
    assert events == ["first done", "second in"]
