"""Keypoint sets read from files: a COCO-format annotation file, a keypoint YAML file.

COCO files give names (``categories[].keypoints``) and a 1-based skeleton
(``categories[].skeleton``), both optional; K then comes from the annotations' keypoint
arrays (3K numbers each). A YAML file gives what COCO files cannot::

    name: table                      # optional
    keypoints: [top_left, top_right, bottom_left, bottom_right, center]
    flip_pairs: [[top_left, top_right], [bottom_left, bottom_right]]  # [] : no flips
    skeleton: [[top_left, top_right], [0, 2]]   # names or 0-based indices
    sigmas: [0.05, 0.05, 0.05, 0.05, 0.08]      # per-joint OKS sigmas
    upper_body: [top_left, top_right]           # half-body augmentation's upper half
    joint_weights: [1, 1, 1, 1, 1.5]

Every key is optional. Ultralytics' ``kpt_shape`` (K without names), ``flip_idx`` (each
joint's mirror) and ``kpt_names`` are read too, and so is mmpose's dataset info
(``dataset_name``, ``keypoint_info`` with ``name``/``type``/``swap``, ``skeleton_info``
with ``link``, ``joint_weights``, ``sigmas``) written as YAML. Without flip pairs they are
derived from the names (``meta.flip_pairs``) and the derived table is printed once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..formats.coco import keypoint_categories
from ..formats.json_files import read_json
from .flip_pairs import derive_flip_pairs, flip_table
from .keypoints import COCO, KeypointSet

_printed: set[str] = set()

# Keys of an Ultralytics data YAML that describe other things than the joints.
_ULTRALYTICS_OTHER = {"path", "train", "val", "test", "names", "nc", "download"}
_KEYS = {
    "name",
    "keypoints",
    "joint_names",
    "kpt_names",
    "kpt_shape",
    "flip_pairs",
    "flip_idx",
    "skeleton",
    "sigmas",
    "upper_body",
    "upper_body_ids",
    "joint_weights",
    # mmpose dataset info
    "dataset_name",
    "paper_info",
    "keypoint_info",
    "skeleton_info",
}


def print_once(text: str) -> None:
    """Print ``text`` the first time this process (rank 0 only) is asked to."""
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)
    if text not in _printed and rank == 0:
        _printed.add(text)
        print(text, flush=True)


def _derived_pairs(names: Sequence[str], where: str) -> tuple[tuple[int, int], ...]:
    pairs = derive_flip_pairs(names, where)
    print_once(flip_table(names, pairs, f"{where}: flip pairs derived from the joint names"))
    return pairs


# COCO ------------------------------------------------------------------------------------
def from_coco_file(
    path: str | os.PathLike[str], categories: Sequence[int | str] | None = None
) -> KeypointSet:
    """The keypoint set of a COCO-format file; ``categories`` (ids or names) picks some.

    Several categories form one set when they share one layout (the same K, and the same
    names where they give names). A set with COCO's 17 names takes COCO's sigmas and
    upper-body joints. Raises ``ValueError`` naming the file and the field.
    """
    path = Path(path)
    data = read_json(path, "COCO annotation file")
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ValueError(
            f"COCO annotation file {path} must be an object with an 'annotations' list"
        )
    chosen = keypoint_categories(data, path, categories)
    index = {id(c): i for i, c in enumerate(data.get("categories") or [])}
    layouts = {}
    for cat in chosen:
        field = f"categories[{index.get(id(cat), '?')}]"
        names = cat.get("keypoints") or None
        if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)
        ):
            raise ValueError(f"{path}: {field}.keypoints must be a list of joint names")
        k = _annotated_joints(data["annotations"], cat["id"], names, path)
        if k is None:
            raise ValueError(
                f"{path}: category {cat.get('name', cat['id'])!r} lists no keypoint names and "
                "none of its annotations holds 'keypoints'; K cannot be told"
            )
        layouts[cat["id"]] = (k, names, field, cat)
    ks = {k for k, *_ in layouts.values()}
    named = {tuple(n) for _, n, *_ in layouts.values() if n}
    if len(ks) > 1 or len(named) > 1:
        shown = ", ".join(
            f"{c.get('name', c['id'])!r} ({k} {'named ' if n else ''}joints)"
            for k, n, _, c in layouts.values()
        )
        raise ValueError(
            f"{path}: the categories have different keypoint layouts: {shown}; pick categories "
            "of one layout (data.categories=[...], KeypointSet.from_coco(path, categories=...))"
        )
    k = ks.pop()
    has_names = bool(named)
    names = list(named.pop()) if has_names else [str(i) for i in range(k)]
    skeleton = []
    for _, _, field, cat in layouts.values():
        if cat.get("skeleton"):
            skeleton = _coco_skeleton(cat["skeleton"], k, f"{path}: {field}.skeleton")
            break
    cat_names = [str(c.get("name", c["id"])) for c in chosen]
    where = f"{path.name} ({', '.join(cat_names)})"
    fields: dict[str, Any] = {}
    if tuple(names) == COCO.joint_names:
        fields = {"sigmas": COCO.sigmas, "upper_body_ids": COCO.upper_body_ids}
        print_once(f"{where}: COCO's 17 joints, with COCO's OKS sigmas and upper-body joints")
    return KeypointSet(
        name=cat_names[0] if len(cat_names) == 1 else path.stem,
        joint_names=tuple(names),
        flip_pairs=_derived_pairs(names, where) if has_names else (),
        skeleton=tuple(skeleton),
        named=has_names,
        categories=tuple(cat_names),
        **fields,
    )


def _annotated_joints(
    annotations: list, category_id: int, names: list[str] | None, path: Path
) -> int | None:
    """K of a category's annotations (3K numbers each); None when none holds keypoints."""
    k = len(names) if names else None
    first = None
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict) or ann.get("category_id", 1) != category_id:
            continue
        values = ann.get("keypoints")
        if not values:
            continue
        where = f"{path}: annotations[{i}] (id {ann.get('id')!r}) 'keypoints'"
        if not isinstance(values, list) or len(values) % 3:
            size = len(values) if isinstance(values, list) else type(values).__name__
            raise ValueError(f"{where} has {size} values, not [x, y, v] per joint (3K)")
        if k is None:
            k, first = len(values) // 3, i
        elif len(values) != 3 * k:
            told = (
                f"its category lists {k} keypoint names"
                if names
                else f"annotations[{first}] has {3 * k}"
            )
            raise ValueError(
                f"{where} has {len(values)} values, but {told} (3K = {3 * k} expected)"
            )
    return k


