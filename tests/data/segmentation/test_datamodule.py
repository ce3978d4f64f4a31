"""The images + masks layout and its presets (Pascal VOC, ADE20K), composed through Hydra
and read from tiny files written in each set's real format; and every kind of bad input."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite_hrnet.data.images import CorruptImageWarning
from lite_hrnet.data.segmentation.datamodule import (
    CityscapesDataConfig,
    SegmentationDataModule,
    segmentation_datamodule,
)
from lite_hrnet.meta.class_table import default_palette
from lite_hrnet.training.run import run_training
from tests.data.segmentation.test_masks import write_palette_png
from tests.support import compose_config

SIZE = (32, 48)  # (H, W) of every generated image


def _image(path: Path, seed: int, size: tuple[int, int] = SIZE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (*size, 3), dtype=np.uint8))


def _indices(seed: int, high: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, size, dtype=np.uint8)


def _datamodule(overrides: list[str]) -> SegmentationDataModule:
    cfg = compose_config(["task=segmentation", "data.num_workers=0", "data.batch_size=1",
                          "data.input_size=[32,32]", *overrides])  # fmt: skip
    cfg.validate()
    return segmentation_datamodule(cfg.data)


@pytest.fixture
def voc_root(tmp_path: Path) -> Path:
    """Pascal VOC 2012's layout: JPEG images, palette-PNG masks (VOC's palette, 255 on the
    outlines), the splits' ids in ImageSets/Segmentation."""
    root = tmp_path / "VOC2012"
    ids = {"train": ["2007_000032", "2007_000039"], "val": ["2007_000033"]}
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    for split, names in ids.items():
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(names) + "\n")
        for seed, name in enumerate(names):
            _image(root / "JPEGImages" / f"{name}.jpg", seed)
            mask = _indices(seed, 21)
            mask[0, :] = 255  # an object outline
            write_palette_png(
                root / "SegmentationClass" / f"{name}.png", mask, default_palette(256)
            )
    _image(root / "JPEGImages" / "2008_000001.jpg", 9)  # in no split list: never read
    return root


def test_pascal_voc_reads_the_listed_ids_and_the_palette_indices(voc_root: Path) -> None:
    dm = _datamodule(["data=pascal_voc", f"data.root={voc_root}"])
    assert dm.class_table.names[15] == "person" and dm.class_table.num_classes == 21
    dm.setup("fit")
    assert [p.stem for p in dm.datasets["train"].images] == ["2007_000032", "2007_000039"]
    label = dm.datasets["val"][0]["label"].numpy()
    expected = _indices(0, 21)
    expected[0, :] = 255
    assert np.array_equal(label, expected)  # indices, not the colours the PNG displays
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (1, 3, 32, 32)


@pytest.fixture
def ade_root(tmp_path: Path) -> Path:
    """ADE20K's layout: images/{training,validation}/*.jpg and grey annotation PNGs, 0 the
    "other" label and 1..150 the classes."""
    root = tmp_path / "ADEChallengeData2016"
    for split, seed in (("training", 0), ("validation", 1)):
        name = f"ADE_{split[:5]}_{seed + 1:08d}"
        _image(root / "images" / split / f"{name}.jpg", seed)
        values = _indices(seed, 151)
        (root / "annotations" / split).mkdir(parents=True)
        cv2.imwrite(str(root / "annotations" / split / f"{name}.png"), values)
    return root


def test_ade20k_reduces_label_zero(ade_root: Path) -> None:
    dm = _datamodule(["data=ade20k", f"data.root={ade_root}"])
    assert dm.class_table.num_classes == 150 and dm.class_table.names[0] == "wall"
    assert dm.class_table.to_label_ids(np.array([0, 149])).tolist() == [1, 150]
    dm.setup("validate")
    label = dm.datasets["val"][0]["label"].numpy()
    values = _indices(1, 151)
    assert np.array_equal(label, np.where(values == 0, 255, values.astype(np.int64) - 1))


@pytest.mark.parametrize(
    ("preset", "root_fixture", "a_class"), [("pascal_voc", "voc_root", "person"),
                                            ("ade20k", "ade_root", "wall")],
)  # fmt: skip
def test_a_preset_trains_and_evaluates_with_its_class_names(
    preset: str, root_fixture: str, a_class: str, request, tmp_path: Path, capsys
) -> None:
    """One epoch on the preset's layout, then the best checkpoint's test: its IoU table and
    results file list the preset's classes."""
    root = request.getfixturevalue(root_fixture)
    cfg = compose_config(
        ["task=segmentation", f"data={preset}", f"data.root={root}", "monitor=val/mIoU",
         "data.num_workers=0", "data.batch_size=1", "data.val_batch_size=1",
         "data.input_size=[64,64]", "model.width=0.25", "model.num_modules=[1,1,1]",
         "trainer=cpu", "trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1",
         "trainer.enable_progress_bar=false",
         "callbacks.model_summary=none", "logger=none", "prediction_images=0"]
    )  # fmt: skip
    cfg.validate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = run_training(cfg, tmp_path / "run")
    assert 0.0 <= score <= 1.0
    assert a_class in capsys.readouterr().out
    results = json.loads((tmp_path / "run" / "test_predictions.json").read_text())
    assert list(results["iou"]) == cfg.data.classes and a_class in results["iou"]


