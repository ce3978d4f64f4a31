"""Published person detectors by tag: OpenMMLab's ONNX exports (mmdeploy's end2end graphs,
NMS included) of RTMDet and YOLOX, Apache-2.0, as rtmlib and RTMPose use them.

Each is a zip holding ``end2end.onnx``. ``download_detector`` fetches the zip with the pose
weights' downloader (``lite_hrnet.models.hub.download_file``: progress bar,
``LITE_HRNET_WEIGHTS_MIRROR``, ``DownloadLimits``, ``WeightsDownloadError``) into the same
cache (``torch.hub.get_dir()/checkpoints``), takes ``end2end.onnx`` out of it as
``<zip name>.onnx`` and removes the zip; the ``.onnx`` is reused on later calls.

Hashes: the 8 hex digits in these names are the start of the SHA-256 of the ``.pth``
checkpoint the ONNX file was exported from, not of the zip, and OpenMMLab publishes no
hash of the zips. So ``sha256_prefix`` is ``None`` for every published entry and the
download is not hash-checked (a note on stderr says so); the length, the zip's own CRC-32
of ``end2end.onnx`` and ONNX Runtime's parse of the file are checked. An entry with a
known ``sha256_prefix`` (of the zip) is checked like the pose weights.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..models.hub import (
    MIRROR_ENV,
    DownloadLimits,
    WeightsDownloadError,
    cache_dir,
    download_file,
    hash_check_on,
    mirrored_url,
)

_ONNX_SDK = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/onnx_sdk/"
_MEMBER = "end2end.onnx"
# ONNX files are protobufs, which cannot exceed 2 GiB; anything larger is not a detector.
_MAX_ONNX_BYTES = 2**31


@dataclass(frozen=True)
class PublishedDetector:
    """One published detector. ``input_size`` (H, W) is the export's fixed input;
    ``published_ap`` is box AP as its publisher reports it, on ``ap_on``.
    ``sha256_prefix``: the start of the zip's SHA-256 where known, else ``None`` (not
    checked; see the module docstring)."""

    tag: str
    family: str  # a key of lite_hrnet.inference.detection.FAMILIES
    url: str
    input_size: tuple[int, int]
    trained_on: str
    published_ap: float
    ap_on: str
    sha256_prefix: str | None = None

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def onnx_name(self) -> str:
        """The name of the unpacked ``end2end.onnx`` in the cache."""
        return self.file_name.removesuffix(".zip") + ".onnx"


def _rtmdet(tag: str, file: str, size: int, ap: float) -> PublishedDetector:
    return PublishedDetector(
        tag, "rtmdet", _ONNX_SDK + file, (size, size), "COCO + Objects365, person", ap,
        "COCO val2017, person",
    )  # fmt: skip


def _yolox(tag: str, file: str, size: int, ap: float) -> PublishedDetector:
    return PublishedDetector(
        tag, "yolox", _ONNX_SDK + file, (size, size), "Human-Art (real and drawn people)", ap,
        "Human-Art validation",
    )  # fmt: skip


# mmpose projects/rtmpose/README.md (RTMDet person: the pipeline table; YOLOX: the
# Human-Art detector table, whose AP column is headed "OneHand10K" by mistake: the configs
# evaluate on Human-Art's validation set); the zips and input sizes as rtmlib lists them.
DETECTORS: dict[str, PublishedDetector] = {
    d.tag: d
    for d in (
        _rtmdet("rtmdet_nano", "rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.zip", 320, 40.3),
        _rtmdet("rtmdet_m", "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.zip", 640, 62.5),
        _yolox("yolox_nano_humanart", "yolox_nano_8xb8-300e_humanart-40f6f0d0.zip", 416, 38.9),
        _yolox("yolox_tiny_humanart", "yolox_tiny_8xb8-300e_humanart-6f3252f9.zip", 416, 47.7),
        _yolox("yolox_s_humanart", "yolox_s_8xb8-300e_humanart-3ef259a7.zip", 640, 54.6),
        _yolox("yolox_m_humanart", "yolox_m_8xb8-300e_humanart-c2c7a14a.zip", 640, 59.1),
        _yolox("yolox_l_humanart", "yolox_l_8xb8-300e_humanart-ce1d7a62.zip", 640, 60.2),
        _yolox("yolox_x_humanart", "yolox_x_8xb8-300e_humanart-a39d44ed.zip", 640, 61.3),
    )
}
DEFAULT_DETECTOR = "rtmdet_nano"


def list_detectors() -> list[str]:
    """The tags of the published person detectors, sorted."""
    return sorted(DETECTORS)


def published_detector(tag: str) -> PublishedDetector:
    """The entry of ``tag``; a ValueError listing the tags when there is none."""
    try:
        return DETECTORS[tag]
    except KeyError:
        raise ValueError(
            f"no published detector {tag!r}; the tags: {', '.join(list_detectors())}"
        ) from None


def download_detector(
    tag: str,
    *,
    check_hash: bool | None = None,
    progress: bool = True,
    limits: DownloadLimits | None = None,
) -> Path:
    """The local path of the ONNX file of the published detector ``tag``: the cached one,
    or the zip downloaded (from ``$LITE_HRNET_WEIGHTS_MIRROR/<zip name>`` when that is
    set), its ``end2end.onnx`` unpacked beside it and the zip removed. ``check_hash``
    (default: on, unless ``LITE_HRNET_CHECK_HASH=0``) applies where the entry has a
    ``sha256_prefix``."""
    entry = published_detector(tag)
    onnx_path = cache_dir() / entry.onnx_name
    if onnx_path.is_file():
        return onnx_path
    zip_path = cache_dir() / entry.file_name
    advice = (
        f"Download {entry.url} yourself (or set {MIRROR_ENV} to a mirror holding "
        f"{entry.file_name}) and pass the end2end.onnx inside it as the detector's path, or "
        f"place the zip at {zip_path}."
    )
    if not zip_path.is_file():
        expected = entry.sha256_prefix if hash_check_on(check_hash) else None
        if progress and entry.sha256_prefix is None:
            sys.stderr.write(
                f"{tag}: {entry.file_name} is not hash-checked (its publisher gives no hash "
                "of the zip; the digits in its name are of the .pth it was exported from)\n"
            )
        download_file(
            mirrored_url(entry.url), zip_path, name=tag, sha256_prefix=expected,
            progress=progress, limits=limits, advice=advice, hash_source="expected",
        )  # fmt: skip
    unpack_onnx(zip_path, onnx_path, name=tag)
    zip_path.unlink(missing_ok=True)  # another process may have unpacked it too
    return onnx_path


def unpack_onnx(zip_path: Path, onnx_path: Path, *, name: str) -> Path:
    """Write the zip's one ``end2end.onnx`` (at any folder depth) to ``onnx_path``, through
    a temporary file renamed into place once the zip's CRC-32 has matched. Only that
    member's bytes are read; no path from the zip is ever written to, and a zip with an
    absolute or ``..`` member name is refused all the same. A broken or unexpected zip is
    removed (so that the next call fetches it again) and a ``WeightsDownloadError``
    names it and the problem."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            member = _the_onnx_member(archive, zip_path, name)
            fd, tmp_name = tempfile.mkstemp(
                dir=onnx_path.parent, prefix=onnx_path.name + ".", suffix=".part"
            )
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out, archive.open(member) as source:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
                os.replace(tmp, onnx_path)
            finally:
                tmp.unlink(missing_ok=True)
    except _ZipContentError:
        with contextlib.suppress(OSError):
            zip_path.unlink()
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        with contextlib.suppress(OSError):
            zip_path.unlink()
        raise WeightsDownloadError(
            f"{name}: {zip_path} is not a readable zip ({e}); it was removed, so the next "
            "call downloads it again."
        ) from e
    return onnx_path


def _the_onnx_member(archive: zipfile.ZipFile, zip_path: Path, name: str) -> zipfile.ZipInfo:
    infos = archive.infolist()
    for info in infos:
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in info.filename:
            raise _ZipContentError(
                f"{name}: {zip_path} holds an unsafe member name {info.filename!r} "
                "(absolute or with '..'); nothing was unpacked and the zip was removed."
            )
    found = [i for i in infos if PurePosixPath(i.filename).name == _MEMBER and not i.is_dir()]
    if len(found) != 1:
        listed = ", ".join(i.filename for i in infos[:10]) or "nothing"
        raise _ZipContentError(
            f"{name}: {zip_path} should hold one {_MEMBER}, it holds {len(found)} "
            f"(members: {listed}); the zip was removed."
        )
    if found[0].file_size > _MAX_ONNX_BYTES:
        raise _ZipContentError(
            f"{name}: {zip_path}'s {found[0].filename} unpacks to {found[0].file_size:,} bytes, "
            "more than an ONNX file can hold; the zip was removed."
        )
    return found[0]


class _ZipContentError(WeightsDownloadError):
    """A readable zip without the one ``end2end.onnx`` a detector export holds."""
