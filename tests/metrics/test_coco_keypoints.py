"""COCO AP on keypoint sets other than COCO's: the set's sigmas, the default, several
categories, files without ``num_keypoints`` or ``area``."""

import json

import numpy as np
import pytest
import torch

from lite_hrnet.meta.keypoints import DEFAULT_OKS_SIGMA
from lite_hrnet.metrics.coco_keypoints import CocoKeypointAP

THRESHOLDS = np.linspace(0.5, 0.95, 10)
AREA = 4000.0


def _object(x0: float, y0: float, k: int = 5) -> np.ndarray:
    return np.array([[x0 + 9 * j, y0 + 5 * j] for j in range(k)], np.float64)


def _write(path, people, categories=None, fields=("num_keypoints", "area")):
    anns = []
    for i, (image_id, category_id, joints) in enumerate(people):
        k = len(joints)
        ann = {
            "id": i + 1,
            "image_id": image_id,
            "category_id": category_id,
            "iscrowd": 0,
            "bbox": [*joints.min(0).tolist(), 80.0, 50.0],
            "keypoints": np.concatenate([joints, np.full((k, 1), 2)], 1).reshape(-1).tolist(),
        }
        if "num_keypoints" in fields:
            ann["num_keypoints"] = k
        if "area" in fields:
            ann["area"] = AREA
        anns.append(ann)
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in (1, 2)]
    categories = categories or [{"id": 1, "name": "table"}]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    return path


def _ap(metric, predictions):
    n = len(predictions)
    kpts = torch.tensor(np.stack([p for _, p in predictions]))
    kpts = torch.cat([kpts, torch.ones(n, kpts.shape[1], 1, dtype=kpts.dtype)], 2)
    image_ids = torch.tensor([i for i, _ in predictions])
    metric.update(kpts, torch.ones(n, 2), torch.ones(n), image_ids, torch.arange(n))
    return {k: float(v) for k, v in metric.compute().items()}


def _expected_ap(shift: float, sigmas: np.ndarray) -> float:
    """One instance, every joint shifted by ``shift`` px: OKS = mean exp(-d^2/(2 A (2s)^2));
    AP over .50:.95 is the share of thresholds the OKS reaches."""
    oks = np.mean(np.exp(-(shift**2) / (2 * AREA * (2 * sigmas) ** 2)))
    return float(np.mean(oks >= THRESHOLDS))


def test_ap_uses_the_sets_sigmas(tmp_path):
    sigmas = np.array([0.02, 0.03, 0.05, 0.08, 0.1])
    path = _write(tmp_path / "gt.json", [(1, 1, _object(50, 20))])
    metric = CocoKeypointAP(path, sigmas.tolist())
    stats = _ap(metric, [(1, _object(50, 20) + np.array([4.0, 0.0]))])
    assert stats["AP"] == pytest.approx(_expected_ap(4.0, sigmas))
    # The hand value sits between thresholds, and differs from the default sigmas' one.
    assert 0 < stats["AP"] < 1
    assert _expected_ap(4.0, sigmas) != _expected_ap(4.0, np.full(5, DEFAULT_OKS_SIGMA))


def test_without_sigmas_ap_uses_the_default_and_warns(tmp_path):
    path = _write(tmp_path / "gt.json", [(1, 1, _object(50, 20))])
    with pytest.warns(UserWarning, match="no OKS sigmas.*not comparable"):
        metric = CocoKeypointAP(path, None)
    stats = _ap(metric, [(1, _object(50, 20) + np.array([6.0, 0.0]))])
    expected = _expected_ap(6.0, np.full(5, DEFAULT_OKS_SIGMA))
    assert stats["AP"] == pytest.approx(expected) and 0 < expected < 1


def test_several_categories_are_pooled_and_a_pick_leaves_others_out(tmp_path):
    cats = [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}]
    people = [(1, 3, _object(50, 20)), (2, 7, _object(200, 100))]
    path = _write(tmp_path / "gt.json", people, cats)
    sigmas = [0.05] * 5
    # Both found by their own prediction (the category of a prediction is not known).
    stats = _ap(CocoKeypointAP(path, sigmas), [(1, people[0][2]), (2, people[1][2])])
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)
    # Picking the cats: the dog is no ground truth, the prediction on it a false positive
    # ranked below the true one (scores 1, then 0.5) -> AP stays 1.
    metric = CocoKeypointAP(path, sigmas, categories=["cat"])
    n = 2
    kpts = torch.tensor(np.stack([people[0][2], people[1][2]]))
    kpts = torch.cat([kpts, torch.ones(n, 5, 1, dtype=kpts.dtype)], 2)
    scores, image_ids = torch.tensor([1.0, 0.5]), torch.tensor([1, 2])
    metric.update(kpts, torch.ones(n, 2), scores, image_ids, torch.arange(n))
    assert float(metric.compute()["AP"]) == pytest.approx(1.0)
    # Only the dog: its prediction is the only true one.
    stats = _ap(CocoKeypointAP(path, sigmas, categories=[7]), [(2, people[1][2])])
    assert stats["AP"] == pytest.approx(1.0)


def test_a_file_without_num_keypoints_or_area_is_scored(tmp_path):
    # pycocotools' COCOeval needs both; the metric fills them (labelled joints, box area).
    path = _write(tmp_path / "gt.json", [(1, 1, _object(50, 20))], fields=())
    stats = _ap(CocoKeypointAP(path, [0.05] * 5), [(1, _object(50, 20))])
    assert stats["AP"] == pytest.approx(1.0)
