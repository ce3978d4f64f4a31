"""``lite-hrnet weights list`` and ``--pretrained`` on the command line and in Hydra
configs (no download leaves this machine: the mirror is a closed loopback port)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lite_hrnet.cli.main import main
from lite_hrnet.models.hub import MIRROR_ENV
from tests.support import compose_config, pose_overrides


@pytest.fixture
def closed_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv(MIRROR_ENV, url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return url


def test_weights_list_prints_the_table(capsys) -> None:
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "lite_hrnet_30.coco_384x288  coco     384x288  17      AP 0.700" in out
    assert "litehrnet18_mpii_256x256-cabd7984_20210623.pth" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "coco", "--pretrained", "lite_hrnet_18.mpii_256x256"], "16-joint mpii head"),
        (["eval", "mpii", "--pretrained", "coco_256x192"], "name the variant"),
        (["eval", "coco", "--pretrained", "lite_hrnet_18.coco_256x192"], "cannot download"),
        (
            [
                "predict",
                "pose",
                "x.png",
                "--pretrained",
                "lite_hrnet_30.coco_384x288",
                "--input",
                "256x192",
            ],
            "trained at input 384x288",
        ),
        (
            ["export", "lite_hrnet_18", "--pretrained", "coco_256x192", "--output", "x.onnx"],
            "lite_hrnet_18.coco_256x192",
        ),
        (["eval", "coco", "--data-root", "."], "--checkpoint FILE or --pretrained TAG"),
    ],
)
def test_pretrained_on_the_command_line(
    argv: list[str], message: str, closed_mirror: str, capsys
) -> None:
    if argv[0] == "eval" and "--data-root" not in argv:
        argv = [*argv, "--data-root", "."]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_pretrained_in_hydra_configs(coco_root: Path, closed_mirror: str) -> None:
    cfg = compose_config([*pose_overrides(coco_root), "model.pretrained=nothing_like_it"])
    with pytest.raises(ValueError, match=r"model\.pretrained"):
        cfg.validate()
    cfg = compose_config([*pose_overrides(coco_root), "model.pretrained=coco_384x288"])
    cfg.validate()
    with pytest.raises(ValueError, match="trained at input 384x288, not 64x64"):
        cfg.task.build(cfg.data, cfg.model)
