"""The generator's pool workers end with a parent that is SIGKILLed (they would otherwise
wait for work forever)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from tests.support import script_env

GENERATE = textwrap.dedent(
    """
    import sys
    from lite_hrnet.synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco
    ensure_synthetic_coco(sys.argv[1], PoseSceneConfig(num_train_images=4000, num_val_images=4))
    """
)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_pool_workers_end_with_a_killed_parent(tmp_path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", GENERATE, str(tmp_path / "coco")],
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
