"""One training per run folder: a held folder names its holder; a lock left by a dead
process never blocks; where flock is missing, the record decides."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lite_hrnet.training.run_lock import LOCK_FILE, RunFolderBusyError, RunFolderLock
from tests.support import script_env

HOLD = (
    "import sys, time\n"
    "from lite_hrnet.training.run_lock import RunFolderLock\n"
    "lock = RunFolderLock(sys.argv[1])\n"
    "lock.acquire()\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)


# The holder forks a child that inherits the lock, as a data loader's workers do, and
# outlives the holder by ``child_s`` seconds.
HOLD_WITH_CHILD = (
    "import os, sys, time\n"
    "from lite_hrnet.training.run_lock import RunFolderLock\n"
    "lock = RunFolderLock(sys.argv[1])\n"
    "lock.acquire()\n"
    "parent = os.getpid()\n"
    "if os.fork() == 0:\n"
    "    while os.getppid() == parent:\n"
    "        time.sleep(0.05)\n"
    "    time.sleep(float(sys.argv[2]))\n"
    "    os._exit(0)\n"
    "print('held', flush=True)\n"
    "time.sleep(600)\n"
)


def _holder(folder: Path, child_s: float | None = None) -> subprocess.Popen:
    extra = [] if child_s is None else [str(child_s)]
    code = HOLD if child_s is None else HOLD_WITH_CHILD
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(folder), *extra], env=script_env(),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_folder_names_its_holder_and_a_dead_holder_never_blocks(tmp_path: Path) -> None:
    holder = _holder(tmp_path / "run")
    try:
        with pytest.raises(RunFolderBusyError) as caught:
            RunFolderLock(tmp_path / "run").acquire()
        message = str(caught.value)
        assert f"run folder {tmp_path / 'run'} is in use by another training" in message
        assert f"PID {holder.pid} on host {socket.gethostname()}" in message
    finally:
        holder.kill()  # SIGKILL: no clean-up, the lock file stays
        holder.wait()
    assert json.loads((tmp_path / "run" / LOCK_FILE).read_text())["pid"] == holder.pid
    with RunFolderLock(tmp_path / "run") as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert not (tmp_path / "run" / LOCK_FILE).exists()  # released and removed


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize(
    "host, pid, busy",
    [("here", "dead", False), ("here", "alive", True), ("elsewhere", "dead", True)],
)
def test_without_flock_the_record_decides(host, pid, busy, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(RunFolderLock, "_flock", staticmethod(lambda fd: None))
    record = {
        "pid": _dead_pid() if pid == "dead" else os.getppid(),
        "host": socket.gethostname() if host == "here" else "another-host",
    }
    (tmp_path / LOCK_FILE).write_text(json.dumps(record))
    if busy:
        with pytest.raises(RunFolderBusyError, match=f"PID {record['pid']} on host"):
            RunFolderLock(tmp_path).acquire()
    else:
        with RunFolderLock(tmp_path):
            assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("child_s, acquired", [(1.0, True), (30.0, False)])
def test_a_dead_holders_children_are_waited_for(child_s, acquired, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("lite_hrnet.training.run_lock.ORPHAN_WAIT_S", 5.0)
    holder = _holder(tmp_path / "run", child_s=child_s)
    holder.kill()
    holder.wait()
    if acquired:
        with RunFolderLock(tmp_path / "run") as lock:
            assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    else:
        with pytest.raises(RunFolderBusyError, match="child processes still hold the lock"):
            RunFolderLock(tmp_path / "run").acquire()
