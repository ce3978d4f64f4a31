"""Backbone behaviour, parametrised over every registered variant (timm style)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

import lite_hrnet
from lite_hrnet.models import VARIANT_SPECS, LiteHRNetSpec
from lite_hrnet.testing.official import official_forward
from lite_hrnet.testing.weights import non_channels_last_inputs, randomize

MODELS = lite_hrnet.list_models()
# Every key and shape of the official checkpoints (HRNet/Lite-HRNet, mmpose 0.x), in order,
# with a 17-joint head.
LAYOUT_DIR = Path(__file__).resolve().parent / "official_layout"
LAYOUT_FILES = {
    "lite_hrnet_18": "litehrnet18.tsv",
    "lite_hrnet_30": "litehrnet30.tsv",
    "naive_lite_hrnet_18": "naive18.tsv",
    "wider_naive_lite_hrnet_18": "wider_naive18.tsv",
}
PAPER_PARAMS = {
    "lite_hrnet_18": 1_130_769,
    "lite_hrnet_30": 1_763_717,
    "naive_lite_hrnet_18": 760_365,
    "wider_naive_lite_hrnet_18": 1_318_625,
}


def test_registry_lists_the_paper_variants() -> None:
    assert sorted(LAYOUT_FILES) == MODELS
    assert lite_hrnet.list_models("naive*") == ["naive_lite_hrnet_18"]
    with pytest.raises(ValueError, match="available"):
        lite_hrnet.create_backbone("lite_hrnet_99")


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("size", [(224, 224), (256, 192), (96, 64), (384, 288)])
def test_forward_shapes(name: str, size: tuple[int, int]) -> None:
    model = lite_hrnet.create_backbone(name).eval()
    h, w = size
    with torch.no_grad():
        out = model(torch.randn(2, 3, h, w))
        features = model.forward_features(torch.randn(2, 3, h, w))
    assert out.shape == (2, VARIANT_SPECS[name].channels[0], h // 4, w // 4)
    assert [f.shape[1:] for f in features] == [
        (i["num_chs"], h // i["reduction"], w // i["reduction"]) for i in model.feature_info
    ]


def test_input_size_must_divide() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        lite_hrnet.create_backbone("lite_hrnet_18")(torch.randn(1, 3, 100, 64))


@pytest.mark.parametrize("name", MODELS)
def test_mmpose_shape_at_224(name: str) -> None:
    with torch.no_grad():
        out = lite_hrnet.create_backbone(name).eval()(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, VARIANT_SPECS[name].channels[0], 56, 56)


@pytest.mark.parametrize("name", MODELS)
def test_feature_info_and_features_only(name: str) -> None:
    full = lite_hrnet.create_backbone(name)
    assert [i["reduction"] for i in full.feature_info] == [4, 8, 16, 32]
    assert [i["num_chs"] for i in full.feature_info] == list(VARIANT_SPECS[name].channels)
    feats = lite_hrnet.create_backbone(name, features_only=True, out_indices=(1, 3)).eval()
    assert not hasattr(feats, "head_layer")
    with torch.no_grad():
        out = feats(torch.randn(1, 3, 128, 96))
    assert [o.shape[1] for o in out] == [i["num_chs"] for i in feats.feature_info]
    assert [o.shape[-1] for o in out] == [96 // i["reduction"] for i in feats.feature_info]
    with pytest.raises(ValueError, match="out_indices"):
        lite_hrnet.create_backbone(name, features_only=True, out_indices=(4,))


def _read_layout(name: str) -> dict[str, tuple[int, ...]]:
    rows = (line.split("\t") for line in (LAYOUT_DIR / LAYOUT_FILES[name]).read_text().splitlines())
    return {key: tuple(ast.literal_eval(shape)) for key, shape in rows}


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_equals_official_layout(name: str) -> None:
    model = lite_hrnet.create_pose_model(name, num_joints=17)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == _read_layout(name)


@pytest.mark.parametrize("name", MODELS)
def test_parameter_counts(name: str) -> None:
    pose = lite_hrnet.create_pose_model(name, num_joints=17)
    assert sum(p.numel() for p in pose.parameters()) == PAPER_PARAMS[name]
    mpii = lite_hrnet.create_pose_model(name, num_joints=16)
    assert sum(p.numel() for p in mpii.parameters()) == PAPER_PARAMS[name] - 41 * (
        VARIANT_SPECS[name].channels[0] == 40
    ) - 31 * (VARIANT_SPECS[name].channels[0] == 30)


@pytest.mark.parametrize("name", MODELS)
def test_matches_official_forward(name: str) -> None:
    """Our rewritten forward equals the official control flow, quirks included."""
    model = randomize(lite_hrnet.create_backbone(name)).eval()
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        ours, ref = model(x), official_forward(model, x)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-5)


def test_corrected_fuse_is_an_option_and_differs() -> None:
    official = randomize(lite_hrnet.create_backbone("lite_hrnet_18")).eval()
    corrected = lite_hrnet.create_backbone("lite_hrnet_18", fuse_branch0_twice=False).eval()
    corrected.load_state_dict(official.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(official(x), corrected(x), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_official_initialisation(name: str) -> None:
    model = lite_hrnet.create_pose_model(name)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert weights.std().item() == pytest.approx(0.001, rel=0.05)
    assert all(m.bias is None or not m.bias.any() for m in convs)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(bool((m.weight == 1).all() and (m.bias == 0).all()) for m in norms)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"num_blocks": (2, 2)}, "num_blocks"),
        ({"reduce_ratios": (8,)}, "reduce_ratios"),
        ({"channels": (40, 80, 160)}, "channels"),
        ({"channels": (40, 81, 160, 320)}, "channels"),
        ({"module_type": "RESNET"}, "module_type"),
        ({"width": 0}, "width"),
        ({"stem_channels": 33}, "stem_channels"),
        ({"num_modules": (2, 0, 2)}, "num_modules"),
        ({"reduce_ratios": (8, 8, 4096)}, "reduce_ratios"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_invalid_spec_names_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        lite_hrnet.create_backbone("lite_hrnet_18", **overrides)


def test_any_valid_spec_builds() -> None:
    spec = LiteHRNetSpec(
        num_modules=(1, 2),
        channels=(16, 32, 64),
        num_blocks=(1, 1),
        reduce_ratios=(4, 4),
        width=1.5,
    )
    model = lite_hrnet.LiteHRNet(spec).eval()
    assert spec.branch_channels == (24, 48, 96)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 24, 16, 16)
    half = lite_hrnet.create_backbone("lite_hrnet_18", width=0.5, num_modules=[1, 1, 1])
    assert half.spec.branch_channels == (20, 40, 80, 160)
    assert half.spec.num_modules == (1, 1, 1)


@pytest.mark.parametrize("name", ["lite_hrnet_18", "naive_lite_hrnet_18"])
def test_gradient_checkpointing_trains_like_the_plain_model(name: str) -> None:
    plain = lite_hrnet.create_pose_model(name)
    randomize(plain)
    cp = lite_hrnet.create_pose_model(name, with_cp=True)
    cp.load_state_dict(plain.state_dict())
    x, target = torch.randn(2, 3, 64, 64), torch.randn(2, 17, 16, 16)
    for model in (plain, cp):
        model.train()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
    for (name_, p), q in zip(plain.named_parameters(), cp.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name_)
    # Recomputation must not update BatchNorm statistics a second time.
    for (key, a), b in zip(plain.state_dict().items(), cp.state_dict().values()):
        torch.testing.assert_close(a, b, msg=key)
    # And an optimiser step changes the weights.
    before = [p.detach().clone() for p in cp.parameters()]
    torch.optim.Adam(cp.parameters(), lr=1e-3).step()
    assert any(not torch.equal(a, b) for a, b in zip(before, cp.parameters()))


def test_norm_eval_freezes_batchnorm() -> None:
    model = lite_hrnet.create_backbone("lite_hrnet_18", norm_eval=True).train()
    assert all(not m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert model.stem.training


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("name", MODELS)
def test_channels_last_and_trace(name: str) -> None:
    model = randomize(lite_hrnet.create_pose_model(name)).eval()
    x = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        ref = model(x)
        cl = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        traced = torch.jit.trace(model, x, check_trace=False)
        out = traced(x)
    torch.testing.assert_close(cl, ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_channels_last_reaches_every_convolution_and_batchnorm(name: str) -> None:
    model = lite_hrnet.create_pose_model(name).train().to(memory_format=torch.channels_last)
    assert non_channels_last_inputs(model, torch.randn(2, 3, 128, 96)) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lite_hrnet_18", "naive_lite_hrnet_18"])
def test_compile_has_no_graph_breaks(name: str) -> None:
    import torch._dynamo

    model = lite_hrnet.create_backbone(name).eval()
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(torch.randn(1, 3, 64, 64))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


def test_set_grad_checkpointing_switches_every_block_and_keeps_the_gradients() -> None:
    model = randomize(lite_hrnet.create_backbone("lite_hrnet_18", width=0.25)).train()
    x = torch.randn(1, 3, 64, 64)
    grads = []
    for enable in (False, True):
        model.set_grad_checkpointing(enable)
        model.zero_grad()
        model(x).square().mean().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    switched = [m.with_cp for m in model.modules() if hasattr(m, "with_cp")]
    assert model.spec.with_cp and switched and all(switched)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))
