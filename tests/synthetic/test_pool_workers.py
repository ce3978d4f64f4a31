"""The generator's pool workers work under every start method the project sets (a sweep
sets forkserver), and end with a parent that is SIGKILLed (they would otherwise wait for
work forever)."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from lite_hrnet.synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco
from tests.support import script_env

START_METHODS = ["fork", "forkserver", "spawn"]

GENERATE = textwrap.dedent(
    """
    import multiprocessing, sys
    from lite_hrnet.synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco
    multiprocessing.set_start_method(sys.argv[2])
    ensure_synthetic_coco(sys.argv[1], PoseSceneConfig(num_train_images=4000, num_val_images=4))
    """
)


@pytest.mark.parametrize("method", START_METHODS)
def test_the_generator_writes_under_every_start_method(method, tmp_path) -> None:
    previous = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method(method, force=True)
    try:
        root = ensure_synthetic_coco(
            tmp_path / "coco", PoseSceneConfig(num_train_images=3, num_val_images=1)
        )
    finally:
        multiprocessing.set_start_method(previous, force=True)
    assert len(list((root / "train2017").glob("*.jpg"))) == 3
    assert len(list((root / "val2017").glob("*.jpg"))) == 1


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("method", START_METHODS)
def test_pool_workers_end_with_a_killed_parent(method, tmp_path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", GENERATE, str(tmp_path / "coco"), method],
        env=script_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list((tmp_path / "coco").glob("train2017/*.jpg")):
        assert parent.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    workers = psutil.Process(parent.pid).children(recursive=True)
    assert workers  # the pool is at work
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    _gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, [p.pid for p in alive]
