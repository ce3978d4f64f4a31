"""Published weights by name: ``lite_hrnet_18.coco_256x192`` and the like, timm style.

``list_pretrained`` lists the tags of every variant (``VariantInfo.pretrained``);
``pretrained_weights`` resolves a tag (``True`` is the variant's first);
``download_pretrained`` fetches a file into the torch hub cache
(``torch.hub.get_dir()/checkpoints``, moved by ``TORCH_HOME``) and returns its path.

A download goes to a temporary file beside its destination, is checked (its length
against ``Content-Length``, its SHA-256 against the prefix in mmpose's file names, which
``torch.hub``'s own check does not recognise because a date follows the hash) and only
then renamed into place, so the cache never holds a partial or unverified file.
``LITE_HRNET_WEIGHTS_MIRROR=<base URL>`` fetches ``<base URL>/<file name>`` instead (an
air-gapped cluster's mirror); ``LITE_HRNET_CHECK_HASH=0`` turns the hash check off where
``check_hash`` is not passed (the command line, Hydra runs). Stdlib and torch only.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import torch

from .variants import VARIANTS, PretrainedWeights, variant_info

MIRROR_ENV = "LITE_HRNET_WEIGHTS_MIRROR"
CHECK_HASH_ENV = "LITE_HRNET_CHECK_HASH"
_CHUNK = 1 << 16
_TIMEOUT_S = 30.0


class WeightsDownloadError(OSError):
    """Published weights that could not be fetched or failed their check."""


def list_pretrained(pattern: str = "*") -> list[str]:
    """Sorted ``<variant>.<tag>`` names of the published weights matching ``pattern``."""
    names = (f"{v}.{w.tag}" for v, info in VARIANTS.items() for w in info.pretrained)
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def pretrained_weights(variant: str, tag: str | bool) -> PretrainedWeights:
    """The published weights ``tag`` of ``variant``: ``"coco_256x192"``, the full name
    ``"lite_hrnet_18.coco_256x192"``, or ``True`` for the variant's default (its first)."""
    info = variant_info(variant)
    known = ", ".join(w.tag for w in info.pretrained) or "none"
    if tag is True:
        if not info.pretrained:
            raise ValueError(f"{variant} has no published weights")
        return info.pretrained[0]
    if not isinstance(tag, str):
        raise ValueError(f"pretrained: a tag or True, got {tag!r}")
    name, dot, short = tag.rpartition(".")
    if dot and name != variant:
        raise ValueError(f"pretrained={tag!r} is a tag of {name}, not of {variant}")
    for weights in info.pretrained:
        if weights.tag == short:
            return weights
    raise ValueError(
        f"{variant} has no published weights {short!r}; its tags: {known} "
        "(lite_hrnet.list_pretrained() lists all)"
    )


def check_fits(
    variant: str,
    weights: PretrainedWeights,
    num_joints: int | None = None,
    input_size: Sequence[int] | None = None,
) -> None:
    """A ValueError when ``weights`` were trained for another joint count or input (H, W)."""
    name = f"{variant}.{weights.tag}"
    if num_joints is not None and num_joints != weights.num_joints:
        raise ValueError(
            f"{name} has a {weights.num_joints}-joint {weights.dataset} head, not "
            f"{num_joints} joints: ask for num_joints={weights.num_joints}, or pick another tag "
            f"({', '.join(list_pretrained(variant + '.*'))})"
        )
    if input_size is not None and tuple(input_size) != weights.input_size:
        h, w = weights.input_size
        raise ValueError(
            f"{name} was trained at input {h}x{w}, not {input_size[0]}x{input_size[1]}: "
            f"use input {h}x{w}, or pick another tag ({', '.join(list_pretrained(variant + '.*'))})"
        )


