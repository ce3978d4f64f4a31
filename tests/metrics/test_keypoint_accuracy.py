"""PCK, AUC, EPE and NME against values computed by hand on two 3-joint instances."""

import math

import numpy as np
import pytest
import torch

from lite_hrnet.metrics.keypoint_accuracy import AUC, EPE, NME, PCKAccuracy

# Ground truth (2, 3, 2): joint 2 of instance 0 is unlabelled.
GT = np.array([[[0, 0], [30, 40], [5, 5]], [[10, 10], [10, 50], [20, 20]]], np.float64)
MASK = np.array([[1, 1, 0], [1, 1, 1]], np.float64)
# Errors: instance 0: 10 (6-8-10), 25 (15-20-25), unlabelled; instance 1: 20, 3, 12.
PRED = GT + np.array([[[6, 8], [15, 20], [95, 95]], [[12, 16], [3, 0], [0, 12]]], np.float64)
# Boxes [x, y, w, h]: the longer sides are 100 and 80, the areas 5000 and 3200.
BOXES = np.array([[0, 0, 100, 50], [0, 0, 40, 80]], np.float64)


def _run(metric, indices=(0, 1)):
    t = lambda a: torch.tensor(a)  # noqa: E731
    idx = list(indices)
    metric.update(t(PRED[idx]), t(GT[idx]), t(MASK[idx]), t(BOXES[idx]), torch.tensor(idx))
    return float(metric.compute()[metric.name])


def test_pck_of_the_box_averages_per_joint():
    # PCK@0.2: 20 px for instance 0 (box side 100), 16 px for instance 1 (side 80).
    # Joint 0: 10 ok, 20 missed -> 1/2; joint 1: 25 missed, 3 ok -> 1/2; joint 2: 12 ok -> 1.
    # mmpose averages per joint: (1/2 + 1/2 + 1) / 3 = 2/3 (pooled it would be 3/5).
    assert _run(PCKAccuracy(0.2)) == pytest.approx(2 / 3)
    # At 0.1 (10 and 8 px, strictly below): only the 3 px error -> (0 + 1/2 + 0) / 3.
    assert _run(PCKAccuracy(0.1)) == pytest.approx(1 / 6)


def test_auc_is_the_mean_pck_over_thresholds_of_a_fixed_length():
    # norm 30 px, 4 thresholds: 0, 7.5, 15, 22.5 px.
    # PCKs: 0; (0 + 1/2 + 0)/3; (1/2 + 1/2 + 1)/3; (1 + 1/2 + 1)/3 -> mean 5/12.
    assert _run(AUC(norm_factor=30, num_thresholds=4)) == pytest.approx(5 / 12)


def test_epe_is_the_mean_pixel_error_of_labelled_joints():
    assert _run(EPE()) == pytest.approx((10 + 25 + 20 + 3 + 12) / 5)


def test_nme_by_box_size():
    expected = ((10 + 25) / math.sqrt(5000) + (20 + 3 + 12) / math.sqrt(3200)) / 5
    assert _run(NME()) == pytest.approx(expected)


def test_nme_by_two_joints():
    # Joints 0 and 1 of the ground truth are 50 px (instance 0) and 40 px apart.
    expected = (10 / 50 + 25 / 50 + 20 / 40 + 3 / 40 + 12 / 40) / 5
    assert _run(NME(joints=(0, 1))) == pytest.approx(expected)


def test_a_padded_duplicate_counts_once():
    metric = EPE()
    t = lambda a: torch.tensor(a)  # noqa: E731
    metric.update(t(PRED), t(GT), t(MASK), t(BOXES), torch.tensor([0, 1]))
    metric.update(t(PRED[1:]), t(GT[1:]), t(MASK[1:]), t(BOXES[1:]), torch.tensor([1]))
    assert float(metric.compute()["EPE"]) == pytest.approx(14.0)


def test_lower_is_better_for_errors():
    assert PCKAccuracy.higher_is_better and AUC.higher_is_better
    assert not EPE.higher_is_better and not NME.higher_is_better
