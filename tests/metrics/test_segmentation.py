"""Confusion-matrix mIoU: hand-computed cases and the official Cityscapes evaluation."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lite_hrnet.meta.cityscapes import (
    CLASS_NAMES,
    IGNORE_INDEX,
    label_ids_to_train_ids,
    train_ids_to_label_ids,
)
from lite_hrnet.metrics.segmentation import SegmentationIoU, confusion_matrix, iou_from_confusion
from lite_hrnet.metrics.tables import format_iou_table


def test_hand_computed_confusion_matrix() -> None:
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 255]])
    preds = torch.tensor([[0, 1, 1, 1], [2, 0, 2, 0]])
    expected = torch.tensor(
        [
            [1, 1, 0],  # class 0: one right, one taken for 1
            [0, 2, 0],
            [1, 0, 1],  # ignored pixels (255) count nowhere
        ]
    )
    assert torch.equal(confusion_matrix(preds, target, 3), expected)
    # IoU = TP / (TP + FP + FN): 1/(1+1+1), 2/(2+1+0), 1/(1+0+1)
    iou = iou_from_confusion(expected)
    torch.testing.assert_close(iou, torch.tensor([1 / 3, 2 / 3, 1 / 2], dtype=torch.float64))
    metric = SegmentationIoU(num_classes=3)
    metric.update(preds[None], target[None])
    result = metric.compute()
    assert result["mIoU"].item() == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert result["accuracy"].item() == pytest.approx(4 / 6)


def test_absent_classes_have_no_iou_and_leave_the_mean() -> None:
    metric = SegmentationIoU(num_classes=4)
    metric.update(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]))
    result = metric.compute()
    assert result["iou"][:2].tolist() == [1.0, 1.0]
    assert math.isnan(result["iou"][2]) and math.isnan(result["iou"][3])
    assert result["mIoU"].item() == 1.0
    table = format_iou_table(result["iou"], ["a", "b", "c", "d"])
    assert "100.0" in table and "(2 of 4 classes" in table


def test_logits_are_argmaxed_and_batches_accumulate() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 5, 8, 8, generator=gen)
    target = torch.randint(0, 5, (4, 8, 8), generator=gen)
    whole, parts = SegmentationIoU(5), SegmentationIoU(5)
    whole.update(logits, target)
    for i in range(4):
        parts.update(logits[i : i + 1].argmax(1), target[i : i + 1])
    assert torch.equal(whole.confmat, parts.confmat)


def test_out_of_range_classes_are_rejected() -> None:
    with pytest.raises(ValueError, match="target classes"):
        confusion_matrix(torch.tensor([0]), torch.tensor([7]), 3)
    with pytest.raises(ValueError, match="predicted classes"):
        confusion_matrix(torch.tensor([5]), torch.tensor([0]), 3)


def test_equals_cityscapesscripts_pixel_level_evaluation(tmp_path: Path) -> None:
    """Random labelIds maps (void ids included) and predictions, scored both ways."""
    pytest.importorskip("cityscapesscripts")
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official

    rng = np.random.default_rng(0)
    valid_ids = np.arange(34, dtype=np.uint8)  # every id a labelIds PNG can hold
    metric = SegmentationIoU(19, IGNORE_INDEX)
    gt_files, pred_files = [], []
    for i in range(3):
        # Blocky maps so that classes overlap in varied proportions, plus pixel noise.
        blocks = rng.choice(valid_ids, size=(6, 12))
        gt = cv2.resize(blocks, (96, 48), interpolation=cv2.INTER_NEAREST)
        gt[rng.random(gt.shape) < 0.05] = rng.choice(valid_ids)
        pred_train = label_ids_to_train_ids(gt).copy()
        pred_train[pred_train == IGNORE_INDEX] = 0
        wrong = rng.random(gt.shape) < 0.3
        pred_train[wrong] = rng.integers(0, 19, size=int(wrong.sum()))
        gt_files.append(str(tmp_path / f"gt{i}_gtFine_labelIds.png"))
        pred_files.append(str(tmp_path / f"pred{i}.png"))
        cv2.imwrite(gt_files[-1], gt)
        cv2.imwrite(pred_files[-1], train_ids_to_label_ids(pred_train))
        metric.update(
            torch.from_numpy(pred_train.astype(np.int64))[None],
            torch.from_numpy(label_ids_to_train_ids(gt).astype(np.int64))[None],
        )

    args = copy.copy(official.args)
    args.evalInstLevelScore = False  # needs instanceIds files; not part of the IoU
    args.JSONOutput = False
    args.quiet = True
    results = official.evaluateImgLists(pred_files, gt_files, args)
    ours = metric.compute()
    for name, value in zip(CLASS_NAMES, ours["iou"].tolist()):
        theirs = results["classScores"][name]
        if math.isnan(theirs):
            assert math.isnan(value), name
        else:
            assert value == pytest.approx(theirs, abs=1e-12), name
    assert ours["mIoU"].item() == pytest.approx(results["averageScoreClasses"], abs=1e-12)


def _ddp_worker(rank: int, world: int, init_file: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    preds, target = _random_maps()
    metric = SegmentationIoU(5)
    metric.update(preds[rank::world], target[rank::world])  # each rank sees half the split
    result = metric.compute()  # sums the confusion matrices of all ranks first
    if rank == 0:
        torch.save(result, out)
    dist.destroy_process_group()


def _random_maps() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    target = torch.randint(0, 6, (6, 16, 16), generator=gen)
    target[target == 5] = IGNORE_INDEX
    return torch.randint(0, 5, (6, 16, 16), generator=gen), target


@pytest.mark.ddp
def test_ddp_ranks_sum_to_the_single_process_value(tmp_path: Path) -> None:
    out = tmp_path / "result.pt"
    torch.multiprocessing.spawn(
        _ddp_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True
    )
    single = SegmentationIoU(5)
    single.update(*_random_maps())
    expected = single.compute()
    result = torch.load(out, weights_only=True)
    torch.testing.assert_close(result["iou"], expected["iou"])
    assert result["mIoU"].item() == pytest.approx(expected["mIoU"].item())


def test_indexed_samples_count_once() -> None:
    """The DistributedSampler pads the last batches with repeated samples: with indices,
    a repeated sample does not count twice (one rank's view of padding)."""
    g = torch.Generator().manual_seed(0)
    preds = torch.randint(0, 3, (3, 4, 5), generator=g)
    target = torch.randint(0, 3, (3, 4, 5), generator=g)
    plain = SegmentationIoU(3)
    plain.update(preds, target)
    padded = SegmentationIoU(3)
    padded.update(preds[:2], target[:2], torch.tensor([0, 1]))
    padded.update(preds[[2, 0]], target[[2, 0]], torch.tensor([2, 0]))  # sample 0 again
    expected, got = plain.compute(), padded.compute()
    assert torch.equal(padded._total(), plain.confmat)
    assert got["mIoU"] == expected["mIoU"] and got["accuracy"] == expected["accuracy"]
    counted_twice = SegmentationIoU(3)
    counted_twice.update(preds[[0, 1, 2, 0]], target[[0, 1, 2, 0]])
    assert counted_twice.compute()["accuracy"] != expected["accuracy"]
