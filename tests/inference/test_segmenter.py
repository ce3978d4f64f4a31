"""``Segmenter``: from every kind of source, the class map of the evaluation's code
(``SegmentationModule.predict_probabilities``: whole image or sliding window, scales,
flip) with the checkpoint's settings or the ones given; overlays in the class table's
palette."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lite_hrnet import create_segmentation_model, save_pretrained
from lite_hrnet.codecs.image import normalize_image
from lite_hrnet.inference.drawing import overlay
from lite_hrnet.inference.segmenter import Segmenter
from lite_hrnet.meta.cityscapes import CLASS_TABLE as CITYSCAPES
from lite_hrnet.meta.class_table import ClassTable
from lite_hrnet.tasks.segmentation import SegmentationModule
from lite_hrnet.testing.weights import randomize
from tests.support import TINY_BACKBONE

NAMES = ["road", "car", "sky"]
PALETTE = [[200, 10, 10], [10, 200, 10], [10, 10, 200]]
WINDOW = {
    "val_window": [64, 64],
    "val_stride": [32, 32],
    "val_scales": [1.0, 0.5],
    "val_flip": True,
}


@pytest.fixture(scope="module")
def module() -> SegmentationModule:
    """A tiny three-class module with random weights that slides a window at test time."""
    built = SegmentationModule(
        backbone_overrides=TINY_BACKBONE, class_names=NAMES, class_palette=PALETTE, **WINDOW
    )
    return randomize(built, seed=4).eval()


@pytest.fixture(scope="module")
def ckpt(module: SegmentationModule, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seg_sources") / "seg.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def _image(seed: int = 0, shape: tuple[int, int] = (64, 96)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), np.uint8)


def _evaluated(module: SegmentationModule, image: np.ndarray) -> np.ndarray:
    """The class map of the evaluation's code path."""
    x = torch.from_numpy(normalize_image(image))[None]
    return module.predict_probabilities(x, image.shape[:2])[0].argmax(0).numpy()


def test_a_checkpoint_segments_as_its_evaluation_does(module, ckpt) -> None:
    seg = Segmenter(ckpt)
    assert (seg.window, seg.stride, seg.scales, seg.flip) == ((64, 64), (32, 32), (1.0, 0.5), True)
    assert seg.class_table.names == tuple(NAMES)
    image = _image()
    classes = seg(image)
    assert classes.shape == (64, 96) and classes.dtype == np.int64
    np.testing.assert_array_equal(classes, _evaluated(module, image))
    np.testing.assert_array_equal(seg([image, image])[1], classes)


def test_options_replace_the_checkpoints_settings(ckpt) -> None:
    seg = Segmenter(ckpt, window=(32, 64), scales=[1.0], flip=False)
    assert (seg.window, seg.stride, seg.scales, seg.flip) == ((32, 64), None, (1.0,), False)
    reference = SegmentationModule.from_checkpoint(
        ckpt, val_window=[32, 64], val_stride=None, val_scales=[1.0], val_flip=False
    ).eval()
    image = _image(1, (70, 100))  # padded to the window's multiples, cropped back
    np.testing.assert_array_equal(seg(image), _evaluated(reference, image))
    whole = Segmenter(ckpt, base_size=(32, 64))
    assert whole(image).shape == (70, 100)


def test_a_module_a_plain_state_dict_and_a_saved_folder_segment_alike(tmp_path: Path) -> None:
    network = randomize(create_segmentation_model("lite_hrnet_18", 19), seed=5).eval()
    path = tmp_path / "plain.pth"
    torch.save(network.state_dict(), path)
    from_file, from_module = Segmenter(path), Segmenter(network)
    assert from_file.class_table == from_module.class_table == CITYSCAPES
    image = _image(2)
    reference = SegmentationModule.from_checkpoint(path).eval()
    np.testing.assert_array_equal(from_file(image), _evaluated(reference, image))
    np.testing.assert_array_equal(from_module(image), from_file(image))
    table = ClassTable.build([f"part_{i}" for i in range(19)])
    saved = save_pretrained(network, tmp_path / "saved", class_table=table)
    from_folder = Segmenter(saved)
    assert from_folder.class_table == table
    np.testing.assert_array_equal(from_folder(image), from_file(image))


@pytest.mark.slow  # an ONNX export and session
def test_an_onnx_file_of_a_fixed_size_slides_its_window(module, tmp_path: Path) -> None:
    from lite_hrnet.deploy import export_onnx

    onnx_file = export_onnx(module.model, tmp_path / "seg.onnx", input_size=(64, 64))
    seg = Segmenter(onnx_file, scales=[1.0], flip=False)
    assert seg.window == (64, 64) and seg.class_table.num_classes == 3
    reference = Segmenter(module.model, window=(64, 64), scales=[1.0], flip=False)
    image = _image(3)
    np.testing.assert_allclose(seg.probabilities(image), reference.probabilities(image), atol=1e-4)


def test_the_overlay_takes_the_class_tables_palette(ckpt) -> None:
    seg = Segmenter(ckpt, scales=[1.0], flip=False)
    image = _image(4)
    classes = seg(image)
    expected = overlay(image, classes, 0.5, palette=np.array(PALETTE, np.uint8))
    np.testing.assert_array_equal(seg.overlay(image), expected)
    np.testing.assert_array_equal(
        seg.overlay(image, np.zeros_like(classes), alpha=1.0)[0, 0], PALETTE[0]
    )


def test_bad_sources_and_images_are_named(ckpt, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"checkpoint not found: .*missing\.ckpt"):
        Segmenter(tmp_path / "missing.ckpt")
    pose = tmp_path / "pose.ckpt"
    from lite_hrnet.tasks.pose import PoseEstimationModule

    pose_module = PoseEstimationModule(backbone_overrides=TINY_BACKBONE)
    torch.save(
        {"state_dict": pose_module.state_dict(), "hyper_parameters": dict(pose_module.hparams)},
        pose,
    )
    with pytest.raises(ValueError, match="a pose checkpoint, not a segmentation one"):
        Segmenter(pose)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB"):
        Segmenter(ckpt)(np.zeros((8, 8), np.uint8))
