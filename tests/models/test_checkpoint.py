"""load_checkpoint: every accepted format round-trips; every bad file gets a clear error."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest
import torch

import lite_hrnet
from lite_hrnet.models import CheckpointError
from lite_hrnet.testing.weights import randomize

MODELS = lite_hrnet.list_models()


def _outputs(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(torch.linspace(-1, 1, 3 * 64 * 64).reshape(1, 3, 64, 64))


@pytest.fixture(scope="module")
def trained() -> dict[str, torch.nn.Module]:
    return {name: randomize(lite_hrnet.create_pose_model(name), seed=1) for name in MODELS}


def _official_format(model: torch.nn.Module) -> dict:
    """A file laid out as the official code and mmpose 0.x save it."""
    return {"meta": {"epoch": 210, "mmpose_version": "0.x"}, "state_dict": model.state_dict()}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("layout", ["plain", "official", "mmpose1", "lightning", "ddp"])
def test_round_trip(trained, tmp_path: Path, name: str, layout: str) -> None:
    source = trained[name]
    sd = source.state_dict()
    if layout == "plain":
        payload = sd
    elif layout == "official":
        payload = _official_format(source)
    elif layout == "mmpose1":
        renamed = {k.replace("keypoint_head.", "head."): v for k, v in sd.items()}
        payload = {"meta": {}, "state_dict": renamed}
    elif layout == "lightning":
        wrapped = {f"model.{k}": v for k, v in sd.items()}
        wrapped["loss.dummy_buffer"] = torch.zeros(1)
        payload = {"epoch": 3, "global_step": 10, "state_dict": wrapped}
    else:
        payload = {f"module.{k}": v for k, v in sd.items()}
    path = tmp_path / "weights.pth"
    torch.save(payload, path)
    loaded = lite_hrnet.create_pose_model(name, checkpoint_path=path)
    torch.testing.assert_close(_outputs(loaded), _outputs(source), rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("features_only", [False, True])
def test_backbone_from_pose_checkpoint(trained, tmp_path: Path, features_only: bool) -> None:
    source = trained["lite_hrnet_18"]
    path = tmp_path / "official.pth"
    torch.save(_official_format(source), path)
    backbone = lite_hrnet.create_backbone(
        "lite_hrnet_18", checkpoint_path=path, features_only=features_only
    )
    for key, value in backbone.state_dict().items():
        torch.testing.assert_close(value, source.backbone.state_dict()[key])


def _expect_error(
    tmp_path: Path, payload, match: str, model_name="lite_hrnet_18", raw=None, **options
):
    path = tmp_path / "bad.pth"
    if raw is not None:
        path.write_bytes(raw)
    else:
        torch.save(payload, path)
    with pytest.raises(CheckpointError, match=match) as info:
        lite_hrnet.create_pose_model(model_name, checkpoint_path=path, **options)
    assert str(path) in str(info.value)
    return str(info.value)


def test_wrong_variant_names_what_the_file_is(trained, tmp_path: Path) -> None:
    msg = _expect_error(tmp_path, _official_format(trained["lite_hrnet_30"]), "unexpected keys")
    assert "looks like lite_hrnet_30 with a 17-joint head" in msg
    assert "backbone.stage0.2." in msg


def test_wrong_shapes(trained, tmp_path: Path) -> None:
    mpii = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", num_joints=16))
    msg = _expect_error(tmp_path, _official_format(mpii), "wrong shapes", num_joints=17)
    assert "keypoint_head.final_layer.weight: file (16, 40, 1, 1) vs model (17, 40, 1, 1)" in msg
    assert "lite_hrnet_18 with a 16-joint head" in msg


def test_naive_vs_wider(trained, tmp_path: Path) -> None:
    msg = _expect_error(
        tmp_path,
        trained["naive_lite_hrnet_18"].state_dict(),
        "wrong shapes",
        model_name="wider_naive_lite_hrnet_18",
    )
    assert "looks like naive_lite_hrnet_18" in msg


def test_missing_keys(trained, tmp_path: Path) -> None:
    sd = dict(trained["lite_hrnet_18"].state_dict())
    del sd["backbone.stage2.1.fuse_layers.3.0.0.3.running_var"]
    del sd["keypoint_head.final_layer.bias"]
    msg = _expect_error(tmp_path, sd, "2 missing keys")
    assert "keypoint_head.final_layer.bias" in msg


def test_not_a_state_dict(tmp_path: Path) -> None:
    _expect_error(tmp_path, [1, 2, 3], "holds no state dict")
    _expect_error(tmp_path, {"epoch": 3, "lr": 0.1}, "holds no state dict")
    _expect_error(tmp_path, {"conv.weight": torch.zeros(1)}, "not a Lite-HRNet checkpoint")


def test_truncated_file(trained, tmp_path: Path) -> None:
    good = tmp_path / "good.pth"
    torch.save(trained["lite_hrnet_18"].state_dict(), good)
    data = good.read_bytes()
    _expect_error(tmp_path, None, "truncated or corrupt", raw=data[: len(data) // 2])
    _expect_error(tmp_path, None, "truncated or corrupt", raw=b"not a checkpoint at all")


class _Hostile:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


class _Printing:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize(
    "payload, refused", [(_Hostile(), r"posix\.system|nt\.system"), (_Printing(), "print")]
)
def test_unsafe_pickle_is_refused(tmp_path: Path, capfd, payload, refused: str) -> None:
    """torch words the refusal differently across versions; the message names the global,
    says the file holds code, and never suggests weights_only=False."""
    pickled = tmp_path / "hostile.pkl"
    pickled.write_bytes(pickle.dumps({"state_dict": payload}, protocol=2))
    zipped = tmp_path / "hostile_zip.pth"
    torch.save({"state_dict": payload}, zipped)
    for path in (pickled, zipped):
        with pytest.raises(CheckpointError) as info:
            lite_hrnet.load_checkpoint(lite_hrnet.create_backbone("lite_hrnet_18"), path)
        message = str(info.value)
        assert re.search(rf"holds code \(the Python global {refused}\)", message), message
        assert "refused" in message and "False" not in message and "truncated" not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "must never run" not in "".join(capfd.readouterr())


def test_non_finite_weights_are_refused_with_their_keys(trained, tmp_path: Path) -> None:
    state = dict(trained["lite_hrnet_18"].state_dict())
    state["backbone.stem.conv1.conv.weight"] = state["backbone.stem.conv1.conv.weight"].clone()
    state["backbone.stem.conv1.conv.weight"][0, 0, 0, 0] = float("nan")
    state["backbone.stem.conv1.bn.bias"] = torch.full_like(
        state["backbone.stem.conv1.bn.bias"], float("inf")
    )
    path = tmp_path / "nan.pth"
    torch.save(state, path)
    model = lite_hrnet.create_backbone("lite_hrnet_18")
    for strict in (True, False):
        with pytest.raises(CheckpointError, match=r"nan.pth: 2 tensors hold NaN or infinite") as e:
            lite_hrnet.load_checkpoint(model, path, strict=strict)
        assert "stem.conv1.conv.weight" in str(e.value) and "stem.conv1.bn.bias" in str(e.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.pth"):
        lite_hrnet.load_checkpoint(
            lite_hrnet.create_backbone("lite_hrnet_18"), tmp_path / "nope.pth"
        )


def test_the_head_defaults_to_the_files(tmp_path: Path) -> None:
    mpii = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", num_joints=16))
    torch.save(_official_format(mpii), tmp_path / "mpii.pth")
    loaded = lite_hrnet.create_pose_model("lite_hrnet_18", checkpoint_path=tmp_path / "mpii.pth")
    assert loaded.num_joints == 16
    for a, b in zip(loaded.state_dict().values(), mpii.state_dict().values()):
        assert torch.equal(a, b)


def test_non_strict_reports_and_loads_the_rest(trained, tmp_path: Path) -> None:
    mpii = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", num_joints=16))
    path = tmp_path / "mpii.pth"
    torch.save(mpii.state_dict(), path)
    model = lite_hrnet.create_pose_model("lite_hrnet_18")
    result = lite_hrnet.load_checkpoint(model, path, strict=False)
    assert set(result.missing_keys) == {
        "keypoint_head.final_layer.weight",
        "keypoint_head.final_layer.bias",
    }
    torch.testing.assert_close(
        model.backbone.stem.conv1.conv.weight, mpii.backbone.stem.conv1.conv.weight
    )
