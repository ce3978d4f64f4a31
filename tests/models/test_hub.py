"""Published weights by name, downloaded from a loopback HTTP server that the tests start
(never from outside): a correct file, a file with an official name but other content, a
closed port, an HTTP error, a truncated body, a server that trickles or stalls, and a file
cached with the hash check off."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import lite_hrnet
from lite_hrnet.models import hub
from lite_hrnet.models.hub import (
    CHECK_HASH_ENV,
    DEADLINE_ENV,
    MIN_RATE_ENV,
    MIRROR_ENV,
    DownloadLimits,
    WeightsDownloadError,
    check_fits,
    download_pretrained,
    pretrained_weights,
)
from lite_hrnet.models.metadata import COCO_HEAD
from lite_hrnet.models.variants import VARIANTS, PretrainedWeights
from lite_hrnet.testing.weights import randomize
from tests.support import TINY_BACKBONE

OFFICIAL = "litehrnet18_coco_256x192-6bace359_20211230.pth"


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` {"/name": (body, declared length or None)}; counts requests."""

    files: dict[str, tuple[bytes, int | None]] = {}
    requests: list[str] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        if self.path not in self.files:
            self.send_error(404, "no such file")
            return
        body, declared = self.files[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(declared if declared is not None else len(body)))
        self.end_headers()
        if self.path.startswith("/trickle-"):  # a byte every 0.2 s
            self._trickle(body, 0.2)
        elif self.path.startswith("/stall-"):  # the headers, then nothing
            time.sleep(3)
        else:
            self.wfile.write(body)

    def _trickle(self, body: bytes, pause_s: float) -> None:
        try:
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(pause_s)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def tiny_file() -> bytes:
    """A tiny pose model's state dict, as bytes."""
    model = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", 17, **TINY_BACKBONE))
    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "meta": {}}, buffer)
    return buffer.getvalue()


@pytest.fixture
def server(tiny_file: bytes) -> Iterator[str]:
    """The base URL of a loopback server holding the tiny file under its real hash, and
    the same bytes under the official name (which carries another hash)."""
    digest = hashlib.sha256(tiny_file).hexdigest()
    _Files.files = {
        f"/tiny-{digest[:8]}_20260101.pth": (tiny_file, None),
        f"/cut-{digest[:8]}_20260101.pth": (tiny_file[:1000], len(tiny_file)),
        f"/{OFFICIAL}": (tiny_file, None),
        f"/trickle-{digest[:8]}_20260101.pth": (tiny_file[:100], None),
        f"/stall-{digest[:8]}_20260101.pth": (tiny_file, None),
    }
    _Files.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache; the hash check on whatever the environment says."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(CHECK_HASH_ENV, raising=False)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


def _register(monkeypatch: pytest.MonkeyPatch, file_name: str, tag: str = "test_tiny") -> None:
    """A test-only tag of lite_hrnet_18 (the tiny network's file)."""
    info = VARIANTS["lite_hrnet_18"]
    weights = PretrainedWeights(
        tag, f"https://example.invalid/{file_name}", "coco", (64, 64), COCO_HEAD, "AP", 0.0
    )
    monkeypatch.setitem(
        VARIANTS, "lite_hrnet_18", dataclasses.replace(info, pretrained=(*info.pretrained, weights))
    )


def _tiny_name(tiny_file: bytes, stem: str = "tiny") -> str:
    return f"{stem}-{hashlib.sha256(tiny_file).hexdigest()[:8]}_20260101.pth"


