"""``predict pose``'s results, written as they are made: one JSON line per image in
``keypoints.jsonl`` (flushed after each), then, when every image is done, the whole of them
as ``keypoints.json`` (``{file name: (N, K, 3) keypoints}``), which replaces the lines file.
A run that fails half-way (a full disk, a killed process) keeps the lines of the images done
before, and the error says where they are."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..formats.json_files import KEYPOINTS_RESULTS_FILE
from .errors import PathError, describe

LINES_FILE = "keypoints.jsonl"


class PredictionsKeptError(PathError):
    """A ``predict`` that failed part-way: the failure, and where the results made so far
    are."""


class KeypointsFile:
    """``with KeypointsFile(folder) as out: out.add(name, keypoints)`` for every image."""

    def __init__(self, folder: Path) -> None:
        self.lines_path = folder / LINES_FILE
        self.path = folder / KEYPOINTS_RESULTS_FILE
        self.results: dict[str, Any] = {}
        self._lines: IO[str] | None = None

    def __enter__(self) -> KeypointsFile:
        self._lines = open(self.lines_path, "w", encoding="utf-8")  # closed in __exit__
        return self

    def add(self, name: str, keypoints: list) -> None:
        """Record one image's keypoints (N lists of K [x, y, score])."""
        assert self._lines is not None
        self._lines.write(
            json.dumps({"file": name, "keypoints": keypoints}, allow_nan=False) + "\n"
        )
        self._lines.flush()
        self.results[name] = keypoints

    def _write_results(self) -> None:
        temp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            temp.write_text(json.dumps(self.results, allow_nan=False), encoding="utf-8")
            os.replace(temp, self.path)
        except OSError as error:
            temp.unlink(missing_ok=True)
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        self.lines_path.unlink(missing_ok=True)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            assert self._lines is not None
            self._lines.close()
            if error is None:
                self._write_results()
        except OSError as closing:  # the last lines, or the results file, not written
            error = error or closing
        if isinstance(error, OSError):
            raise PredictionsKeptError(
                error.errno,
                f"{describe(error)}; the keypoints of the {len(self.results)} images "
                f"predicted so far are in {self.lines_path} (one JSON line per image)",
            ) from error
