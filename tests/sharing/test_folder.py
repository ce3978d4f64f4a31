"""Saved folders (config.json + model.safetensors): round trips of a pose model with a
5-joint keypoint set of its own and of a segmentation model with its own class table,
exact outputs; the safety cases (a pickle under the safetensors name, an unknown
variant or field, weights that do not fit)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import lite_hrnet
from lite_hrnet.codecs.heatmap_codec import HeatmapCodec
from lite_hrnet.meta.class_table import ClassTable
from lite_hrnet.meta.keypoints import KeypointSet
from lite_hrnet.models import CheckpointError, load_checkpoint
from lite_hrnet.sharing import CONFIG_FILE, WEIGHTS_FILE, read_config
from lite_hrnet.testing.weights import randomize
from tests.support import TINY_BACKBONE

STAR = KeypointSet(
    "star", ["top", "left_arm", "right_arm", "left_leg", "right_leg"],
    flip_pairs=[(1, 2), (3, 4)], skeleton=[(0, 1), (0, 2), (0, 3), (0, 4)],
)  # fmt: skip
TABLE = ClassTable.build(["road", "car", "tree"], [[9, 9, 9], [200, 0, 0], [0, 150, 0]], 255)
X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def _pose_model() -> lite_hrnet.PoseModel:
    model = lite_hrnet.create_pose_model("lite_hrnet_18", keypoint_set=STAR, **TINY_BACKBONE)
    return randomize(model).eval()


@pytest.fixture
def pose_folder(tmp_path: Path) -> tuple[lite_hrnet.PoseModel, Path]:
    model = _pose_model()
    codec = HeatmapCodec.from_input_hw((64, 64), dark=True)
    training = {"model.name": "lite_hrnet_18", "seed": 7}
    lite_hrnet.save_pretrained(
        model, tmp_path / "pose", keypoint_set=STAR, codec=codec, training=training
    )
    return model, tmp_path / "pose"


def test_a_pose_model_round_trips_with_its_keypoints_and_codec(pose_folder) -> None:
    model, folder = pose_folder
    loaded, config = lite_hrnet.load_pretrained_folder(folder)
    with torch.no_grad():
        assert torch.equal(loaded(X), model(X))
    assert not loaded.training
    assert KeypointSet.from_dict(config["keypoint_set"]) == STAR
    assert HeatmapCodec.from_dict(config["codec"]) == HeatmapCodec.from_input_hw(
        (64, 64), dark=True
    )
    assert config["architecture"] == {
        "variant": "lite_hrnet_18",
        "spec_overrides": {"num_modules": [1, 1, 1], "width": 0.25},
    }
    assert config["training"]["seed"] == 7
    assert config["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_a_segmentation_model_round_trips_with_its_class_table(tmp_path: Path) -> None:
    model = lite_hrnet.create_segmentation_model(
        "naive_lite_hrnet_18", num_classes=3, head_channels=16, **TINY_BACKBONE
    )
    model = randomize(model).eval()
    lite_hrnet.save_pretrained(model, tmp_path, class_table=TABLE)
    loaded, config = lite_hrnet.load_pretrained_folder(tmp_path)
    with torch.no_grad():
        assert torch.equal(loaded(X), model(X))
    assert ClassTable.from_dict(config["class_table"]) == TABLE
    assert config["head_channels"] == 16


def test_a_features_backbone_round_trips(tmp_path: Path) -> None:
    model = lite_hrnet.create_backbone(
        "lite_hrnet_30", features_only=True, out_indices=(1, 3), width=0.5
    )
    model = randomize(model).eval()
    lite_hrnet.save_pretrained(model, tmp_path)
    loaded = lite_hrnet.from_pretrained(tmp_path)
    assert loaded.out_indices == (1, 3)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(loaded(X), model(X)))


def test_the_weights_file_loads_as_a_checkpoint_with_its_joint_names(pose_folder) -> None:
    """``model.safetensors`` is a checkpoint like any other: a head for other joints keeps
    the rows of the joints whose names the folder's keypoint set shares."""
    model, folder = pose_folder
    fewer = STAR.replace(name="arms", joint_names=("left_arm", "right_arm"), flip_pairs=[(0, 1)],
                         skeleton=())  # fmt: skip
    tuned = lite_hrnet.create_pose_model(
        "lite_hrnet_18", keypoint_set=fewer, checkpoint_path=folder / WEIGHTS_FILE,
        **TINY_BACKBONE,
    )  # fmt: skip
    head, old = tuned.keypoint_head.final_layer.weight, model.keypoint_head.final_layer.weight
    assert torch.equal(head, old[1:3])


