"""The one contract of every generator: ``ensure(root, cfg) -> Path`` writes a data set
under ``root`` unless a complete one with the same settings is there.

A marker file (``MARKER``) records the generator, its version and its settings. It is
written last, so an interrupted run is redone; a set with other settings is written
again; a folder that holds data in the layout but no marker is never touched (it may be
the real data set). A cross-process lock around the whole check-and-write lets the jobs of
a parallel sweep (joblib, submitit_local, DDP ranks) that all need the same set write it
once: the first takes the lock and generates, the others wait and then find it complete.
A complete set is read without the lock, so it can be used from a read-only place; a set
that cannot be written (a read-only place, a full disk) is an ``OSError`` that names the
folder and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent first runs are not guarded
    fcntl = None  # type: ignore[assignment]

MARKER = ".lite_hrnet_synthetic.json"


def settings_key(settings: Mapping[str, Any]) -> str:
    """8 hex digits that differ between generator settings: the default data folders end
    with it, so that runs with other settings write other folders instead of regenerating
    (and corrupting) the set another run is reading."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@contextlib.contextmanager
def generation_lock(root: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on ``.<root name>.lock`` (next to ``root``) for the block."""
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


def _read(marker: Path) -> Any:
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def ensure_generated(
    root: str | os.PathLike[str],
    generator: str,
    version: int,
    cfg: Any,
    layout: Sequence[str],
    write: Callable[[Path], None],
    legacy_markers: Sequence[str] = (),
) -> Path:
    """Run ``write(root)`` unless ``root`` holds a complete set of ``generator`` at
    ``version`` with the settings ``cfg`` (a dataclass). ``layout`` names the top-level
    entries the set consists of; they are removed before writing. ``legacy_markers`` are
    the file names older versions marked their sets with. Returns ``root`` as a Path.
    """
    root = Path(root)
    record = {"generator": generator, "version": version, "config": asdict(cfg)}
    marker = root / MARKER
    if _read(marker) == record:  # complete: nothing to write, so no lock (read-only mounts)
        return root
    try:
        return _generate(root, record, layout, write, legacy_markers)
    except OSError as error:
        if error.errno is None:  # ours, already clear (a folder that is not a generated set)
            raise
        raise DataSetWriteError(root, error) from error


_ADVICE = {
    errno.ENOSPC: "free some space or choose another data.root (or LITE_HRNET_CACHE)",
    errno.EDQUOT: "free some space or choose another data.root (or LITE_HRNET_CACHE)",
    errno.EROFS: "choose a writable data.root (or LITE_HRNET_CACHE)",
    errno.EACCES: "choose a writable data.root (or LITE_HRNET_CACHE)",
    errno.EPERM: "choose a writable data.root (or LITE_HRNET_CACHE)",
}


class DataSetWriteError(OSError):
    """A generated set that could not be written, in one line naming its folder, the file
    (a write on a full disk names none by itself), the problem and what to do."""

    def __init__(self, root: Path, error: OSError) -> None:
        problem = (error.strerror or str(error)).lower()
        where = f" at {error.filename}" if error.filename else ""
        advice = _ADVICE.get(error.errno or 0)
        message = f"cannot write the generated data set {root}{where}: {problem}"
        super().__init__(error.errno, message + (f"; {advice}" if advice else ""))

    def __str__(self) -> str:
        return str(self.strerror)


def _generate(
    root: Path,
    record: dict[str, Any],
    layout: Sequence[str],
    write: Callable[[Path], None],
    legacy_markers: Sequence[str],
) -> Path:
    marker, partial = root / MARKER, root / f"{MARKER}.partial"
    with generation_lock(root):
        if _read(marker) == record:
            return root
        ours = [marker, partial, *(root / name for name in legacy_markers)]
        generated = any(path.exists() for path in ours)
        if not generated and any((root / name).exists() for name in layout):
            raise FileExistsError(
                f"{root}: holds {'/, '.join(layout)}/ but no {MARKER}; not a generated set, "
                "so it is left alone (choose an empty folder)"
            )
        root.mkdir(parents=True, exist_ok=True)
        for path in ours:
            path.unlink(missing_ok=True)
        partial.write_text(json.dumps(record))
        for name in layout:
            shutil.rmtree(root / name, ignore_errors=True)
        write(root)
        partial.rename(marker)
    return root
