"""The pose task owns one ``HeatmapCodec`` and the keypoint set: both travel in its
checkpoints, and checkpoints written before the codec was stored still load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lite_hrnet.codecs import HeatmapCodec
from lite_hrnet.meta.keypoints import COCO, MPII
from lite_hrnet.tasks.pose import PoseEstimationModule
from lite_hrnet.testing.weights import randomize

SMALL = {"num_modules": (1, 1, 1), "width": 0.25}


def _lightning_file(path: Path, module, hparams=None, data=None) -> Path:
    """The layout of our Lightning checkpoints (state dict and hyperparameters)."""
    payload = {
        "state_dict": module.state_dict(),
        "hyper_parameters": dict(hparams or module.hparams),
    }
    if data is not None:
        payload["datamodule_hyper_parameters"] = data
    torch.save(payload, path)
    return path


def test_the_codec_and_the_keypoint_set_come_back_from_the_checkpoint(tmp_path: Path) -> None:
    codec = HeatmapCodec.from_input_hw((128, 96), sigma=1.5, flip_test=False, dark=True)
    module = randomize(
        PoseEstimationModule(backbone_overrides=SMALL, keypoint_set=MPII, codec=codec)
    )
    assert module.codec == codec and not module.cfg.flip_test and module.cfg.dark
    loaded = PoseEstimationModule.from_checkpoint(_lightning_file(tmp_path / "a.ckpt", module))
    assert loaded.codec == codec
    assert loaded.keypoints == MPII and loaded.keypoints.flip_pairs == MPII.flip_pairs
    assert loaded.model.num_joints == MPII.num_joints
    # An option given on loading replaces the codec's.
    flipped = PoseEstimationModule.from_checkpoint(tmp_path / "a.ckpt", flip_test=True)
    assert flipped.codec == codec.replace(flip_test=True)


def test_a_new_codec_is_what_the_next_checkpoint_stores(tmp_path: Path) -> None:
    module = PoseEstimationModule(backbone_overrides=SMALL)
    module.codec = module.codec.with_input_hw((384, 288)).replace(dark=True)
    loaded = PoseEstimationModule.from_checkpoint(_lightning_file(tmp_path / "b.ckpt", module))
    assert loaded.codec.input_hw == (384, 288) and loaded.codec.sigma == 3 and loaded.codec.dark


def _old_hparams(module: PoseEstimationModule, keypoint_set: str) -> dict:
    """The hyperparameters as written before the codec and the keypoint set's facts were
    stored: the set's name, and the decoding options beside the rest of the task config."""
    hparams = {k: v for k, v in module.hparams.items() if k != "codec"}
    return {**hparams, "keypoint_set": keypoint_set}


def test_old_checkpoints_get_their_codec_from_the_runs_data_settings(tmp_path: Path) -> None:
    module = randomize(
        PoseEstimationModule(backbone_overrides=SMALL, keypoint_set="mpii", flip_test=False)
    )
    hparams = {**_old_hparams(module, "mpii"), "dark": True}
    data = {"format": "mpii", "input_size": [128, 128], "heatmap_size": None, "sigma": 1.5}
    path = _lightning_file(tmp_path / "old.ckpt", module, hparams, data)
    loaded = PoseEstimationModule.from_checkpoint(path)
    expected = HeatmapCodec.from_input_hw((128, 128), sigma=1.5, flip_test=False, dark=True)
    assert loaded.codec == expected and loaded.keypoints == MPII
    for a, b in zip(module.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    # Without the data module's settings: the default input of the set's data config.
    path = _lightning_file(tmp_path / "older.ckpt", module, hparams)
    assert PoseEstimationModule.from_checkpoint(path).codec.input_hw == (256, 256)


def test_plain_state_dicts_get_the_preset_with_their_heads_joints(tmp_path: Path) -> None:
    module = PoseEstimationModule(backbone="lite_hrnet_30", keypoint_set="mpii")
    torch.save(module.model.state_dict(), tmp_path / "plain.pth")
    loaded = PoseEstimationModule.from_checkpoint(tmp_path / "plain.pth")
    assert loaded.keypoints == MPII and loaded.hparams.backbone == "lite_hrnet_30"
    # A head of no preset's size: unnamed joints, no flip pairs.
    other = PoseEstimationModule(backbone="lite_hrnet_30", keypoint_set={
        **module.hparams.keypoint_set, "name": "five", "joint_names": list("abcde"),
        "flip_pairs": [], "upper_body_ids": [0], "skeleton": [], "sigmas": None,
    })  # fmt: skip
    torch.save(other.model.state_dict(), tmp_path / "five.pth")
    five = PoseEstimationModule.from_checkpoint(tmp_path / "five.pth")
    assert five.keypoints.num_joints == 5 and five.keypoints.flip_pairs == ()


def test_predictions_decode_with_the_codec() -> None:
    """``predict_people`` crops at the codec's input and decodes with it: a DARK codec
    gives the keypoints that DARK decoding of the same heatmaps gives."""
    codec = HeatmapCodec.from_input_hw((64, 64), flip_test=False, dark=True)
    module = randomize(PoseEstimationModule(backbone_overrides=SMALL, codec=codec)).eval()
    image = np.random.default_rng(0).integers(0, 255, (80, 60, 3), dtype=np.uint8)
    centers, scales = np.array([[30.0, 40.0]], np.float32), np.array([[0.4, 0.4]], np.float32)
    keypoints = module.predict_people(image, centers, scales)
    assert keypoints.shape == (1, COCO.num_joints, 3)
    from lite_hrnet.codecs.crops import crop_for_inference

    crop = torch.from_numpy(crop_for_inference(image, centers[0], scales[0], (64, 64)))[None]
    with torch.no_grad():
        heatmaps = module(crop).numpy()
    assert heatmaps.shape[2:] == (16, 16)
    np.testing.assert_allclose(
        keypoints, codec.decode_to_image(heatmaps, centers, scales), rtol=1e-5
    )
