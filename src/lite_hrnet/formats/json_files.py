"""JSON annotation files read with errors that name the file and the problem."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

# What ``predict pose`` writes for still images: {file name: (N, K, 3) keypoints}.
KEYPOINTS_RESULTS_FILE = "keypoints.json"
# Decimals of the pixels and scores that prediction files keep.
PREDICTION_DECIMALS = 2


def read_json(path: str | os.PathLike[str], what: str) -> object:
    """Load a JSON file, turning a missing or broken file into a message that names it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{what} {path} is not valid JSON (truncated or malformed): {e.msg} at line "
            f"{e.lineno}, column {e.colno}"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} {path} is not a UTF-8 text file") from None


def json_numbers(values: np.ndarray, decimals: int) -> list:
    """``values`` rounded, as nested lists, with ``None`` (JSON null) for NaN and infinite
    numbers: strict JSON parsers refuse the ``NaN`` that ``json.dumps`` writes."""
    values = np.asarray(values, np.float64)
    return np.where(np.isfinite(values), values.round(decimals), None).tolist()
