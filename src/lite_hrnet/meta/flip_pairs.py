"""Flip pairs derived from joint names, and their printed table.

A joint's name marks its side with one word of its name: ``left``/``right`` anywhere
(``left_eye``, ``front_left_leg``, ``eye_right``, ``leftEye``), or a single letter
``l``/``r`` set apart by a separator or by case (``l_eye``, ``eye_r``, ``eye_L``,
``eyeL``, ``LEye``). Its mirror is the same name with that word swapped, in the same
case. A joint with no side word is its own mirror.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Words: runs of capitals not followed by a lower-case letter (``L`` in ``LEye``), a word
# with an optional capital first letter, digits, and the separators between them.
_TOKENS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^A-Za-z0-9]+")
_MIRROR = {"left": "right", "right": "left", "l": "r", "r": "l"}


def _swap_case(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like[0].isupper():
        return word.capitalize()
    return word


def _mirrors(name: str) -> list[str]:
    """Every name that swaps one side word of ``name`` (none: it names no side)."""
    tokens = _TOKENS.findall(name)
    out = []
    for i, token in enumerate(tokens):
        other = _MIRROR.get(token.lower())
        if other is None:
            continue
        out.append("".join([*tokens[:i], _swap_case(other, token), *tokens[i + 1 :]]))
    return out


def derive_flip_pairs(
    names: Sequence[str], where: str = "keypoint set"
) -> tuple[tuple[int, int], ...]:
    """(left, right)-ordered index pairs of the joints whose names mirror each other.

    Raises ``ValueError`` naming the joints when the names cannot be paired: a side word
    whose mirror is not a joint, or a joint whose name allows several mirrors.
    """
    index = {n: i for i, n in enumerate(names)}
    partner: dict[int, int] = {}
    unpaired: list[str] = []
    ambiguous: list[str] = []
    for i, name in enumerate(names):
        mirrors = _mirrors(name)
        if not mirrors:
            continue
        found = sorted({index[m] for m in mirrors if m in index and index[m] != i})
        if not found:
            unpaired.append(f"{name!r} (no {' or '.join(repr(m) for m in mirrors)})")
        elif len(found) > 1:
            ambiguous.append(f"{name!r} ({' or '.join(repr(names[j]) for j in found)})")
        else:
            partner[i] = found[0]
    one_way = [
        f"{names[i]!r} -> {names[j]!r} but {names[j]!r} -> "
        f"{repr(names[partner[j]]) if j in partner else 'none'}"
        for i, j in partner.items()
        if partner.get(j) != i
    ]
    problems = []
    if ambiguous:
        problems.append(f"names that could mirror several joints: {', '.join(ambiguous)}")
    if one_way:
        problems.append(f"names that do not mirror each other: {', '.join(one_way)}")
    if unpaired:
        problems.append(f"sided names without a partner: {', '.join(unpaired)}")
    if problems:
        raise ValueError(
            f"{where}: cannot derive flip pairs from the joint names; "
            + "; ".join(problems)
            + ". Give flip_pairs in a keypoint YAML file (data.keypoints=FILE); "
            "flip_pairs: [] trains without flips"
        )
    pairs = []
    for i, j in sorted(partner.items()):
        if i < j:
            left = i if _is_left(names[i]) else j
            pairs.append((left, j if left == i else i))
    return tuple(pairs)


def _is_left(name: str) -> bool:
    return any(t.lower() in ("left", "l") for t in _TOKENS.findall(name))


def flip_table(names: Sequence[str], pairs: Sequence[tuple[int, int]], title: str) -> str:
    """A printed table of flip pairs: one ``index name <-> index name`` line per pair."""
    if not pairs:
        return f"{title}: no flip pairs"
    width = max(len(names[a]) for a, _ in pairs)
    lines = [f"{title}:"]
    lines += [f"  {a:>3} {names[a]:<{width}} <-> {b:>3} {names[b]}" for a, b in pairs]
    return "\n".join(lines)
