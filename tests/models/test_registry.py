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


# A variant of one's own: other widths and depths than any of the paper's.
USER_SPEC = lite_hrnet.LiteHRNetSpec(
    num_modules=(1, 2, 1), channels=(24, 48, 96, 192), num_blocks=(1, 1, 1)
)


@pytest.fixture
def user_variant():
    """``my_lite_hrnet`` registered as a user would, with a 64x64 default input; removed
    from the registry afterwards."""
    from lite_hrnet.models.registry import VARIANTS

    name = "my_lite_hrnet"
    lite_hrnet.register_variant(name, USER_SPEC, input_size=(64, 64))
    try:
        yield name
    finally:
        _ENTRYPOINTS.pop(name, None)
        VARIANTS.pop(name, None)


def test_a_user_variant_has_its_metadata_and_works_in_the_factories(user_variant) -> None:
    from lite_hrnet.models import VARIANT_SPECS

    info = variant_info(user_variant)
    assert info.spec == USER_SPEC and info.input_size == (64, 64)
    assert VARIANT_SPECS[user_variant] == USER_SPEC and user_variant in lite_hrnet.list_models()
    pose = lite_hrnet.create_pose_model(user_variant)
    assert pose.backbone.spec == USER_SPEC and pose.num_joints == info.num_joints
    seg = lite_hrnet.create_segmentation_model(user_variant, num_classes=3)
    assert seg(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 16, 16)


def test_a_bare_registration_reads_the_spec_off_the_model() -> None:
    from lite_hrnet.models.registry import VARIANTS
    from lite_hrnet.models.variants import LiteHRNet

    def bare_lite_hrnet(**kwargs):
        return LiteHRNet(USER_SPEC.replace(**kwargs))

    register_model(bare_lite_hrnet)
    try:
        assert variant_info("bare_lite_hrnet").spec == USER_SPEC
    finally:
        _ENTRYPOINTS.pop("bare_lite_hrnet")
        VARIANTS.pop("bare_lite_hrnet", None)


def test_plain_weights_name_the_registered_variant_they_fit(user_variant, tmp_path) -> None:
    from lite_hrnet.models.checkpoint import guess_variant, match_variant

    state = lite_hrnet.create_pose_model(user_variant).state_dict()
    assert match_variant(state) == user_variant
    assert guess_variant(state).startswith(f"{user_variant} with a")
    narrow = lite_hrnet.create_pose_model(user_variant, width=0.5).state_dict()
    assert match_variant(narrow) is None and guess_variant(narrow).startswith("no registered")


@pytest.mark.slow
def test_a_user_variant_trains_through_hydra_and_comes_back(
    user_variant, coco_root, tmp_path, capsys
) -> None:
    import json

    from lite_hrnet.tasks.pose import PoseEstimationModule
    from lite_hrnet.training.run import run_training
    from tests.support import compose_config, pose_overrides, run_cli

    torch.set_num_threads(1)
    cfg = compose_config(
        [
            *pose_overrides(coco_root),
            f"model.name={user_variant}",
            "model.width=null",
            "model.num_modules=null",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=1",
            "trainer.limit_val_batches=1",
            "trainer.num_sanity_val_steps=0",
            "trainer.check_val_every_n_epoch=1",
            "test_after_fit=false",
            "logger=none",
        ]
    )
    cfg.validate()
    run_training(cfg, tmp_path)
    checkpoint = tmp_path / "checkpoints" / "last.ckpt"
    module = PoseEstimationModule.from_checkpoint(checkpoint)
    assert module.hparams.backbone == user_variant
    assert module.model.backbone.spec == USER_SPEC
    saved = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert all(torch.equal(module.state_dict()[k], v) for k, v in saved.items())
    # Its weights alone name it too.
    torch.save(module.model.state_dict(), tmp_path / "plain.pth")
    plain = PoseEstimationModule.from_checkpoint(tmp_path / "plain.pth")
    assert plain.hparams.backbone == user_variant
    # And the summary knows its default input.
    capsys.readouterr()
    assert run_cli(["summary", user_variant, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (
        summary["input"] == [64, 64] and summary["joints"] == variant_info(user_variant).num_joints
    )
