"""``lite_hrnet.timm``: every registered variant in timm's registry, with timm's
features contract (``features_only``, ``out_indices``, ``feature_info``), its pretrained
tags (loaded from a pre-filled torch hub cache, no download), gradient checkpointing, and
segmentation_models_pytorch's ``tu-`` encoder training a step.

timm imports torchvision; where no torchvision build imports beside this torch (the local
CPU wheel: the PyPI build needs CUDA libraries), the module is skipped with timm's error,
unless ``LITE_HRNET_REQUIRE_TIMM=1`` (``make test-timm``, in a venv where it imports).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import lite_hrnet
from lite_hrnet.models.hub import CHECK_HASH_ENV, pretrained_weights
from lite_hrnet.testing.weights import randomize
from tests.support import TINY_BACKBONE

try:
    import timm

    import lite_hrnet.timm  # registers the variants
except (ImportError, RuntimeError) as error:  # torchvision's missing kernels raise RuntimeError
    if os.environ.get("LITE_HRNET_REQUIRE_TIMM") == "1":
        raise
    pytest.skip(f"timm does not import here: {error}", allow_module_level=True)

VARIANTS = lite_hrnet.list_models()
X = torch.randn(1, 3, 64, 64)


def test_every_variant_is_in_timm_with_its_tags() -> None:
    assert set(VARIANTS) <= set(timm.list_models("*"))
    assert set(lite_hrnet.list_pretrained()) <= set(timm.list_pretrained("*"))


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("out_indices", [None, (1, 2, 3), (0, 3)])
def test_features_only_follows_timms_contract(name: str, out_indices) -> None:
    model = timm.create_model(name, features_only=True, out_indices=out_indices, **TINY_BACKBONE)
    features = model(X)
    info = model.feature_info
    assert [f.shape[1] for f in features] == info.channels()
    assert [64 // f.shape[-1] for f in features] == info.reduction()
    assert len(info.module_name()) == len(features)
    expected = lite_hrnet.create_backbone(name, features_only=True, out_indices=out_indices,
                                          **TINY_BACKBONE).feature_info  # fmt: skip
    assert info.get_dicts() == expected.get_dicts()


@pytest.mark.parametrize("name", VARIANTS)
def test_the_plain_model_is_the_registrys(name: str) -> None:
    model = timm.create_model(name, **TINY_BACKBONE)
    assert model.spec == lite_hrnet.create_backbone(name, **TINY_BACKBONE).spec
    assert model.pretrained_cfg["architecture"] == name
    assert model(X).shape == (1, model.num_features, 16, 16)


def test_arguments_it_cannot_honour_are_refused() -> None:
    with pytest.raises(ValueError, match="no classifier"):
        timm.create_model("lite_hrnet_18", num_classes=10)
    with pytest.raises(ValueError, match="output_stride 16"):
        timm.create_model("lite_hrnet_18", features_only=True, output_stride=16)


def test_pretrained_tags_load_the_published_file(tmp_path: Path, monkeypatch) -> None:
    """``pretrained=True`` is the variant's first tag, ``name.tag`` another: both come from
    the torch hub cache, filled here with random weights under the published names."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv(CHECK_HASH_ENV, "0")
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    files = {}
    for tag in ("coco_256x192", "mpii_256x256"):
        weights = pretrained_weights("lite_hrnet_18", tag)
        pose = randomize(lite_hrnet.create_pose_model("lite_hrnet_18", weights.num_joints))
        torch.save({"state_dict": pose.state_dict()}, cache / weights.file_name)
        files[tag] = pose
    default = timm.create_model("lite_hrnet_18", pretrained=True, features_only=True)
    tagged = timm.create_model("lite_hrnet_18.mpii_256x256", pretrained=True)
    assert default.pretrained_cfg["tag"] == "coco_256x192"
    key = "stem.conv1.conv.weight"
    assert torch.equal(default.state_dict()[key], files["coco_256x192"].backbone.state_dict()[key])
    assert torch.equal(tagged.state_dict()[key], files["mpii_256x256"].backbone.state_dict()[key])


def test_a_local_file_given_to_timm_loads(tmp_path: Path) -> None:
    pose = randomize(lite_hrnet.create_pose_model("naive_lite_hrnet_18", 5, **TINY_BACKBONE))
    torch.save(pose.state_dict(), tmp_path / "pose.pth")
    model = timm.create_model("naive_lite_hrnet_18", pretrained=True, features_only=True,
                              pretrained_cfg_overlay={"file": str(tmp_path / "pose.pth")},
                              **TINY_BACKBONE)  # fmt: skip
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(model(X), pose.backbone.forward_features(X)))


def test_gradient_checkpointing_gives_the_same_gradients() -> None:
    model = randomize(timm.create_model("lite_hrnet_18", **TINY_BACKBONE)).train()
    grads = []
    for enable in (False, True):
        model.set_grad_checkpointing(enable)
        model.zero_grad()
        model(X).square().mean().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert model.spec.with_cp
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))


def test_smp_unet_on_the_timm_encoder_trains_a_step() -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    net = smp.Unet("tu-lite_hrnet_18", encoder_weights=None, classes=3, **TINY_BACKBONE)
    images, labels = torch.randn(2, 3, 64, 64), torch.randint(0, 3, (2, 64, 64))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.encoder.parameters()]
    logits = net(images)
    assert logits.shape == (2, 3, 64, 64)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.encoder.parameters()))
