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
``check_hash`` is not passed (the command line, Hydra runs). A file that was cached with
the check off is checked when it is next asked for with the check on; one that fails is
removed and fetched again.

A transfer has a deadline and a minimum average rate (``DownloadLimits``; the environment
variables ``LITE_HRNET_DOWNLOAD_DEADLINE`` in seconds and ``LITE_HRNET_DOWNLOAD_MIN_RATE``
in bytes per second move them), so a mirror that trickles a byte now and then fails
instead of hanging. ``download_file`` is that downloader on its own, for other published
files (the person detectors of ``lite_hrnet.inference.detection``). Stdlib and torch only.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .variants import VARIANTS, PretrainedWeights, variant_info

MIRROR_ENV = "LITE_HRNET_WEIGHTS_MIRROR"
CHECK_HASH_ENV = "LITE_HRNET_CHECK_HASH"
DEADLINE_ENV = "LITE_HRNET_DOWNLOAD_DEADLINE"
MIN_RATE_ENV = "LITE_HRNET_DOWNLOAD_MIN_RATE"
_CHUNK = 1 << 16


@dataclass(frozen=True)
class DownloadLimits:
    """How long a download may take. ``read_timeout_s`` bounds the connection and each
    wait for data; ``deadline_s`` the whole transfer; ``min_rate`` (bytes/s) the average
    rate once ``grace_s`` seconds have passed (a mirror that sends a byte every 20 s
    never trips the read timeout, but does trip this)."""

    read_timeout_s: float = 30.0
    deadline_s: float = 900.0
    min_rate: float = 10_000.0
    grace_s: float = 30.0

    @classmethod
    def from_env(cls) -> DownloadLimits:
        """The defaults, with ``LITE_HRNET_DOWNLOAD_DEADLINE`` (s) and
        ``LITE_HRNET_DOWNLOAD_MIN_RATE`` (bytes/s, 0 for none) where set."""
        limits = cls()
        deadline = _env_number(DEADLINE_ENV, limits.deadline_s)
        rate = _env_number(MIN_RATE_ENV, limits.min_rate)
        if not (deadline > 0 and rate >= 0):  # NaN included
            raise ValueError(
                f"{DEADLINE_ENV} must be > 0 and {MIN_RATE_ENV} >= 0, got {deadline} and {rate}"
            )
        return cls(min(limits.read_timeout_s, deadline), deadline, rate, limits.grace_s)


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None


class WeightsDownloadError(OSError):
    """Published weights that could not be fetched or failed their check."""


# Weights named by a source, ``"hf-hub:org/name"``: the prefix's resolver gives the local
# weights file. ``lite_hrnet.sharing`` registers "hf-hub:" on import (``import lite_hrnet``
# does it), so that this layer needs neither huggingface_hub nor the upper layers.
_SOURCES: dict[str, Callable[[str], Path]] = {}


def register_weights_source(prefix: str, resolve: Callable[[str], Path]) -> None:
    """Resolve ``pretrained="<prefix><rest>"`` with ``resolve(<rest>)`` -> local weights file."""
    _SOURCES[prefix] = resolve


def is_weights_source(pretrained: object) -> bool:
    """Whether ``pretrained`` names a source (``"hf-hub:org/name"``) rather than a tag."""
    return isinstance(pretrained, str) and pretrained.startswith(tuple(_SOURCES))


def weights_source_file(pretrained: object) -> Path | None:
    """The local weights file of a source name such as ``"hf-hub:org/name"`` (fetched by
    its resolver), or None for a tag, True, False or None."""
    if not isinstance(pretrained, str):
        return None
    for prefix, resolve in _SOURCES.items():
        if pretrained.startswith(prefix):
            return resolve(pretrained[len(prefix) :])
    return None


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
    return mirrored_url(weights.url)


