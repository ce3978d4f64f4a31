"""End-to-end: Hydra-composed runs on generated COCO / MPII data, then the CLIs."""

import json
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from lite_hrnet.cli.main import main as cli
from lite_hrnet.config.store import register_configs
from lite_hrnet.training.run import run_training
from tests.support import TINY_POSE as TINY

pytestmark = pytest.mark.slow  # training runs and the CLIs on their checkpoints


def _compose(overrides: list[str]):
    register_configs()
    with initialize_config_module(config_module="lite_hrnet.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    return OmegaConf.to_object(cfg)


def _tiny(data: str, root: Path) -> list[str]:
    return [
        f"data={data}",
        f"data.root={root}",
        "data.input_size=[64,64]",
        "data.batch_size=4",
        "data.num_workers=0",
        "logger=none",
        "trainer.enable_progress_bar=false",
        "model.width=0.5",
        "model.num_modules=[1,1,1]",
        # the fixtures' generator settings, so the data module finds the data complete
        f"data.synthetic.seed={TINY.seed}",
        f"data.synthetic.num_train_images={TINY.num_train_images}",
        f"data.synthetic.num_val_images={TINY.num_val_images}",
    ]


@pytest.mark.parametrize(
    "data, fixture, monitor",
    [("synthetic_coco", "coco_root", "val/AP"), ("synthetic_mpii", "mpii_root", "val/PCKh")],
)
def test_fast_dev_run(data, fixture, monitor, request, tmp_path):
    root = request.getfixturevalue(fixture)
    cfg = _compose([*_tiny(data, root), "debug=fast_dev_run", f"monitor={monitor}"])
    assert cfg.data.synthetic is not None  # the same generator entry point, data already there
    assert run_training(cfg, tmp_path) is None


def test_config_errors_name_the_key():
    with pytest.raises(Exception, match="sigmaa"):
        _compose(["data.sigmaa=2"])
    with pytest.raises(Exception, match=r"data.batch_size"):
        _compose(["data.batch_size=many"])
    cfg = _compose(["data.input_size=[100,100]"])
    with pytest.raises(ValueError, match=r"data.input_size: \[H, W\] with multiples of 32"):
        cfg.validate()
    cfg = _compose(["model.name=lite_hrnet_99"])
    with pytest.raises(ValueError, match=r"model.name: unknown variant 'lite_hrnet_99'"):
        cfg.validate()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, coco_root):
    out = tmp_path_factory.mktemp("run")
    cfg = _compose(
        [
            *_tiny("synthetic_coco", coco_root),
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.num_sanity_val_steps=0",
            "trainer.check_val_every_n_epoch=1",
            "prediction_images=2",
            "logger=csv",
        ]
    )
    score = run_training(cfg, out)
    return out, score


def test_training_writes_checkpoint_predictions_and_summary(trained):
    out, score = trained
    summary = json.loads((out / "summary.json").read_text())
    assert Path(summary["best_checkpoint"]).is_file()
    assert summary["best_val/AP"] == score and 0 <= score <= 1
    assert set(summary["test"]) >= {"AP", "AP50", "AR"}
    assert summary["complexity"]["params"] > 0
    assert (out / "predictions.png").stat().st_size > 0
    assert (out / "csv" / "metrics.csv").is_file()


def test_eval_cli(trained, coco_root, tmp_path, capsys):
    out, _ = trained
    preds = tmp_path / "preds.json"
    code = cli(
        [
            "eval",
            "coco",
            "--checkpoint",
            str(out / "checkpoints/best.ckpt"),
            "--data-root",
            str(coco_root),
            "--num-workers",
            "0",
            "--output",
            str(preds),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert re.search(r"\|\s+AP\s+\|\s+AP50\s+\|", text) and "predictions written to" in text
    results = json.loads(preds.read_text())
    assert results and set(results[0]) == {"image_id", "category_id", "keypoints", "score"}
    assert len(results[0]["keypoints"]) == 51


def test_eval_cli_errors(trained, tmp_path, capsys):
    out, _ = trained
    code = cli(
        [
            "eval",
            "coco",
            "--checkpoint",
            str(out / "checkpoints/best.ckpt"),
            "--data-root",
            str(tmp_path / "nowhere"),
            "--num-workers",
            "0",
        ]
    )
    assert code == 2 and "not found" in capsys.readouterr().err


def test_predict_cli(trained, coco_root, tmp_path):
    out, _ = trained
    image = sorted((coco_root / "val2017").iterdir())[0]
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({image.name: [[100, 50, 120, 300], [300, 80, 100, 250]]}))
    dest = tmp_path / "pred"
    code = cli(
        [
            "predict",
            "pose",
            str(image),
            "--checkpoint",
            str(out / "checkpoints/best.ckpt"),
            "--boxes",
            str(boxes),
            "--output",
            str(dest),
        ]
    )
    assert code == 0
    assert (dest / f"{image.stem}_pose.png").stat().st_size > 0
    people = json.loads((dest / "keypoints.json").read_text())[image.name]
    assert len(people) == 2 and len(people[0]) == 17
    code = cli(
        [
            "predict",
            "pose",
            str(image),
            "--checkpoint",
            str(out / "checkpoints/best.ckpt"),
            "--output",
            str(dest),
        ]
    )
    assert code == 0 and len(json.loads((dest / "keypoints.json").read_text())[image.name]) == 1
