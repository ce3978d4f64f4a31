"""A cross-process lock around writing a generated data set, so that the jobs of a parallel
sweep (joblib, submitit_local, DDP ranks) that all need the same set write it once: the
first takes the lock and generates, the others wait and then find it complete."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent first runs are not guarded
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def generation_lock(root: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``<root>.lock`` (next to ``root``) for the block."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    with open(root.parent / f".{root.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
