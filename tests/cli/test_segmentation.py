"""``lite-hrnet eval cityscapes``, ``predict seg`` and ``summary --task segmentation``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from lite_hrnet.cli.main import main
from lite_hrnet.meta.cityscapes import NAME_TO_LABEL, TRAIN_ID_TO_LABEL_ID
from tests.support import STREET_SIZE as SIZE


def test_eval_prints_the_table_and_writes_json(
    cityscapes_root: Path, tiny_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    output = tmp_path / "results.json"
    argv = [
        "eval",
        "cityscapes",
        "--checkpoint",
        str(tiny_checkpoint),
        "--data-root",
        str(cityscapes_root),
    ]
    assert main([*argv, "--num-workers", "0", "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "road" in out and "mIoU" in out and "evaluated 3 of 3 samples; skipped 0" in out
    results = json.loads(output.read_text())
    assert 0.0 <= results["mIoU"] <= 1.0 and set(results["iou"]) >= {"road", "sky"}
    # Sliding window with flip and two scales runs through the same command.
    window = ["--window", "32x64", "--stride", "32x32", "--flip", "--scales", "0.5,1"]
    assert main([*argv, "--num-workers", "0", *window]) == 0


def test_predict_writes_overlays_and_label_ids(
    cityscapes_root: Path, tiny_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    images = cityscapes_root / "leftImg8bit" / "val"
    out = tmp_path / "pred"
    assert main(["predict", "seg", str(images), "--checkpoint", str(tiny_checkpoint),
                 "--output", str(out)]) == 0  # fmt: skip
    assert "wrote 3 of 3 predictions" in capsys.readouterr().out
    stems = sorted(p.name.removesuffix("_leftImg8bit.png") for p in images.rglob("*.png"))
    for stem in stems:
        overlay = cv2.imread(str(out / f"{stem}_overlay.png"))
        label_ids = cv2.imread(str(out / f"{stem}_labelIds.png"), cv2.IMREAD_UNCHANGED)
        assert overlay.shape == (*SIZE, 3)
        assert label_ids.shape == SIZE and label_ids.dtype == np.uint8
        # Only the 19 evaluated classes, written as their labelIds.
        assert set(np.unique(label_ids)) <= set(TRAIN_ID_TO_LABEL_ID.tolist())
    assert NAME_TO_LABEL["road"].id in TRAIN_ID_TO_LABEL_ID


def test_predict_skips_an_undecodable_image(tiny_checkpoint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    good = tmp_path / "street.png"
    cv2.imwrite(str(good), np.full((40, 70, 3), 128, np.uint8))  # not a multiple of 32
    with pytest.warns(UserWarning, match="broken.png"):
        code = main(["predict", "seg", str(bad), str(good), "--checkpoint", str(tiny_checkpoint),
                     "--output", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    assert (tmp_path / "out" / "street_labelIds.png").is_file()


def test_predict_keeps_the_outputs_of_inputs_sharing_a_stem(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    for folder, value in (("a", 40), ("b", 220)):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "x.png"), np.full((32, 64, 3), value, np.uint8))
    out = tmp_path / "out"
    assert main(["predict", "seg", str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png"),
                 "--checkpoint", str(tiny_checkpoint), "--output", str(out)]) == 0  # fmt: skip
    overlays = [cv2.imread(str(out / f"{name}_overlay.png")) for name in ("a_x", "b_x")]
    assert not np.array_equal(*overlays)  # each blended over its own image


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["eval", "cityscapes", "--checkpoint", "missing.ckpt", "--data-root", "."],
            "missing.ckpt",
        ),
        (
            ["predict", "seg", "nowhere.png", "--checkpoint", "{ckpt}", "--output", "o"],
            "nowhere.png",
        ),
        (
            ["eval", "cityscapes", "--checkpoint", "{ckpt}", "--data-root", "{empty}"],
            "leftImg8bit/val",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(
    argv: list[str], message: str, tiny_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    argv = [a.format(ckpt=tiny_checkpoint, empty=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_plain_state_dict_needs_model_name(tiny_checkpoint: Path, tmp_path: Path, capsys) -> None:
    import torch

    state = torch.load(tiny_checkpoint, weights_only=True)["state_dict"]
    plain = tmp_path / "plain.pth"
    torch.save(state, plain)
    argv = ["eval", "cityscapes", "--checkpoint", str(plain), "--data-root", str(tmp_path)]
    assert main(argv) == 2
    assert "pass --model NAME" in capsys.readouterr().err


def test_eval_on_a_split_with_a_missing_label_names_it(
    cityscapes_root: Path, tiny_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(cityscapes_root, root)
    label = sorted((root / "gtFine" / "val").rglob("*_labelIds.png"))[0]
    label.unlink()
    argv = ["eval", "cityscapes", "--checkpoint", str(tiny_checkpoint), "--data-root", str(root)]
    assert main(argv) == 2
    assert label.name in capsys.readouterr().err


def test_summary_covers_the_segmentation_model(capsys) -> None:
    assert main(["summary", "lite_hrnet_18", "--task", "segmentation", "--input", "256x512",
                 "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["classes"] == 19 and result["input"] == [256, 512]
    # Backbone branches (no iterative head) + 600 -> 128 -> 19 head: the paper's 1.1M.
    assert round(result["params"] / 1e6, 1) == 1.1


def test_eval_of_a_checkpoint_on_the_generic_layout_uses_its_classes(
    street_folder_root: Path, tiny_folder_checkpoint: Path, tmp_path: Path, capsys
) -> None:
    from tests.conftest import FOLDER_TABLE

    output = tmp_path / "results.json"
    argv = ["eval", "segmentation", "--checkpoint", str(tiny_folder_checkpoint),
            "--data-root", str(street_folder_root), "--num-workers", "0",
            "--output", str(output)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "street furniture" in out and "segmentation " in out
    assert list(json.loads(output.read_text())["iou"]) == FOLDER_TABLE["classes"]


def test_predict_colours_with_the_checkpoints_palette(
    street_folder_root: Path, tiny_folder_checkpoint: Path, tmp_path: Path
) -> None:
    from tests.conftest import FOLDER_TABLE

    image = sorted((street_folder_root / "images" / "val").glob("*.jpg"))[0]
    out = tmp_path / "pred"
    assert main(["predict", "seg", str(image), "--checkpoint", str(tiny_folder_checkpoint),
                 "--output", str(out), "--alpha", "1"]) == 0  # fmt: skip
    classes = cv2.imread(str(out / f"{image.stem}_labelIds.png"), cv2.IMREAD_UNCHANGED)
    assert classes.max() < len(FOLDER_TABLE["classes"])  # class indices: the masks' own ids
    overlay = cv2.imread(str(out / f"{image.stem}_overlay.png"))[..., ::-1]
    assert np.array_equal(overlay, np.array(FOLDER_TABLE["palette"], np.uint8)[classes])


def test_export_takes_the_class_count_from_the_checkpoint(
    tiny_folder_checkpoint: Path, tmp_path: Path
) -> None:
    import torch

    from lite_hrnet.cli.segmentation import segmentation_classes
    from lite_hrnet.meta.cityscapes import NUM_CLASSES
    from lite_hrnet.models.factory import create_segmentation_model
    from tests.support import TINY_BACKBONE

    assert segmentation_classes(tiny_folder_checkpoint) == 8  # its class table
    assert segmentation_classes(None) == NUM_CLASSES
    plain = tmp_path / "plain.pth"  # a state dict alone: the classifier's rows
    torch.save(create_segmentation_model("lite_hrnet_18", 5, **TINY_BACKBONE).state_dict(), plain)
    assert segmentation_classes(plain) == 5