def _coco_skeleton(skeleton: Any, k: int, where: str) -> list[tuple[int, int]]:
    """COCO's 1-based limb pairs -> 0-based, checked against K."""
    if not isinstance(skeleton, list):
        raise ValueError(f"{where} must be a list of [a, b] pairs of 1-based joint indices")
    out = []
    for pair in skeleton:
        ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int) for v in pair)
        if not ok or not all(1 <= v <= k for v in pair):
            raise ValueError(
                f"{where} holds {pair!r}: pairs of 1-based joint indices run 1..{k} for {k} joints"
            )
        out.append((pair[0] - 1, pair[1] - 1))
    return out


# YAML ------------------------------------------------------------------------------------
def from_yaml_file(
    path: str | os.PathLike[str],
    num_joints: int | None = None,
    base: KeypointSet | None = None,
) -> KeypointSet:
    """The keypoint set of a YAML file (see the module's docstring).

    ``base`` (e.g. the set read from the COCO file) gives what the YAML leaves out;
    ``num_joints`` is K when neither gives names. Raises ``ValueError`` naming the file and
    the key.
    """
    path = Path(path)
    raw = _read_yaml(path)
    unknown = sorted(set(raw) - _KEYS - _ULTRALYTICS_OTHER)
    if unknown:
        raise ValueError(f"{path}: unknown keys {unknown}; known: {sorted(_KEYS)}")
    if "keypoint_info" in raw:
        raw = _from_mmpose(raw, path)
    names = _names(raw, path)
    k = len(names) if names else None
    if "kpt_shape" in raw:
        shape = raw["kpt_shape"]
        if not (isinstance(shape, list) and shape and isinstance(shape[0], int) and shape[0] > 0):
            raise ValueError(f"{path}: kpt_shape must be [K, 2 or 3], got {shape!r}")
        if k is not None and shape[0] != k:
            raise ValueError(f"{path}: kpt_shape says {shape[0]} joints but {k} names are given")
        k = shape[0]
    if base is not None:
        if names and base.named and tuple(names) != base.joint_names:
            raise ValueError(
                f"{path}: the keypoint names differ from the annotation file's "
                f"({', '.join(base.joint_names)})"
            )
        if k is not None and k != base.num_joints:
            raise ValueError(
                f"{path}: {k} joints, but the annotation file has {base.num_joints} per instance"
            )
        k = base.num_joints
    k = k if k is not None else num_joints
    if k is None:
        raise ValueError(f"{path}: give the joint names ('keypoints') or kpt_shape: [K, 3]")
    named = bool(names) or (base is not None and base.named)
    names = names or (list(base.joint_names) if base is not None else [str(i) for i in range(k)])

    def joint(value: Any, key: str) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < k:
                raise ValueError(f"{path}: {key} holds {value}: 0-based indices run 0..{k - 1}")
            return value
        if isinstance(value, str) and value in names:
            return names.index(value)
        raise ValueError(
            f"{path}: {key} holds {value!r}, which is neither a joint name nor an index"
        )

    def pairs(key: str) -> tuple[tuple[int, int], ...]:
        value = raw[key]
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in value
        ):
            raise ValueError(f"{path}: {key} must be a list of [a, b] pairs")
        return tuple((joint(a, key), joint(b, key)) for a, b in value)

    def numbers(key: str) -> tuple[float, ...]:
        value = raw[key]
        ok = isinstance(value, list) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        )
        if not ok or len(value) != k:
            raise ValueError(f"{path}: {key} must be {k} numbers, one per joint, got {value!r:.80}")
        return tuple(float(v) for v in value)

    fields: dict[str, Any] = {} if base is None else base.to_dict()
    fields.update(name=raw.get("name", raw.get("dataset_name", fields.get("name", path.stem))))
    fields.update(joint_names=names, named=named)
    if "flip_pairs" in raw:
        fields["flip_pairs"] = pairs("flip_pairs")
    elif "flip_idx" in raw:
        fields["flip_pairs"] = _flip_idx_pairs(raw["flip_idx"], k, path)
    elif named and (base is None or not base.named):  # names this file gives first
        fields["flip_pairs"] = _derived_pairs(names, path.name)
    if "skeleton" in raw:
        fields["skeleton"] = pairs("skeleton")
    for key in ("upper_body", "upper_body_ids"):
        if key in raw:
            if not isinstance(raw[key], list):
                raise ValueError(f"{path}: {key} must be a list of joints")
            fields["upper_body_ids"] = tuple(joint(v, key) for v in raw[key])
    for key in ("sigmas", "joint_weights"):
        if key in raw:
            fields[key] = numbers(key)
    try:
        return KeypointSet(**fields)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # PyYAML: the training extra's (via Hydra); reading sets from code needs it

    if not path.is_file():
        raise FileNotFoundError(f"keypoint YAML file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"keypoint YAML file {path} is not valid YAML: {e}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"keypoint YAML file {path} must be a mapping of keys")
    return raw


