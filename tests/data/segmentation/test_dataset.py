"""The Cityscapes reader on generated data, and every kind of bad input."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lite_hrnet.data.images import CorruptImageWarning
from lite_hrnet.data.loaders import collate_skipping
from lite_hrnet.data.segmentation.dataset import CityscapesDataset
from lite_hrnet.data.segmentation.transforms import build_eval_transform
from lite_hrnet.meta.cityscapes import IGNORE_INDEX, NAME_TO_LABEL
from lite_hrnet.synthetic.marker import MARKER
from lite_hrnet.synthetic.street_scenes import (
    StreetSceneConfig,
    ensure_synthetic_cityscapes,
    render_street_scene,
)
from tests.support import STREET_SIZE as SIZE
from tests.support import fake_png


@pytest.fixture
def copy_root(cityscapes_root: Path, tmp_path: Path) -> Path:
    """A private copy of the generated set, for tests that damage it."""
    root = tmp_path / "cityscapes"
    shutil.copytree(cityscapes_root, root)
    return root


def _first(root: Path, split: str = "val") -> tuple[Path, Path]:
    image = sorted((root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"))[0]
    city = image.parent.name
    stem = image.name.removesuffix("_leftImg8bit.png")
    return image, root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"


def test_generated_set_has_the_real_layout_and_ids(cityscapes_root: Path) -> None:
    images = sorted((cityscapes_root / "leftImg8bit" / "train").glob("*/*_leftImg8bit.png"))
    labels = sorted((cityscapes_root / "gtFine" / "train").glob("*/*_gtFine_labelIds.png"))
    assert len(images) == len(labels) == 4
    assert images[0].name == "aachen_000000_000019_leftImg8bit.png"
    label = cv2.imread(str(labels[0]), cv2.IMREAD_UNCHANGED)
    assert label.dtype == np.uint8 and label.shape == SIZE
    assert set(np.unique(label)) <= {label.id for label in NAME_TO_LABEL.values()}
    marker = json.loads((cityscapes_root / MARKER).read_text())
    assert marker["generator"] == "street_scenes/cityscapes"
    assert marker["config"]["num_train_images"] == 4 and marker["config"]["seed"] == 3


def test_scenes_are_deterministic_and_cover_the_street_classes() -> None:
    a = render_street_scene(np.random.default_rng((0, 0, 5)), 128, 256)
    b = render_street_scene(np.random.default_rng((0, 0, 5)), 128, 256)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))

    def names(street_furniture: bool) -> set[str]:
        seen: set[int] = set()
        for i in range(12):
            rng = np.random.default_rng((1, 0, i))
            seen |= set(np.unique(render_street_scene(rng, 128, 256, street_furniture)[1]))
        return {label.name for label in NAME_TO_LABEL.values() if label.id in seen}

    street = {"road", "sidewalk", "building", "sky", "vegetation", "terrain", "car", "person"}
    furniture = {"pole", "traffic sign", "traffic light"}
    default = names(False)
    assert street <= default and not furniture & default
    assert default & {"unlabeled", "ego vehicle", "rectification border", "static", "ground"}
    assert street | furniture <= names(True)


def test_generation_is_skipped_when_complete_and_redone_when_settings_change(
    tmp_path: Path,
) -> None:
    def small(n: int) -> StreetSceneConfig:
        return StreetSceneConfig(num_train_images=n, num_val_images=1, height=64, width=128)

    root = ensure_synthetic_cityscapes(tmp_path, small(2), progress=False)
    image, _ = _first(root)
    stamp = image.stat().st_mtime_ns
    ensure_synthetic_cityscapes(root, small(2), progress=False)
    assert image.stat().st_mtime_ns == stamp
    ensure_synthetic_cityscapes(root, small(1), progress=False)
    assert len(list((root / "leftImg8bit" / "train").rglob("*.png"))) == 1


def test_a_folder_without_marker_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "leftImg8bit").mkdir()
    with pytest.raises(FileExistsError, match=rf"no {re.escape(MARKER)}"):
        cfg = StreetSceneConfig(num_train_images=1, num_val_images=1, height=64, width=128)
        ensure_synthetic_cityscapes(tmp_path, cfg, progress=False)


def test_samples_are_tensors_with_train_ids(cityscapes_root: Path) -> None:
    dataset = CityscapesDataset(cityscapes_root, "val", build_eval_transform())
    sample = dataset[0]
    assert sample["image"].shape == (3, *SIZE) and sample["image"].dtype == torch.float32
    assert sample["label"].shape == SIZE and sample["label"].dtype == torch.int64
    values = set(sample["label"].unique().tolist())
    assert values <= set(range(19)) | {IGNORE_INDEX}
    assert IGNORE_INDEX in values or len(values) > 3


def test_missing_folder_and_missing_label_name_the_path(copy_root: Path) -> None:
    with pytest.raises(FileNotFoundError, match="leftImg8bit/train"):
        CityscapesDataset(copy_root / "nowhere", "train", build_eval_transform())
    _, label = _first(copy_root)
    label.unlink()
    with pytest.raises(FileNotFoundError, match=label.name):
        CityscapesDataset(copy_root, "val", build_eval_transform())


def _counted_skip(root: Path, name: str) -> None:
    """The first val sample is skipped with a warning naming ``name``, and counted by the
    collate inside a worker process."""
    dataset = CityscapesDataset(root, "val", build_eval_transform())
    with pytest.warns(CorruptImageWarning, match=re.escape(name)):
        assert dataset[0] is None
    loader = DataLoader(dataset, batch_size=2, num_workers=1, collate_fn=collate_skipping)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the worker's warning goes to its own stderr
        batches = list(loader)
    assert sum(int(b["skipped"]) for b in batches) == 1


def test_ids_outside_the_table_are_a_counted_skip_naming_the_file(copy_root: Path) -> None:
    _, label = _first(copy_root)
    ids = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    ids[0, :5] = 77
    cv2.imwrite(str(label), ids)
    _counted_skip(copy_root, f"{label.name}: label ids [77]")


def test_size_mismatch_fails_at_set_up_naming_the_file(copy_root: Path) -> None:
    _, label = _first(copy_root)
    ids = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(label), ids[:-8])
    with pytest.raises(ValueError, match=rf"{label.name}: label size \(56, 128\)"):
        CityscapesDataset(copy_root, "val", build_eval_transform())


@pytest.mark.parametrize(
    "convert, found",
    [(lambda ids: np.dstack([ids] * 3), "8-bit colour type 2"),
     (lambda ids: ids.astype(np.uint16) * 256, "16-bit single-channel")],
)  # fmt: skip
def test_label_of_the_wrong_format_fails_at_set_up_naming_the_file(
    copy_root: Path, convert, found: str
) -> None:
    _, label = _first(copy_root)
    ids = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(label), convert(ids))
    with pytest.raises(ValueError, match=rf"{label.name}: a mask PNG must be 8-bit "
                                         rf"single-channel or a palette PNG \(class indices\), "
                                         rf"this one is {found}"):  # fmt: skip
        CityscapesDataset(copy_root, "val", build_eval_transform())


def test_size_mismatch_behind_a_lying_header_is_a_counted_skip(copy_root: Path) -> None:
    """A label whose header agrees with the image but whose pixels do not decode is caught
    by the read (here: a header patched to the image size over a smaller image)."""
    image, label = _first(copy_root)
    ids = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(label), ids[:-8])
    data = bytearray(label.read_bytes())
    data[16:24] = image.read_bytes()[16:24]  # IHDR width and height of the image
    label.write_bytes(bytes(data))
    _counted_skip(copy_root, label.name)


def test_png_header_of_100000_squared_pixels_is_a_counted_skip(copy_root: Path) -> None:
    image, label = _first(copy_root)
    fake_png(image, 100000, 100000)
    cv2.imwrite(str(label), np.zeros((100, 100), np.uint8))  # so that set-up is not the stop
    data = bytearray(label.read_bytes())
    data[16:24] = image.read_bytes()[16:24]
    label.write_bytes(bytes(data))
    _counted_skip(copy_root, image.name)