def test_the_published_tags() -> None:
    names = lite_hrnet.list_pretrained()
    assert len(names) == 6 and lite_hrnet.list_pretrained("*mpii*") == [
        "lite_hrnet_18.mpii_256x256",
        "lite_hrnet_30.mpii_256x256",
    ]
    weights = pretrained_weights("lite_hrnet_30", "coco_384x288")
    assert weights.url.endswith("litehrnet30_coco_384x288-a3aef5c4_20210626.pth")
    assert weights.sha256_prefix == "a3aef5c4" and weights.input_size == (384, 288)
    assert weights.num_joints == 17 and weights.published == 0.700
    assert pretrained_weights("lite_hrnet_18", True).tag == "coco_256x192"
    assert pretrained_weights("lite_hrnet_18", "lite_hrnet_18.mpii_256x256").num_joints == 16
    for variant, info in VARIANTS.items():
        assert all(w.sha256_prefix for w in info.pretrained), variant


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("coco_999x999", "its tags: coco_256x192"),
        ("lite_hrnet_30.coco_256x192", "of lite_hrnet_30"),
    ],
)
def test_unknown_tags_are_named(tag: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pretrained_weights("lite_hrnet_18", tag)
    with pytest.raises(ValueError, match="no published weights"):
        pretrained_weights("naive_lite_hrnet_18", True)


def test_a_tag_for_another_model_is_refused_before_any_download(hub_cache: Path) -> None:
    mpii = pretrained_weights("lite_hrnet_18", "mpii_256x256")
    with pytest.raises(ValueError, match="16-joint mpii head, not 17 joints"):
        check_fits("lite_hrnet_18", mpii, num_joints=17)
    weights = pretrained_weights("lite_hrnet_18", "coco_384x288")
    with pytest.raises(ValueError, match="trained at input 384x288, not 256x192"):
        check_fits("lite_hrnet_18", weights, input_size=(256, 192))
    assert not hub_cache.exists()


def test_a_correct_file_is_downloaded_once_and_loaded(
    server: str, hub_cache: Path, tiny_file: bytes, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    name = _tiny_name(tiny_file)
    _register(monkeypatch, name)
    monkeypatch.setenv(MIRROR_ENV, server + "/")
    model = lite_hrnet.create_pose_model("lite_hrnet_18", pretrained="test_tiny", **TINY_BACKBONE)
    saved = torch.load(io.BytesIO(tiny_file), weights_only=True)["state_dict"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    assert (hub_cache / name).read_bytes() == tiny_file
    assert sorted(p.name for p in hub_cache.iterdir()) == [name]  # no temporary file left
    assert f"downloading {name}" in capsys.readouterr().err  # the progress bar
    # The backbone part, from the cache: no second request.
    backbone = lite_hrnet.create_backbone(
        "lite_hrnet_18", pretrained="lite_hrnet_18.test_tiny", **TINY_BACKBONE
    )
    key = "stem.conv1.conv.weight"
    assert torch.equal(backbone.state_dict()[key], saved["backbone." + key])
    assert _Files.requests == [f"/{name}"]


def test_a_hash_mismatch_names_the_fix_and_keeps_nothing(
    server: str, hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIRROR_ENV, server)
    with pytest.raises(WeightsDownloadError) as error:
        download_pretrained("lite_hrnet_18", "coco_256x192", progress=False)
    message = str(error.value)
    assert "lite_hrnet_18.coco_256x192" in message and f"{server}/{OFFICIAL}" in message
    assert "its name says 6bace359" in message
    assert f"{CHECK_HASH_ENV}=0" in message and "check_hash=False" in message
    assert "checkpoint_path" in message
    assert list(hub_cache.iterdir()) == []
    # Turned off, for a file the user trusts: kept.
    monkeypatch.setenv(CHECK_HASH_ENV, "0")
    path = download_pretrained("lite_hrnet_18", "coco_256x192", progress=False)
    assert path == hub_cache / OFFICIAL and path.is_file()


def test_a_closed_port_is_a_clear_error(hub_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{port}")
    with pytest.raises(WeightsDownloadError, match="cannot download") as error:
        lite_hrnet.create_backbone("lite_hrnet_30", pretrained=True)
    message = str(error.value)
    assert "lite_hrnet_30.coco_256x192" in message and f"127.0.0.1:{port}/litehrnet30" in message
    assert "checkpoint_path=FILE" in message
    assert list(hub_cache.iterdir()) == []


def test_an_http_error_is_a_clear_error(
    server: str, hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIRROR_ENV, server)
    with pytest.raises(WeightsDownloadError, match="answered HTTP 404") as error:
        download_pretrained("lite_hrnet_18", "mpii_256x256", progress=False)
    assert "lite_hrnet_18.mpii_256x256" in str(error.value)


def test_a_truncated_download_is_not_kept(
    server: str, hub_cache: Path, tiny_file: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(monkeypatch, _tiny_name(tiny_file, "cut"), tag="test_cut")
    monkeypatch.setenv(MIRROR_ENV, server)
    with pytest.raises(WeightsDownloadError, match=f"after 1,000 of {len(tiny_file):,} bytes"):
        download_pretrained("lite_hrnet_18", "test_cut", check_hash=False, progress=False)
    assert list(hub_cache.iterdir()) == []


def test_the_cache_follows_torch_home(hub_cache: Path) -> None:
    assert hub.cache_dir() == hub_cache


def test_a_trickling_mirror_fails_at_the_minimum_rate(
    server: str, hub_cache: Path, tiny_file: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every wait for data is far shorter than the read timeout: only the rate stops it.
    _register(monkeypatch, _tiny_name(tiny_file, "trickle"), tag="test_trickle")
    monkeypatch.setenv(MIRROR_ENV, server)
    limits = DownloadLimits(read_timeout_s=5, deadline_s=60, min_rate=1000, grace_s=0.5)
    start = time.monotonic()
    with pytest.raises(WeightsDownloadError, match=r"too slow: \d+ bytes in \d+ s") as error:
        download_pretrained("lite_hrnet_18", "test_trickle", progress=False, limits=limits)
    assert time.monotonic() - start < 3
    assert MIN_RATE_ENV in str(error.value)
    assert list(hub_cache.iterdir()) == []  # no .part left


def test_a_trickling_mirror_fails_at_the_deadline_set_in_the_environment(
    server: str, hub_cache: Path, tiny_file: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(monkeypatch, _tiny_name(tiny_file, "trickle"), tag="test_trickle")
    monkeypatch.setenv(MIRROR_ENV, server)
    monkeypatch.setenv(DEADLINE_ENV, "1")
    monkeypatch.setenv(MIN_RATE_ENV, "0")
    start = time.monotonic()
    with pytest.raises(WeightsDownloadError, match="did not finish within 1 s") as error:
        download_pretrained("lite_hrnet_18", "test_trickle", progress=False)
    assert time.monotonic() - start < 3
    assert DEADLINE_ENV in str(error.value)
    assert list(hub_cache.iterdir()) == []
    monkeypatch.setenv(DEADLINE_ENV, "soon")
    with pytest.raises(ValueError, match=f"{DEADLINE_ENV} must be a number"):
        download_pretrained("lite_hrnet_18", "test_trickle", progress=False)


def test_a_server_that_stalls_after_its_headers_is_described_as_such(
    server: str, hub_cache: Path, tiny_file: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register(monkeypatch, _tiny_name(tiny_file, "stall"), tag="test_stall")
    monkeypatch.setenv(MIRROR_ENV, server)
    limits = DownloadLimits(read_timeout_s=0.5, deadline_s=60, min_rate=0, grace_s=0)
    with pytest.raises(WeightsDownloadError) as error:
        download_pretrained("lite_hrnet_18", "test_stall", progress=False, limits=limits)
    message = str(error.value)
    assert "answered, then stalled: no data for 0.5 s after 0 bytes" in message
    assert "no network" not in message
    assert list(hub_cache.iterdir()) == []


def test_a_stale_part_file_of_a_killed_download_is_removed(
    server: str, hub_cache: Path, tiny_file: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _tiny_name(tiny_file)
    _register(monkeypatch, name)
    monkeypatch.setenv(MIRROR_ENV, server)
    hub_cache.mkdir(parents=True)
    stale, live = hub_cache / f"{name}.old.part", hub_cache / f"{name}.new.part"
    stale.write_bytes(b"")
    live.write_bytes(b"")
    old = time.time() - 2 * DownloadLimits().deadline_s
    os.utime(stale, (old, old))
    download_pretrained("lite_hrnet_18", "test_tiny", progress=False)
    assert sorted(p.name for p in hub_cache.iterdir()) == sorted([name, live.name])


def test_a_file_cached_with_the_check_off_is_checked_when_it_is_on(
    server: str, hub_cache: Path, tiny_file: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _tiny_name(tiny_file)
    _register(monkeypatch, name)
    monkeypatch.setenv(MIRROR_ENV, server)
    page = b"<html>a captive portal's login page</html>"
    _Files.files[f"/{name}"] = (page, None)
    monkeypatch.setenv(CHECK_HASH_ENV, "0")
    assert download_pretrained("lite_hrnet_18", "test_tiny", progress=False).read_bytes() == page
    _Files.files[f"/{name}"] = (tiny_file, None)  # the mirror repaired
    monkeypatch.delenv(CHECK_HASH_ENV)
    with pytest.warns(UserWarning, match=f"cached .*{name} does not have the SHA-256"):
        path = download_pretrained("lite_hrnet_18", "test_tiny", progress=False)
    assert path.read_bytes() == tiny_file
    assert _Files.requests == [f"/{name}", f"/{name}"]
    # Checked and good: used as it is.
    assert download_pretrained("lite_hrnet_18", "test_tiny", progress=False) == path
    assert len(_Files.requests) == 2


@pytest.mark.parametrize("num_classes", [2, 21, 150])
def test_a_segmentation_model_of_any_class_count_starts_from_a_pose_tag(
    server: str,
    hub_cache: Path,
    tiny_file: bytes,
    monkeypatch: pytest.MonkeyPatch,
    num_classes: int,
) -> None:
    _register(monkeypatch, _tiny_name(tiny_file))
    monkeypatch.setenv(MIRROR_ENV, server + "/")
    model = lite_hrnet.create_segmentation_model(
        "lite_hrnet_18", num_classes=num_classes, pretrained="test_tiny", **TINY_BACKBONE
    )
    saved = torch.load(io.BytesIO(tiny_file), weights_only=True)["state_dict"]
    key = "stem.conv1.conv.weight"
    assert torch.equal(model.backbone.state_dict()[key], saved["backbone." + key])
    assert model.decode_head.classifier.out_channels == num_classes
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, num_classes, 16, 16)


def test_a_registered_weights_source_feeds_the_factories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pretrained="<prefix>name"`` goes to the prefix's resolver (``lite_hrnet.sharing``
    registers "hf-hub:"); the file it returns loads as ``checkpoint_path``."""
    model = randomize(lite_hrnet.create_backbone("lite_hrnet_18", **TINY_BACKBONE))
    torch.save(model.state_dict(), tmp_path / "w.pth")
    asked = []
    monkeypatch.setitem(
        hub._SOURCES, "test-src:", lambda name: asked.append(name) or tmp_path / "w.pth"
    )
    loaded = lite_hrnet.create_backbone(
        "lite_hrnet_18", pretrained="test-src:org/w", **TINY_BACKBONE
    )
    assert asked == ["org/w"]
    key = "stem.conv1.conv.weight"
    assert torch.equal(loaded.state_dict()[key], model.state_dict()[key])
    assert hub.weights_source_file("coco_256x192") is None
    assert hub.weights_source_file(True) is None
