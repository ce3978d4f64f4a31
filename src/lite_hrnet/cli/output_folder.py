"""Where a command writes (``predict --output`` a folder, ``export --output`` a file),
checked before the work starts: a file where a folder is wanted or the other way round, or
a folder that cannot be created or written, is one line naming it."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import PathError, problem


def output_folder(path: Path, option: str = "--output") -> Path:
    """Create ``path`` if missing and check that it is a writable folder; returns it."""
    if path.exists() and not path.is_dir():
        raise PathError(None, f"{option} {path}: exists and is not a folder (name a folder)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        where = "" if error.filename in (None, str(path)) else f" ({error.filename})"
        raise PathError(error.errno, f"{option} {path}: {problem(error)}{where}") from None
    if not os.access(path, os.W_OK):  # the root user gets False on read-only mounts only
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
        text = "read-only file system" if read_only else "the folder is not writable"
        raise PathError(None, f"{option} {path}: {text}")
    return path


def output_file(path: Path, option: str = "--output") -> Path:
    """Create ``path``'s folder if missing and check that ``path`` can be written there."""
    if path.is_dir():
        raise PathError(None, f"{option} {path}: is a folder (name the file to write)")
    output_folder(path.parent, f"{option} {path}: its folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise PathError(None, f"{option} {path}: the file is not writable")
    return path
