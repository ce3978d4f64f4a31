"""Keypoint sets: a data set's joints as data (names, flip pairs, skeleton, OKS sigmas,
upper-body joints, joint weights), and the COCO and MPII presets.

A set comes from a COCO-format annotation file (``KeypointSet.from_coco``), from a small
YAML file (``KeypointSet.from_yaml``; ``meta.keypoint_files``) or from code. Indices are
0-based and follow the data set's own joint order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

# The OKS sigma of every joint of a set that gives none: about the mean of COCO's 17
# (0.067), the tolerance of a typical body joint. AP computed with it is not comparable
# with published numbers of the same data set.
DEFAULT_OKS_SIGMA = 0.07


@dataclass(frozen=True)
class KeypointSet:
    """A data set's joints. Every field but ``name`` and ``joint_names`` is optional.

    ``flip_pairs``: (left, right) index pairs swapped by a horizontal flip; a set without
    them trains without flips and evaluates without the flip test. ``skeleton``: index
    pairs drawn as limbs. ``sigmas`` (K,): per-joint OKS sigmas (None: COCO AP uses
    ``DEFAULT_OKS_SIGMA``). ``upper_body_ids``: the joints of half-body augmentation's
    upper half (empty: no half-body augmentation). ``joint_weights`` (K,): loss weights.
    ``named``: False when the names were made up ("0", "1", ...) for a file that gives
    none, so that nothing matches joints by them.
    """

    name: str
    joint_names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    upper_body_ids: tuple[int, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] | None = None
    joint_weights: tuple[float, ...] | None = None
    named: bool = True
    categories: tuple[str, ...] = field(default=(), compare=False)  # COCO category names

    def __post_init__(self) -> None:
        # Lists (from YAML, JSON or a checkpoint) become tuples, so that sets compare and hash.
        pairs = lambda v: tuple((int(a), int(b)) for a, b in v)  # noqa: E731
        floats = lambda v: None if v is None else tuple(float(x) for x in v)  # noqa: E731
        object.__setattr__(self, "joint_names", tuple(str(n) for n in self.joint_names))
        object.__setattr__(self, "flip_pairs", pairs(self.flip_pairs))
        object.__setattr__(self, "skeleton", pairs(self.skeleton))
        object.__setattr__(self, "upper_body_ids", tuple(int(i) for i in self.upper_body_ids))
        object.__setattr__(self, "sigmas", floats(self.sigmas))
        object.__setattr__(self, "joint_weights", floats(self.joint_weights))
        object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field whose values do not fit the K joints."""
        k = self.num_joints
        where = f"keypoint set {self.name!r}"
        if k == 0:
            raise ValueError(f"{where}: joint_names is empty; a set needs at least one joint")
        repeated = sorted({n for n in self.joint_names if self.joint_names.count(n) > 1})
        if repeated:
            raise ValueError(f"{where}: joint_names repeats {repeated}; every joint needs its own")
        for key in ("flip_pairs", "skeleton"):
            for a, b in getattr(self, key):
                if not (0 <= a < k and 0 <= b < k) or a == b:
                    raise ValueError(
                        f"{where}: {key} holds the pair {[a, b]}, outside the {k} joints "
                        f"(0-based indices 0..{k - 1}, two different joints)"
                    )
        seen = [j for pair in self.flip_pairs for j in pair]
        if len(seen) != len(set(seen)):
            raise ValueError(f"{where}: flip_pairs uses a joint in two pairs: {self.flip_pairs}")
        bad = [i for i in self.upper_body_ids if not 0 <= i < k]
        if bad:
            raise ValueError(f"{where}: upper_body_ids {bad} are outside the {k} joints")
        for key in ("sigmas", "joint_weights"):
            values = getattr(self, key)
            if values is None:
                continue
            if len(values) != k:
                raise ValueError(f"{where}: {key} has {len(values)} values for {k} joints")
            if (
                not all(np.isfinite(values))
                or min(values) < 0
                or (key == "sigmas" and min(values) == 0)
            ):
                raise ValueError(f"{where}: {key} must be finite and positive, got {list(values)}")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def has_flip_pairs(self) -> bool:
        """Whether horizontal flips (augmentation, flip test) are defined for this set."""
        return bool(self.flip_pairs)

    def flip_index(self) -> np.ndarray:
        """Permutation (K,) mapping each joint to its mirror joint."""
        index = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return index

    def oks_sigmas(self) -> np.ndarray:
        """Per-joint OKS sigmas (K,): the set's, else ``DEFAULT_OKS_SIGMA`` for each joint."""
        if self.sigmas is not None:
            return np.asarray(self.sigmas, np.float64)
        return np.full(self.num_joints, DEFAULT_OKS_SIGMA)

    def index(self, joint: str | int) -> int:
        """The index of a joint given by name or index."""
        if isinstance(joint, (int, np.integer)) and not isinstance(joint, bool):
            if not 0 <= joint < self.num_joints:
                raise ValueError(f"keypoint set {self.name!r}: no joint {joint}")
            return int(joint)
        if joint not in self.joint_names:
            raise ValueError(
                f"keypoint set {self.name!r}: no joint named {joint!r}; "
                f"joints: {', '.join(self.joint_names)}"
            )
        return self.joint_names.index(joint)

    def replace(self, **changes: Any) -> KeypointSet:
        """A copy with some fields replaced (checked again)."""
        return replace(self, **changes)

    # Serialisation (checkpoints, configs) ------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, for checkpoints and JSON."""
        out = asdict(self)
        for key in ("joint_names", "upper_body_ids", "categories"):
            out[key] = list(out[key])
        for key in ("flip_pairs", "skeleton"):
            out[key] = [list(p) for p in out[key]]
        for key in ("sigmas", "joint_weights"):
            out[key] = None if out[key] is None else list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeypointSet:
        """The inverse of ``to_dict``; unknown keys are an error that names them."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"keypoint set: unknown fields {unknown}; known: {sorted(known)}")
        return cls(**dict(data))

    # Files -------------------------------------------------------------------------------
    @classmethod
    def from_coco(
        cls,
        path: str | os.PathLike[str],
        categories: Sequence[int | str] | None = None,
    ) -> KeypointSet:
        """The set of a COCO-format keypoint file (``meta.keypoint_files.from_coco_file``):
        names and 1-based skeleton from ``categories[]``, K from the annotations where no
        names are given; ``categories`` (ids or names) picks categories of one layout."""
        from .keypoint_files import from_coco_file

        return from_coco_file(path, categories)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str], num_joints: int | None = None) -> KeypointSet:
        """The set of a keypoint YAML file (``meta.keypoint_files.from_yaml_file``):
        names, flip pairs, skeleton, sigmas, upper-body joints, joint weights; mmpose's
        dataset-info keys and Ultralytics' ``kpt_shape``/``flip_idx`` are read too."""
        from .keypoint_files import from_yaml_file

        return from_yaml_file(path, num_joints=num_joints)


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
