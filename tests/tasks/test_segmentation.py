"""SegmentationModule: a fast_dev_run, the loss, the schedule and the saved checkpoint."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import lightning as L
import pytest
import torch
import torch.nn.functional as F

from lite_hrnet import load_checkpoint
from lite_hrnet.models.factory import create_segmentation_model
from lite_hrnet.tasks.segmentation import SegmentationModule, ohem_cross_entropy, poly_with_warmup
from tests.support import STREET_SIZE as SIZE
from tests.support import TINY_BACKBONE, tiny_datamodule, tiny_module


def _trainer(tmp_path: Path, **kwargs) -> L.Trainer:
    options = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
    }
    return L.Trainer(**{**options, **kwargs})


def test_fast_dev_run_trains_validates_and_tests(cityscapes_root: Path, tmp_path: Path) -> None:
    module = tiny_module()
    trainer = _trainer(tmp_path, fast_dev_run=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, tiny_datamodule(cityscapes_root))
        assert torch.isfinite(trainer.callback_metrics["train/loss"])
        trainer.test(module, tiny_datamodule(cityscapes_root), verbose=False)
    metrics = trainer.callback_metrics
    assert 0.0 <= metrics["test/mIoU"].item() <= 1.0
    assert any(key.startswith("test/IoU/") for key in metrics)


def test_workers_channels_last_and_ohem_run(cityscapes_root: Path, tmp_path: Path) -> None:
    module = tiny_module(channels_last=True, ohem=True, ohem_min_kept=100)
    datamodule = tiny_datamodule(cityscapes_root, num_workers=1)
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, datamodule)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert "val/mIoU" in trainer.callback_metrics


def test_ohem_keeps_the_hard_pixels() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 6, 6, generator=gen)
    target = torch.randint(0, 4, (2, 6, 6), generator=gen)
    target[0, 0] = 255
    plain = F.cross_entropy(logits, target, ignore_index=255)
    # Every probability is <= 1: a threshold of 1 keeps all pixels, as plain cross-entropy.
    torch.testing.assert_close(ohem_cross_entropy(logits, target, threshold=1.0), plain)
    # A threshold of 0 keeps the min_kept + 1 hardest pixels.
    losses = F.cross_entropy(logits, target, ignore_index=255, reduction="none")[target != 255]
    hardest = losses.sort(descending=True).values[:10].mean()
    torch.testing.assert_close(
        ohem_cross_entropy(logits, target, threshold=0.0, min_kept=9), hardest
    )


def _ohem_reference(logits, target, threshold, min_kept, ignore=255):
    """HRNet's OHEM written with boolean indexing (data-dependent shapes, host syncs)."""
    pixel_loss = F.cross_entropy(logits, target, ignore_index=ignore, reduction="none")
    valid = target != ignore
    if not valid.any():
        return pixel_loss.sum() * 0.0
    safe = target.clamp(max=logits.shape[1] - 1)[:, None]
    prob = logits.softmax(dim=1).gather(1, safe)[:, 0][valid]
    kth = prob.kthvalue(min(min_kept + 1, prob.numel())).values
    return pixel_loss[valid][prob <= torch.clamp(kth, min=threshold)].mean()


@pytest.mark.parametrize("ignored", [0.0, 0.5, 0.97, 1.0])
@pytest.mark.parametrize(("threshold", "min_kept"), [(0.7, 10), (0.0, 30), (0.3, 500)])
def test_ohem_matches_the_indexing_formulation(
    ignored: float, threshold: float, min_kept: int
) -> None:
    gen = torch.Generator().manual_seed(int(ignored * 100) + min_kept)
    logits = torch.randn(2, 5, 8, 8, generator=gen, requires_grad=True)
    target = torch.randint(0, 5, (2, 8, 8), generator=gen)
    target[torch.rand(target.shape, generator=gen) < ignored] = 255
    got = ohem_cross_entropy(logits, target, threshold=threshold, min_kept=min_kept)
    expected = _ohem_reference(logits, target, threshold, min_kept)
    torch.testing.assert_close(got, expected)
    got.backward()  # connected to the logits even when no pixel is valid
    assert logits.grad is not None