def _names(raw: Mapping[str, Any], path: Path) -> list[str] | None:
    for key in ("keypoints", "joint_names", "kpt_names"):
        value = raw.get(key)
        if value is None:
            continue
        if key == "kpt_names" and isinstance(value, dict):  # Ultralytics: per class
            lists = list(value.values())
            if len(lists) != 1:
                raise ValueError(f"{path}: kpt_names gives names for several classes; keep one")
            value = lists[0]
        if not (isinstance(value, list) and all(isinstance(n, str) for n in value)):
            raise ValueError(f"{path}: {key} must be a list of joint names")
        return list(value)
    return None


def _flip_idx_pairs(flip_idx: Any, k: int, path: Path) -> tuple[tuple[int, int], ...]:
    """Ultralytics' ``flip_idx`` (each joint's mirror, K entries) -> pairs."""
    ok = isinstance(flip_idx, list) and len(flip_idx) == k
    ok = ok and all(isinstance(j, int) and 0 <= j < k for j in flip_idx)
    if not ok or any(flip_idx[j] != i for i, j in enumerate(flip_idx)):
        raise ValueError(
            f"{path}: flip_idx must give each of the {k} joints its mirror's 0-based index "
            f"(a permutation that is its own inverse), got {flip_idx!r:.120}"
        )
    return tuple((i, j) for i, j in enumerate(flip_idx) if i < j)


def _from_mmpose(raw: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """mmpose's dataset info -> this module's keys."""
    info = raw["keypoint_info"]
    if not isinstance(info, dict) or not all(isinstance(v, dict) for v in info.values()):
        raise ValueError(f"{path}: keypoint_info must map ids to {{name, id, type, swap}}")
    entries = sorted(info.values(), key=lambda v: v.get("id", 0))
    names = [str(e.get("name", "")) for e in entries]
    if "" in names:
        raise ValueError(f"{path}: every keypoint_info entry needs a name")
    out = {k: v for k, v in raw.items() if k not in ("keypoint_info", "skeleton_info")}
    out["keypoints"] = names
    swaps = [(e["name"], e["swap"]) for e in entries if e.get("swap")]
    bad = [s for _, s in swaps if s not in names]
    if bad:
        raise ValueError(f"{path}: keypoint_info swap names unknown joints {bad}")
    out.setdefault("flip_pairs", [[a, b] for a, b in swaps if names.index(a) < names.index(b)])
    out.setdefault("upper_body", [e["name"] for e in entries if e.get("type") == "upper"])
    links = raw.get("skeleton_info") or {}
    if not isinstance(links, dict):
        raise ValueError(f"{path}: skeleton_info must map ids to {{link: [a, b]}}")
    out.setdefault("skeleton", [list(v.get("link", ())) for v in links.values()])
    return out