@pytest.fixture
def folder_root(tmp_path: Path) -> Path:
    """The generic layout: root/images/{train,val}/*.jpg, root/masks/{train,val}/*.png
    (grey indices of 3 classes, 255 ignored)."""
    root = tmp_path / "folder"
    for split in ("train", "val"):
        (root / "masks" / split).mkdir(parents=True)
        for seed in range(2):
            _image(root / "images" / split / f"img{seed}.jpg", seed)
            mask = _indices(seed, 3)
            mask[-1, :] = 255
            cv2.imwrite(str(root / "masks" / split / f"img{seed}.png"), mask)
    return root


def _folder(root: Path, *extra: str) -> SegmentationDataModule:
    return _datamodule(["data=segmentation_folder", f"data.root={root}",
                        "data.classes=[background,cat,dog]", *extra])  # fmt: skip


def test_the_generic_layout_pairs_images_and_masks_by_stem(folder_root: Path) -> None:
    dm = _folder(folder_root)
    assert dm.class_table.names == ("background", "cat", "dog")
    dm.setup("fit")
    label = dm.datasets["val"][1]["label"].numpy()
    assert set(np.unique(label)) == {0, 1, 2, 255}


def test_a_mask_index_outside_the_class_table_is_a_counted_skip_naming_file_and_field(
    folder_root: Path,
) -> None:
    mask = _indices(0, 3)
    mask[0, 0] = 30  # not one of the 3 classes, not the ignore index
    path = write_palette_png(folder_root / "masks" / "val" / "img0.png", mask, default_palette(256))
    dm = _folder(folder_root)
    dm.setup("validate")
    message = f"{path}: label ids [30] are not in the class table (data.classes has 3 classes"
    with pytest.warns(CorruptImageWarning, match=re.escape(message)):
        assert dm.datasets["val"][0] is None


def test_a_mask_whose_size_differs_from_its_image_fails_at_set_up(folder_root: Path) -> None:
    path = folder_root / "masks" / "train" / "img1.png"
    cv2.imwrite(str(path), np.zeros((SIZE[0] - 4, SIZE[1]), np.uint8))
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: label size \(28, 48\)"):
        _folder(folder_root).setup("fit")


def test_an_image_without_a_mask_fails_at_set_up_naming_the_mask(folder_root: Path) -> None:
    path = folder_root / "masks" / "train" / "img1.png"
    path.unlink()
    with pytest.raises(FileNotFoundError, match=rf"1 of 2 images .* no mask file; first: "
                                                rf"{re.escape(str(path))}"):  # fmt: skip
        _folder(folder_root).setup("fit")


def test_a_split_list_naming_a_missing_image_names_the_line(folder_root: Path) -> None:
    (folder_root / "train.txt").write_text("img0\nimg7\n")
    with pytest.raises(FileNotFoundError, match=r"train\.txt:2: 'img7' has no image"):
        _folder(folder_root, "data.split_list='{split}.txt'", "data.image_dir=images/train",
                "data.mask_dir=masks/train").setup("fit")  # fmt: skip


@pytest.mark.parametrize(
    "overrides, message",
    [
        ([], r"data\.classes: the class names"),
        (["data.classes=[a,b]", "data.palette=[[0,0,0]]"], r"data\.palette: one \[R, G, B\]"),
        (["data.classes=[a,a]"], r"data\.classes: class names must be distinct"),
        (["data.classes=[a,b]", "data.ignore_index=1"], r"data\.ignore_index: must be in 2\.\.255"),
        (["data.classes=[a,b]", "data.label_table=voc"], r"data\.label_table: one of"),
    ],
)
def test_a_bad_class_table_fails_at_start_naming_the_field(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    cfg = compose_config(["task=segmentation", "data=segmentation_folder", *overrides])
    with pytest.raises(ValueError, match=message):
        cfg.validate()


def test_cityscapes_is_the_same_mechanism_with_the_official_table() -> None:
    cfg = compose_config(["experiment=cityscapes_lite_hrnet_18"])
    assert isinstance(cfg.data, CityscapesDataConfig)
    table = cfg.data.class_table()
    assert table.num_classes == 19 and table.names[:2] == ("road", "sidewalk")
    assert cfg.data.lookup()[7] == 0 and cfg.data.lookup()[0] == 255  # road; unlabeled
    with pytest.raises(ValueError, match=r"data\.classes: the cityscapes table has its own"):
        compose_config(["experiment=cityscapes_lite_hrnet_18", "data.classes=[a]"]).validate()


def test_warnings_stay_quiet_for_good_data(folder_root: Path) -> None:
    dm = _folder(folder_root)
    dm.setup("fit")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(dm.datasets["train"][i] is not None for i in range(2))
