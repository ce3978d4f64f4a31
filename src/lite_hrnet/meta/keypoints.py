"""Joint definitions of the COCO and MPII keypoint sets: names, flip pairs, skeleton, sigmas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KeypointSet:
    """A data set's joints. Indices follow the data set's own joint order."""

    name: str
    joint_names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    upper_body_ids: tuple[int, ...]
    skeleton: tuple[tuple[int, int], ...]
    # Per-joint OKS sigmas (COCO only); None where the metric is PCKh.
    sigmas: tuple[float, ...] | None = None

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def flip_index(self) -> np.ndarray:
        """Permutation (K,) mapping each joint to its mirror joint."""
        index = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return index


COCO = KeypointSet(
    name="coco",
    joint_names=(
        "nose",
        "left_eye",
        "right_eye",
        "left_ear",
        "right_ear",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
    ),
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    upper_body_ids=tuple(range(11)),
    skeleton=(
        (15, 13),
        (13, 11),
        (16, 14),
        (14, 12),
        (11, 12),
        (5, 11),
        (6, 12),
        (5, 6),
        (5, 7),
        (6, 8),
        (7, 9),
        (8, 10),
        (1, 2),
        (0, 1),
        (0, 2),
        (1, 3),
        (2, 4),
        (3, 5),
        (4, 6),
    ),
    sigmas=(
        0.026,
        0.025,
        0.025,
        0.035,
        0.035,
        0.079,
        0.079,
        0.072,
        0.072,
        0.062,
        0.062,
        0.107,
        0.107,
        0.087,
        0.087,
        0.089,
        0.089,
    ),
)

MPII = KeypointSet(
    name="mpii",
    joint_names=(
        "right_ankle",
        "right_knee",
        "right_hip",
        "left_hip",
        "left_knee",
        "left_ankle",
        "pelvis",
        "thorax",
        "upper_neck",
        "head_top",
        "right_wrist",
        "right_elbow",
        "right_shoulder",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
    ),
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    upper_body_ids=(7, 8, 9, 10, 11, 12, 13, 14, 15),
    skeleton=(
        (0, 1),
        (1, 2),
        (2, 6),
        (6, 3),
        (3, 4),
        (4, 5),
        (6, 7),
        (7, 8),
        (8, 9),
        (10, 11),
        (11, 12),
        (12, 7),
        (7, 13),
        (13, 14),
        (14, 15),
    ),
)

KEYPOINT_SETS = {s.name: s for s in (COCO, MPII)}