def weights_url(weights: PretrainedWeights) -> str:
    """Where ``weights`` are fetched from: ``$LITE_HRNET_WEIGHTS_MIRROR/<file name>`` when
    that is set, else the publisher's URL."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{weights.file_name}" if mirror else weights.url


def cache_dir() -> Path:
    """The torch hub checkpoint cache (``$TORCH_HOME/hub/checkpoints`` by default)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _hash_check_on(check_hash: bool | None) -> bool:
    if check_hash is not None:
        return check_hash
    return os.environ.get(CHECK_HASH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def download_pretrained(
    variant: str,
    tag: str | bool,
    *,
    check_hash: bool | None = None,
    progress: bool = True,
) -> Path:
    """The local path of the published weights ``tag`` of ``variant``, downloaded into
    ``cache_dir()`` unless there already. ``check_hash`` (default: on, unless
    ``LITE_HRNET_CHECK_HASH=0``) compares the SHA-256 with the prefix in the file name."""
    weights = pretrained_weights(variant, tag)
    path = cache_dir() / weights.file_name
    if path.is_file():
        return path
    name = f"{variant}.{weights.tag}"
    url = weights_url(weights)
    expected = weights.sha256_prefix if _hash_check_on(check_hash) else None
    path.parent.mkdir(parents=True, exist_ok=True)
    _download(name, url, path, expected, progress)
    return path


def _advice(path: Path) -> str:
    return (
        f"Download it yourself (or set {MIRROR_ENV} to a mirror holding {path.name}) and "
        f"pass checkpoint_path=FILE (--checkpoint FILE on the command line), or place it "
        f"at {path}."
    )


def _download(name: str, url: str, path: Path, sha256_prefix: str | None, progress: bool) -> None:
    """``url`` into ``path`` through a temporary file beside it, renamed once checked."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size, expected_size = _fetch(name, url, path, out, progress)
        if expected_size is not None and size != expected_size:
            raise WeightsDownloadError(
                f"{name}: the download from {url} stopped after {size:,} of {expected_size:,} "
                f"bytes (truncated; nothing was kept). Try again. {_advice(path)}"
            )
        if sha256_prefix is not None and not digest.startswith(sha256_prefix):
            raise WeightsDownloadError(
                f"{name}: the file from {url} has SHA-256 {digest[: len(sha256_prefix)]}..., "
                f"its name says {sha256_prefix}...; it was not kept in the cache. If you trust "
                f"this file, turn the check off: check_hash=False in Python, "
                f"{CHECK_HASH_ENV}=0 for the command line and Hydra runs. {_advice(path)}"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fetch(name: str, url: str, path: Path, out, progress: bool) -> tuple[str, int, int | None]:
    """Stream ``url`` into ``out``: (SHA-256 hex digest, bytes read, Content-Length)."""
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            expected_size = int(length) if length and length.isdigit() else None
            bar = _ProgressBar(path.name, expected_size) if progress else None
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if bar is not None:
                    bar.update(size)
            if bar is not None:
                bar.close()
    except urllib.error.HTTPError as e:
        raise WeightsDownloadError(
            f"{name}: {url} answered HTTP {e.code} ({e.reason}). {_advice(path)}"
        ) from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise WeightsDownloadError(
            f"{name}: cannot download {url} ({reason}); no network, or the host is "
            f"unreachable. {_advice(path)}"
        ) from e
    return digest.hexdigest(), size, expected_size


class _ProgressBar:
    """One line on stderr: file name, MB done of MB total and percent."""

    def __init__(self, label: str, total: int | None) -> None:
        self.label, self.total, self.shown = label, total, -1

    def update(self, done: int) -> None:
        mb = done / 2**20
        if self.total:
            percent = 100 * done // self.total
            if percent == self.shown:
                return
            self.shown = percent
            text = f"{mb:.1f}/{self.total / 2**20:.1f} MB {percent:3d}%"
        else:
            text = f"{mb:.1f} MB"
        sys.stderr.write(f"\rdownloading {self.label}: {text}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()