def mirrored_url(url: str) -> str:
    """``url``, or ``$LITE_HRNET_WEIGHTS_MIRROR/<its file name>`` when that is set."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    return f"{mirror.rstrip('/')}/{url.rsplit('/', 1)[-1]}" if mirror else url


def cache_dir() -> Path:
    """The torch hub checkpoint cache (``$TORCH_HOME/hub/checkpoints`` by default)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def hash_check_on(check_hash: bool | None) -> bool:
    """``check_hash`` where given, else whether ``LITE_HRNET_CHECK_HASH`` leaves it on."""
    if check_hash is not None:
        return check_hash
    return os.environ.get(CHECK_HASH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def download_pretrained(
    variant: str,
    tag: str | bool,
    *,
    check_hash: bool | None = None,
    progress: bool = True,
    limits: DownloadLimits | None = None,
) -> Path:
    """The local path of the published weights ``tag`` of ``variant``, downloaded into
    ``cache_dir()`` unless there already. ``check_hash`` (default: on, unless
    ``LITE_HRNET_CHECK_HASH=0``) compares the SHA-256 with the prefix in the file name,
    of a cached file too (one that fails is removed and fetched again). ``limits``
    (default: ``DownloadLimits.from_env()``) bound the transfer."""
    weights = pretrained_weights(variant, tag)
    path = cache_dir() / weights.file_name
    name = f"{variant}.{weights.tag}"
    expected = weights.sha256_prefix if hash_check_on(check_hash) else None
    if path.is_file():
        if expected is None or _sha256(path).startswith(expected):
            return path
        warnings.warn(
            f"{name}: the cached {path} does not have the SHA-256 its name says "
            f"({expected}...; it was cached with the check off); removed and fetched again",
            stacklevel=2,
        )
        path.unlink()
    download_file(
        weights_url(weights),
        path,
        name=name,
        sha256_prefix=expected,
        progress=progress,
        limits=limits,
        advice=_advice(path),
    )
    return path


def download_file(
    url: str,
    path: Path,
    *,
    name: str,
    sha256_prefix: str | None = None,
    progress: bool = True,
    limits: DownloadLimits | None = None,
    advice: str = "",
    hash_source: str = "its name says",
) -> Path:
    """Fetch ``url`` into ``path`` through a temporary file beside it, renamed into place
    only once its length (``Content-Length``) and, where ``sha256_prefix`` is given, its
    SHA-256 are checked; a ``WeightsDownloadError`` otherwise, which starts with ``name``
    and ends with ``advice`` (what the user can do instead). ``limits`` (default:
    ``DownloadLimits.from_env()``) bound the transfer; ``progress`` draws a bar on stderr.
    ``hash_source`` words where ``sha256_prefix`` comes from in the mismatch error. Callers
    pass ``mirrored_url(url)`` to honour ``LITE_HRNET_WEIGHTS_MIRROR``."""
    limits = limits or DownloadLimits.from_env()
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(path, limits)
    _download(name, url, path, sha256_prefix, progress, limits, advice, hash_source)
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_stale_parts(path: Path, limits: DownloadLimits) -> None:
    """Temporary files of downloads that were killed (their ``finally`` never ran): any
    older than the transfer deadline belongs to no live download."""
    cutoff = time.time() - limits.deadline_s - limits.read_timeout_s
    for part in path.parent.glob(f"{path.name}.*.part"):
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < cutoff:
                part.unlink()


def _advice(path: Path) -> str:
    return (
        f"Download it yourself (or set {MIRROR_ENV} to a mirror holding {path.name}) and "
        f"pass checkpoint_path=FILE (--checkpoint FILE on the command line), or place it "
        f"at {path}."
    )


def _download(
    name: str,
    url: str,
    path: Path,
    sha256_prefix: str | None,
    progress: bool,
    limits: DownloadLimits,
    advice: str,
    hash_source: str,
) -> None:
    """``url`` into ``path`` through a temporary file beside it, renamed once checked."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size, expected_size = _fetch(name, url, path, out, progress, limits, advice)
        if expected_size is not None and size != expected_size:
            raise WeightsDownloadError(
                f"{name}: the download from {url} stopped after {size:,} of {expected_size:,} "
                f"bytes (truncated; nothing was kept). Try again. {advice}"
            )
        if sha256_prefix is not None and not digest.startswith(sha256_prefix):
            raise WeightsDownloadError(
                f"{name}: the file from {url} has SHA-256 {digest[: len(sha256_prefix)]}..., "
                f"{hash_source} {sha256_prefix}...; it was not kept in the cache. If you trust "
                f"this file, turn the check off: check_hash=False in Python, "
                f"{CHECK_HASH_ENV}=0 for the command line and Hydra runs. {advice}"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fetch(
    name: str, url: str, path: Path, out, progress: bool, limits: DownloadLimits, advice: str
) -> tuple[str, int, int | None]:
    """Stream ``url`` into ``out``: (SHA-256 hex digest, bytes read, Content-Length)."""
    digest = hashlib.sha256()
    size = 0
    start = time.monotonic()
    try:
        response = urllib.request.urlopen(url, timeout=limits.read_timeout_s)
    except urllib.error.HTTPError as e:
        raise WeightsDownloadError(
            f"{name}: {url} answered HTTP {e.code} ({e.reason}). {advice}"
        ) from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        if isinstance(reason, TimeoutError):
            what = f"no answer within {limits.read_timeout_s:g} s"
        else:
            what = f"{reason}; no network, or the host is unreachable"
        raise WeightsDownloadError(f"{name}: cannot download {url} ({what}). {advice}") from e
    with response:
        length = response.headers.get("Content-Length")
        expected_size = int(length) if length and length.isdigit() else None
        bar = _ProgressBar(path.name, expected_size) if progress else None
        try:
            # read1: whatever one read of the socket gives, so that the limits are
            # checked while a slow server trickles (read(n) waits for all n bytes).
            while chunk := response.read1(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if bar is not None:
                    bar.update(size)
                _check_pace(name, url, size, time.monotonic() - start, limits, advice)
        except TimeoutError as e:
            raise WeightsDownloadError(
                f"{name}: {url} answered, then stalled: no data for "
                f"{limits.read_timeout_s:g} s after {size:,} bytes. Try again later. "
                f"{advice}"
            ) from e
        except OSError as e:
            if isinstance(e, WeightsDownloadError):
                raise
            raise WeightsDownloadError(
                f"{name}: the connection to {url} broke after {size:,} bytes ({e}). Try "
                f"again. {advice}"
            ) from e
        finally:
            if bar is not None:
                bar.close()
    return digest.hexdigest(), size, expected_size


def _check_pace(
    name: str, url: str, size: int, elapsed: float, limits: DownloadLimits, advice: str
) -> None:
    """A ``WeightsDownloadError`` once the transfer is past its deadline, or slower than
    the minimum rate after the grace period."""
    if elapsed > limits.deadline_s:
        raise WeightsDownloadError(
            f"{name}: the download from {url} did not finish within {limits.deadline_s:g} s "
            f"({size:,} bytes so far; {DEADLINE_ENV} sets the limit). {advice}"
        )
    if elapsed > limits.grace_s and size < limits.min_rate * elapsed:
        raise WeightsDownloadError(
            f"{name}: the download from {url} is too slow: {size:,} bytes in {elapsed:.0f} s, "
            f"under the minimum of {limits.min_rate:g} bytes/s ({MIN_RATE_ENV} sets it). "
            f"{advice}"
        )


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
