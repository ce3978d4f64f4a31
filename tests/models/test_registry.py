"""The registry, the factories' common signature, ``feature_info`` and the variants' metadata."""

from __future__ import annotations

import inspect

import pytest
import torch

import lite_hrnet
from lite_hrnet.models import FeatureInfo, register_model, variant_info
from lite_hrnet.models.registry import _ENTRYPOINTS


def test_a_second_registration_of_a_name_raises() -> None:
    def lite_hrnet_18(**kwargs):  # the name of a registered variant
        raise AssertionError("never built")

    with pytest.raises(ValueError, match=r"'lite_hrnet_18' is registered already \(by .*variants"):
        register_model(lite_hrnet_18)
    assert _ENTRYPOINTS["lite_hrnet_18"] is not lite_hrnet_18


def test_unknown_names_list_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="lite_hrnet_30"):
        lite_hrnet.create_backbone("lite_hrnet_99")
    with pytest.raises(ValueError, match="lite_hrnet_30"):
        variant_info("lite_hrnet_99")
    assert lite_hrnet.list_models("naive*") == ["naive_lite_hrnet_18"]


def test_the_factories_share_one_signature() -> None:
    factories = [
        lite_hrnet.create_backbone,
        lite_hrnet.create_pose_model,
        lite_hrnet.create_segmentation_model,
    ]
    for factory in factories:
        params = inspect.signature(factory).parameters
        assert next(iter(params)) == "name"
        assert params["checkpoint_path"].kind is inspect.Parameter.KEYWORD_ONLY
        assert list(params.values())[-1].kind is inspect.Parameter.VAR_KEYWORD
    for factory in factories[1:]:
        assert inspect.signature(factory).parameters["backbone_checkpoint"].kind is (
            inspect.Parameter.KEYWORD_ONLY
        )


@pytest.mark.parametrize("name", lite_hrnet.list_models())
def test_feature_info_has_timms_accessors(name: str) -> None:
    backbone = lite_hrnet.create_backbone(name)
    info = backbone.feature_info
    assert isinstance(info, FeatureInfo) and len(info) == 4
    features = backbone.forward_features(torch.zeros(1, 3, 64, 64))
    assert info.channels() == [f.shape[1] for f in features]
    assert info.reduction() == [64 // f.shape[-1] for f in features] == [4, 8, 16, 32]
    assert info.channels(-1) == features[-1].shape[1] and info.reduction(0) == 4
    assert info.module_name(0) == "stage2"
    assert info.get_dicts() == list(info) and info.get_dicts()[0] is not info[0]
    picked = lite_hrnet.create_backbone(name, features_only=True, out_indices=(1, 3))
    assert picked.feature_info.channels() == [info.channels(1), info.channels(3)]


@pytest.mark.parametrize("name", lite_hrnet.list_models())
def test_every_variant_has_its_paper_metadata(name: str) -> None:
    info = variant_info(name)
    assert info.spec == lite_hrnet.create_backbone(name).spec
    assert info.input_size == (256, 192)
    assert {r.dataset for r in info.paper_results} >= {"coco", "mpii"}
    assert all(0 < r.value < 100 for r in info.paper_results)