def test_poly_schedule_steps_every_iteration(cityscapes_root: Path, tmp_path: Path) -> None:
    module = tiny_module(lr=0.1, poly_power=1.0)
    trainer = _trainer(tmp_path, max_steps=2, limit_val_batches=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, tiny_datamodule(cityscapes_root))
    optimizer = trainer.optimizers[0]
    assert optimizer.defaults["fused"]  # the default fused_optimizer=True
    assert optimizer.param_groups[0]["momentum"] == 0.9
    assert optimizer.param_groups[0]["weight_decay"] == 5e-4
    # Two steps of two: lr = 0.1 * (1 - 2 / 2) ** 1.
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0)


def test_poly_with_warmup_ramps_then_decays() -> None:
    factors = [poly_with_warmup(step, total=100, power=1.0, warmup=10) for step in range(101)]
    assert factors[0] == pytest.approx(0.1)  # the ramp starts at 0.1 x lr
    assert factors[5] == pytest.approx((0.1 + 0.9 * 0.5) * 0.95)
    assert factors[10] == pytest.approx(0.9)  # plain poly from the end of the ramp
    assert factors[100] == 0.0
    assert poly_with_warmup(3, total=10, power=0.9, warmup=0) == pytest.approx(0.7**0.9)


def test_adamw_option(cityscapes_root: Path, tmp_path: Path) -> None:
    module = tiny_module(
        optimizer="adamw", lr=1e-3, weight_decay=1e-4, warmup_iters=4, fused_optimizer=False
    )
    trainer = _trainer(tmp_path, max_steps=2, limit_val_batches=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, tiny_datamodule(cityscapes_root))
    optimizer = trainer.optimizers[0]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert not optimizer.defaults["fused"]
    assert optimizer.param_groups[0]["weight_decay"] == 1e-4
    schedule = trainer.lr_scheduler_configs[0].scheduler.lr_lambdas[0]
    assert schedule(1) == pytest.approx(poly_with_warmup(1, total=2, power=0.9, warmup=4))
    with pytest.raises(ValueError, match="optimizer"):
        SegmentationModule(optimizer="lamb")


def test_checkpoint_loads_safely_into_a_plain_model(tiny_checkpoint: Path) -> None:
    ckpt = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["backbone"] == "lite_hrnet_18"
    model = create_segmentation_model("lite_hrnet_18", 19, **TINY_BACKBONE)
    load_checkpoint(model, tiny_checkpoint)
    weight = ckpt["state_dict"]["model.decode_head.classifier.weight"]
    assert torch.equal(model.decode_head.classifier.weight, weight)


def test_compiled_module_keeps_plain_state_dict_keys() -> None:
    module = tiny_module(compile=True)
    assert all(k.startswith("model.") for k in module.state_dict())
    assert "model.decode_head.classifier.weight" in module.state_dict()


def test_validation_predictions_png(cityscapes_root: Path, tmp_path: Path) -> None:
    path = tiny_module().save_validation_predictions(
        tiny_datamodule(cityscapes_root), 2, tmp_path / "predictions.png"
    )
    image = cv2.imread(str(path))
    assert image.shape == (2 * SIZE[0], 3 * SIZE[1], 3)  # rows: image | label | prediction


def test_the_class_table_is_restored_from_the_checkpoint(tiny_folder_checkpoint: Path) -> None:
    from tests.conftest import FOLDER_TABLE

    module = SegmentationModule.from_checkpoint(tiny_folder_checkpoint)
    table = module.class_table
    assert list(table.names) == FOLDER_TABLE["classes"] and module.cfg.num_classes == 8
    assert table.palette.tolist() == FOLDER_TABLE["palette"] and table.ignore_index == 255
    assert module.model.decode_head.classifier.out_channels == 8
    assert module.build_metric("test").num_classes == 8


def test_a_module_without_names_keeps_the_cityscapes_table_or_numbers_its_classes() -> None:
    assert tiny_module().class_names[0] == "road"
    module = tiny_module(num_classes=3)
    assert module.class_names == ["class_0", "class_1", "class_2"]
    assert module.class_table.palette.shape == (3, 3)
    with pytest.raises(ValueError, match=r"class_names: 2 names for 3 classes"):
        tiny_module(num_classes=3, class_names=["a", "b"])
