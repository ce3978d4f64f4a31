"""Published detectors by tag, fetched from a loopback HTTP server that the test starts
(through LITE_HRNET_WEIGHTS_MIRROR, never from outside): the zip unpacked to its
end2end.onnx and reused from the cache; a corrupt zip, a zip with a bad CRC, without the
ONNX file or with an unsafe member name, a wrong hash and an HTTP error, each named."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lite_hrnet.inference import detector_zoo
from lite_hrnet.inference.detection import load_detector
from lite_hrnet.inference.detector_zoo import DETECTORS, download_detector
from lite_hrnet.models.hub import CHECK_HASH_ENV, MIRROR_ENV, WeightsDownloadError
from tests.inference.tiny_detectors import ContentDetector, export_detector

TAG = "rtmdet_nano"
ZIP = DETECTORS[TAG].file_name
INPUT = (64, 64)


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` {"/name": body}; records the paths asked for."""

    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.path not in self.files:
            self.send_error(404, "no such file")
            return
        body = self.files[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def onnx_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    return export_detector(ContentDetector(INPUT, 1.0), path, INPUT).read_bytes()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    """A loopback mirror (``LITE_HRNET_WEIGHTS_MIRROR``) serving the dict it yields, and an
    empty torch hub cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(CHECK_HASH_ENV, raising=False)
    _Files.files, _Files.requests = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{httpd.server_address[1]}/")
    yield _Files.files
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _cache(tmp_path: Path) -> Path:
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_a_tag_is_downloaded_unpacked_and_then_reused(
    mirror: dict[str, bytes], onnx_bytes: bytes, tmp_path: Path
) -> None:
    mirror[f"/{ZIP}"] = _zip(
        {"rtmdet_nano/pipeline.json": b"{}", "rtmdet_nano/end2end.onnx": onnx_bytes}
    )
    detector = load_detector(TAG, progress=False)
    onnx_path = _cache(tmp_path) / DETECTORS[TAG].onnx_name
    assert sorted(p.name for p in _cache(tmp_path).iterdir()) == [onnx_path.name]
    assert onnx_path.read_bytes() == onnx_bytes and _Files.requests == [f"/{ZIP}"]

    again = load_detector(TAG, progress=False)
    assert _Files.requests == [f"/{ZIP}"]  # from the cache
    image = np.random.default_rng(0).integers(0, 256, (50, 90, 3), dtype=np.uint8)
    np.testing.assert_array_equal(again(image), detector(image))
    assert len(detector(image)) > 0


def test_the_download_says_that_no_hash_is_checked(
    mirror: dict[str, bytes], onnx_bytes: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror[f"/{ZIP}"] = _zip({"end2end.onnx": onnx_bytes})
    download_detector(TAG, progress=True)
    assert f"{TAG}: {ZIP} is not hash-checked" in capsys.readouterr().err


def _with_hash(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    entry = dataclasses.replace(DETECTORS[TAG], sha256_prefix=prefix)
    monkeypatch.setitem(detector_zoo.DETECTORS, TAG, entry)


def test_a_known_hash_is_checked(
    mirror: dict[str, bytes], onnx_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _zip({"end2end.onnx": onnx_bytes})
    mirror[f"/{ZIP}"] = body
    _with_hash(monkeypatch, "00000000")
    with pytest.raises(WeightsDownloadError, match="expected 00000000") as error:
        download_detector(TAG, progress=False)
    assert TAG in str(error.value) and ZIP in str(error.value)
    assert list(_cache(tmp_path).iterdir()) == []  # nothing kept
    _with_hash(monkeypatch, hashlib.sha256(body).hexdigest()[:8])
    assert download_detector(TAG, progress=False).read_bytes() == onnx_bytes


def _bad_crc(onnx_bytes: bytes) -> bytes:
    body = bytearray(_zip({"end2end.onnx": onnx_bytes}))
    start = body.index(onnx_bytes[:64])  # stored, so the member's bytes appear as they are
    body[start + 100] ^= 0xFF
    return bytes(body)


@pytest.mark.parametrize(
    ("make_body", "message"),
    [
        (lambda onnx: b"<html>moved</html>", "is not a readable zip"),
        (_bad_crc, "is not a readable zip .*CRC"),
        (lambda onnx: _zip({"model.onnx": onnx}), "should hold one end2end.onnx, it holds 0"),
        (lambda onnx: _zip({"../../end2end.onnx": onnx}), "unsafe member name"),
        (lambda onnx: _zip({"/abs/end2end.onnx": onnx}), "unsafe member name"),
    ],
    ids=["not-a-zip", "bad-crc", "no-onnx", "dot-dot", "absolute"],
)
def test_a_bad_zip_is_named_and_removed(
    mirror: dict[str, bytes], onnx_bytes: bytes, tmp_path: Path, make_body, message: str
) -> None:
    mirror[f"/{ZIP}"] = make_body(onnx_bytes)
    with pytest.raises(WeightsDownloadError, match=message) as error:
        download_detector(TAG, progress=False)
    assert str(_cache(tmp_path) / ZIP) in str(error.value) and TAG in str(error.value)
    assert list(_cache(tmp_path).iterdir()) == []  # the next call downloads again
    assert not (tmp_path / "torch" / "end2end.onnx").exists()
    assert not (tmp_path / "end2end.onnx").exists()


def test_an_http_error_names_the_tag_and_what_to_do(mirror: dict[str, bytes]) -> None:
    with pytest.raises(WeightsDownloadError, match="answered HTTP 404") as error:
        download_detector(TAG, progress=False)
    message = str(error.value)
    assert message.startswith(f"{TAG}: ") and DETECTORS[TAG].url in message
    assert "end2end.onnx inside it as the detector's path" in message