def test_save_refuses_a_keypoint_set_of_another_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="5 joints"):
        lite_hrnet.save_pretrained(
            lite_hrnet.create_pose_model("lite_hrnet_18", num_joints=4, **TINY_BACKBONE),
            tmp_path,
            keypoint_set=STAR,
        )


def test_a_pickle_under_the_safetensors_name_is_never_unpickled(pose_folder) -> None:
    model, folder = pose_folder

    class Boom:
        def __reduce__(self):
            return (print, ("unpickled!",))

    (folder / WEIGHTS_FILE).write_bytes(pickle.dumps({"state_dict": Boom()}))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        lite_hrnet.from_pretrained(folder)
    with pytest.raises(CheckpointError, match=WEIGHTS_FILE):
        load_checkpoint(model, folder / WEIGHTS_FILE)


def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / CONFIG_FILE).read_text())
    for key, value in changes.items():
        if key == "variant":
            config["architecture"]["variant"] = value
        else:
            config[key] = value
    (folder / CONFIG_FILE).write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variant": "lite_hrnet_99"}, "unknown variant 'lite_hrnet_99'"),
        ({"colour": "red"}, r"unknown fields \['colour'\]"),
        ({"task": "depth"}, "task 'depth'"),
        ({"format": 2}, "folder format 2"),
        ({"architecture": {"variant": "lite_hrnet_18", "spec_overrides": {"depth": 3}}},
         "unknown LiteHRNetSpec field"),
        ({"codec": {"input_size": [64, 64], "heatmap_size": [16, 16], "sigma": 2, "blur": 1}},
         "unknown HeatmapCodec field"),
        ({"keypoint_set": {"name": "x", "joint_names": ["a"], "colour": 1}}, "unknown fields"),
    ],
)  # fmt: skip
def test_a_config_that_cannot_be_read_names_the_file(pose_folder, changes, message) -> None:
    _, folder = pose_folder
    _edit_config(folder, **changes)
    with pytest.raises(CheckpointError, match=message) as caught:
        lite_hrnet.from_pretrained(folder)
    assert str(folder / CONFIG_FILE) in str(caught.value)


def test_weights_that_do_not_fit_the_config_raise_checkpoint_error(pose_folder) -> None:
    _, folder = pose_folder
    _edit_config(folder, num_joints=6, keypoint_set=None)
    with pytest.raises(CheckpointError, match="does not fit") as caught:
        lite_hrnet.from_pretrained(folder)
    assert str(folder / WEIGHTS_FILE) in str(caught.value)


def test_a_config_that_is_not_json_is_named(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_config(tmp_path / CONFIG_FILE)


def test_a_folder_without_a_config_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=CONFIG_FILE):
        lite_hrnet.from_pretrained(tmp_path)


def test_the_saved_weights_are_the_models_tensors_exactly(pose_folder) -> None:
    from safetensors.torch import load_file

    model, folder = pose_folder
    saved = load_file(str(folder / WEIGHTS_FILE))
    expected = model.state_dict()
    assert saved.keys() == expected.keys()
    assert all(np.array_equal(saved[k].numpy(), expected[k].numpy()) for k in expected)
