"""The errors a command reports in one line (``lite-hrnet <command>: error: ...``) instead
of a traceback: bad settings and inputs (``ValueError``), files that are missing, unwritable,
full or in the way (``OSError``), and a training that diverged (``FloatingPointError``)."""

from __future__ import annotations

import errno
import sys

CLEAR_ERRORS = (ValueError, OSError, FloatingPointError)

# Errors of the file system itself, as Python raises them (with the path). Other OSErrors
# without a message of ours (a socket, a library's) keep their traceback.
_FILE_SYSTEM_ERRNOS = {
    errno.ENOENT: "no such file or folder",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EEXIST: "already exists",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a path component is a file, not a folder",
    errno.ENOTEMPTY: "folder not empty",
    errno.ENAMETOOLONG: "file name too long",
}


class PathError(OSError):
    """A file-system error whose text is the whole message (``PathError(errno, text)``)."""

    def __str__(self) -> str:
        return str(self.strerror)


def is_clear(error: BaseException) -> bool:
    """Whether ``error`` says what went wrong by itself: a ``ValueError`` or
    ``FloatingPointError``; an ``OSError`` when it is ours, names a path or is a file-system
    error (not a socket's or a library's)."""
    if isinstance(error, OSError):
        ours = type(error).__module__.startswith("lite_hrnet") or error.errno is None
        return ours or error.filename is not None or error.errno in _FILE_SYSTEM_ERRNOS
    return isinstance(error, CLEAR_ERRORS)


def problem(error: OSError) -> str:
    """What went wrong, without the path: ``no space left on device``."""
    if error.errno is None:
        return str(error)
    return _FILE_SYSTEM_ERRNOS.get(error.errno) or str(error.strerror or error).lower()


def describe(error: BaseException) -> str:
    """One line: ``<path>: <problem>`` for a file-system error Python raised, else the
    error's own text."""
    if isinstance(error, OSError) and error.filename is not None and error.errno is not None:
        path = error.filename
        if error.filename2 is not None:
            path = f"{path} -> {error.filename2}"
        return f"{path}: {problem(error)}"
    return str(error)


def report(command: str, error: BaseException | str) -> None:
    """Print ``error`` as ``lite-hrnet <command>: error: <one line>`` on stderr."""
    text = error if isinstance(error, str) else describe(error)
    print(f"lite-hrnet {command}: error: {text}", file=sys.stderr)
