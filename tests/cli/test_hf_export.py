"""``lite-hrnet export --format hf``: a checkpoint of ours becomes a saved folder that
``lite_hrnet.from_pretrained`` loads to the same outputs, with the checkpoint's keypoint set
and codec (or class table), the run's config, and a model card with the run's results."""

from __future__ import annotations

import json
from pathlib import Path

import torch

import lite_hrnet
from lite_hrnet.cli.main import main
from lite_hrnet.codecs.heatmap_codec import HeatmapCodec
from lite_hrnet.meta.class_table import ClassTable
from lite_hrnet.meta.keypoints import KeypointSet
from lite_hrnet.tasks.pose import PoseEstimationModule
from lite_hrnet.tasks.segmentation import SegmentationModule
from lite_hrnet.testing.weights import randomize
from lite_hrnet.training.resume_config import CONFIG_KEY

X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
ARM = KeypointSet("arm", ["base", "elbow_l", "elbow_r"], flip_pairs=[(1, 2)])


def _run_folder(tmp_path: Path, module, summary: dict) -> Path:
    """A run folder as training leaves it: checkpoints/best.ckpt and summary.json."""
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    checkpoint = tmp_path / "run" / "checkpoints" / "best.ckpt"
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            CONFIG_KEY: {"data.format": "coco", "data.root": "/data/arms", "seed": 3},
        },
        checkpoint,
    )
    (tmp_path / "run" / "summary.json").write_text(json.dumps(summary))
    return checkpoint


def test_a_pose_checkpoint_exports_with_its_keypoints_codec_and_results(tmp_path: Path) -> None:
    module = PoseEstimationModule(keypoint_set=ARM)
    randomize(module.model)
    module.codec = module.codec.with_input_hw((64, 64)).replace(dark=True)
    summary = {"test": {"AP": 0.5}, "monitor": "val/AP", "best": 0.625,
               "complexity": {"params": 1234}}  # fmt: skip
    checkpoint = _run_folder(tmp_path, module, summary)
    out = tmp_path / "hf"
    argv = ["export", "lite_hrnet_18", "--format", "hf", "--checkpoint", str(checkpoint),
            "--output", str(out)]  # fmt: skip
    assert main(argv) == 0
    model, config = lite_hrnet.load_pretrained_folder(out)
    with torch.no_grad():
        assert torch.equal(model(X), module.model.eval()(X))
    assert KeypointSet.from_dict(config["keypoint_set"]) == ARM
    assert HeatmapCodec.from_dict(config["codec"]) == module.codec
    assert config["training"]["data.root"] == "/data/arms"
    card = (out / "README.md").read_text()
    for expected in ("license: apache-2.0", "| test/AP | 0.5000 |", "| best val/AP (validation) "
                     "| 0.6250 |", "/data/arms", "Keypoint set 'arm' (3 joints)",
                     "elbow_l", "github.com/HRNet/Lite-HRNet"):  # fmt: skip
        assert expected in card, expected


def test_a_segmentation_checkpoint_exports_with_its_class_table(tmp_path: Path) -> None:
    table = ClassTable.build(["sky", "road", "car"], [[0, 0, 200], [90, 90, 90], [200, 0, 0]])
    module = SegmentationModule(
        "lite_hrnet_18", class_names=list(table.names), class_palette=table.palette.tolist()
    )
    randomize(module.model)
    checkpoint = _run_folder(tmp_path, module, {"test": {"mIoU": 0.25}})
    out = tmp_path / "hf"
    argv = ["export", "lite_hrnet_18", "--task", "segmentation", "--format", "hf",
            "--checkpoint", str(checkpoint), "--output", str(out)]  # fmt: skip
    assert main(argv) == 0
    model, config = lite_hrnet.load_pretrained_folder(out)
    with torch.no_grad():
        assert torch.equal(model(X), module.model.eval()(X))
    assert ClassTable.from_dict(config["class_table"]) == table
    card = (out / "README.md").read_text()
    assert "| test/mIoU | 0.2500 |" in card
    assert "pipeline_tag: image-segmentation" in card


def test_without_a_checkpoint_the_card_says_what_is_missing(tmp_path: Path) -> None:
    assert main(["export", "naive_lite_hrnet_18", "--joints", "0", "--format", "hf",
                 "--output", str(tmp_path)]) == 0  # fmt: skip
    model = lite_hrnet.from_pretrained(tmp_path)
    assert isinstance(model, lite_hrnet.LiteHRNet)
    assert "No run summary was given." in (tmp_path / "README.md").read_text()
