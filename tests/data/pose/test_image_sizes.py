"""Images whose size differs from their annotation's width and height: a counted skip
naming the file (at set-up from the header, at loading from the decoded image), and an
error when every image differs."""

import shutil
import warnings
from pathlib import Path

import cv2
import pytest

from lite_hrnet.data.images import CorruptImageWarning
from lite_hrnet.data.pose.datamodule import CocoKeypointsDataModule


def _halve(path: Path) -> None:
    image = cv2.imread(str(path))
    cv2.imwrite(str(path), cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2)))


def _module(coco_root, tmp_path) -> CocoKeypointsDataModule:
    root = shutil.copytree(coco_root, tmp_path / "coco")
    return CocoKeypointsDataModule(root, input_size=(64, 64), batch_size=2, num_workers=0)


def test_a_resized_val_image_is_a_counted_skip_naming_it(coco_root, tmp_path):
    dm = _module(coco_root, tmp_path)
    images = sorted((dm.root / "val2017").iterdir())
    _halve(images[0])
    with pytest.warns(UserWarning, match=rf"{images[0].name} is 320x240, annotated 640x480"):
        dm.setup("validate")
    kept = dm.datasets["val"].instances
    assert kept and all(i.image_path != str(images[0]) for i in kept)


def test_every_val_image_resized_is_an_error(coco_root, tmp_path):
    dm = _module(coco_root, tmp_path)
    for path in (dm.root / "val2017").iterdir():
        _halve(path)
    with pytest.raises(ValueError, match="every one of the 4 images checked has another size"):
        dm.setup("validate")


def test_every_train_image_resized_is_an_error(coco_root, tmp_path):
    dm = _module(coco_root, tmp_path)
    for path in (dm.root / "train2017").iterdir():
        _halve(path)
    with pytest.raises(ValueError, match=r"train2017\.json: every one of the"):
        dm.setup("fit")


def test_an_image_resized_after_set_up_is_skipped_when_decoded(coco_root, tmp_path):
    dm = _module(coco_root, tmp_path)
    dm.setup("validate")
    dataset = dm.datasets["val"]
    path = dataset.instances[0].image_path
    _halve(Path(path))
    with pytest.warns(CorruptImageWarning, match=f"{path} is 320x240 pixels, its annotation"):
        assert dataset[0] is None
    other = next(i for i, inst in enumerate(dataset.instances) if inst.image_path != path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dataset[other] is not None
