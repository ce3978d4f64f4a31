"""The MPII evaluation file ``mpii_gt_val.mat``, read with errors that name it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def load_mpii_ground_truth(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read ``mpii_gt_val.mat``: positions ``pos_gt_src`` (16, 2, N) in 1-based pixels,
    ``jnt_missing`` (16, N) and head boxes ``headboxes_src`` (2, 2, N), as float64."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MPII ground-truth file not found: {path}")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises several types for a corrupt file
        raise ValueError(f"cannot read MPII ground-truth file {path}: {e}") from None
    gt = {}
    for key, shape in (("pos_gt_src", (16, 2)), ("jnt_missing", (16,)), ("headboxes_src", (2, 2))):
        value = mat.get(key)
        if value is None or np.ndim(value) != len(shape) + 1 or value.shape[:-1] != shape:
            raise ValueError(f"MPII ground-truth file {path} lacks a {(*shape, 'N')} '{key}' array")
        try:
            gt[key] = np.asarray(value, np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"MPII ground-truth file {path}: '{key}' is not numeric") from None
    n = gt["pos_gt_src"].shape[2]
    if gt["jnt_missing"].shape[1] != n or gt["headboxes_src"].shape[2] != n:
        raise ValueError(f"MPII ground-truth file {path}: arrays disagree on the record count")
    return gt
