"""One training per run folder: ``RunFolderLock`` holds an exclusive lock on
``<run folder>/.lite_hrnet.lock`` for the whole run, and records there who holds it (PID,
host, start time), so that a second training started into the same folder fails at start
and names the first.

The lock is ``fcntl.flock``: the kernel drops it when its process ends, however it ends, so
a lock file left by a killed run never blocks. Child processes inherit the lock (a killed
run's data-loader workers hold it until they notice their parent is gone, within seconds):
a lock whose recorded holder is dead on this host is waited for, up to ``ORPHAN_WAIT_S``.
Where ``flock`` is not supported (some network file systems), the file's record decides: a
live process, or one on another host, holds the folder; a dead process on this host does not.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # Windows: the record alone decides
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lite_hrnet.lock"
ORPHAN_WAIT_S = 60.0


class RunFolderBusyError(RuntimeError):
    """Another training holds the run folder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _describe(record: dict[str, Any]) -> str:
    started = record.get("started")
    when = f", started {started}" if started else ""
    return f"PID {record.get('pid', '?')} on host {record.get('host', '?')}{when}"


class RunFolderLock:
    """``with RunFolderLock(folder):`` the block runs as the folder's only training, or
    raises ``RunFolderBusyError`` at once naming the holder's PID and host. Opening the
    lock file is also the first write into the folder: a folder that cannot be written
    raises the ``OSError`` here, before the run starts."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        # A file object, not a bare descriptor: if the holder is dropped without release()
        # (a run ended by SystemExit skips Hydra's end callbacks), closing it drops the lock.
        self._file: IO[bytes] | None = None

    def _read_record(self) -> dict[str, Any]:
        try:
            record = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def _busy(self, record: dict[str, Any], orphaned: bool = False) -> RunFolderBusyError:
        holder = _describe(record)
        if orphaned:
            holder += (
                ", which has ended, but whose child processes still hold the lock "
                f"after {ORPHAN_WAIT_S:g} s"
            )
        return RunFolderBusyError(
            f"run folder {self.folder} is in use by another training ({holder}); "
            "wait for it to end, or choose another hydra.run.dir"
        )

    def _holder_is_dead_here(self, record: dict[str, Any]) -> bool:
        pid = record.get("pid")
        return (
            record.get("host") == socket.gethostname()
            and isinstance(pid, int)
            and not _pid_alive(pid)
        )

    def _wait_for_orphans(self, fd: int) -> bool:
        """Lock ``fd`` once the dead holder's children let go; False if they hold on past
        ``ORPHAN_WAIT_S``."""
        print(
            f"run folder {self.folder}: the training that held it has ended; waiting up to "
            f"{ORPHAN_WAIT_S:g} s for its child processes to exit",
            file=sys.stderr,
            flush=True,
        )
        deadline = time.monotonic() + ORPHAN_WAIT_S
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if self._flock(fd):
                return True
        return False

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                locked = self._flock(fd)
            except BaseException:
                os.close(fd)
                raise
            if locked is False:
                record = self._read_record()
                orphaned = self._holder_is_dead_here(record)
                if not (orphaned and self._wait_for_orphans(fd)):
                    os.close(fd)
                    raise self._busy(record, orphaned)
            if locked is None:  # no flock here: the record decides
                record = self._read_record()
                same_host = record.get("host") == socket.gethostname()
                pid = record.get("pid")
                other = isinstance(pid, int) and pid != os.getpid()
                if other and (not same_host or _pid_alive(pid)):
                    os.close(fd)
                    raise self._busy(record)
            # The holder before us may have removed the file after we opened it: then our
            # lock is on a file no one else sees; open again.
            try:
                now, ours = os.stat(self.path), os.fstat(fd)
            except FileNotFoundError:
                now = None
            if now is not None and (now.st_dev, now.st_ino) == (ours.st_dev, ours.st_ino):
                break
            os.close(fd)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(record).encode())
        self._file = os.fdopen(fd, "r+b", buffering=0)

    @staticmethod
    def _flock(fd: int) -> bool | None:
        """True: locked; False: another process holds it; None: flock not supported."""
        if fcntl is None:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return None
            raise
        return True

    def release(self) -> None:
        """Remove the lock file (while still holding the lock, so that no one locks the old
        file after it is gone) and drop the lock."""
        if self._file is None:
            return
        # A folder that became read-only keeps the file; closing still drops the lock.
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        self._file.close()
        self._file = None

    def __enter__(self) -> RunFolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
