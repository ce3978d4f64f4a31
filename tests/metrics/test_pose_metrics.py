import json
import math

import numpy as np
import pytest
import torch

from lite_hrnet.codecs.scores import rescore
from lite_hrnet.meta.keypoints import COCO
from lite_hrnet.metrics.coco_keypoints import CocoKeypointAP, coco_keypoint_eval
from lite_hrnet.metrics.oks import oks_iou, oks_nms
from lite_hrnet.metrics.pckh import pckh

SIGMAS = np.array(COCO.sigmas)


def _person(x0: float, y0: float) -> np.ndarray:
    return np.array([[x0 + 7 * j, y0 + 11 * j] for j in range(17)], np.float64)


def test_oks_iou_hand_computed():
    g = np.zeros((17, 3))
    d = np.zeros((1, 17, 3))
    d[0, 5, 0] = 3.0  # one joint off by 3 pixels
    area = 400.0
    e = 9 / (2 * SIGMAS[5]) ** 2 / area / 2
    expected = (16 + math.exp(-e)) / 17
    assert oks_iou(g, d, area, np.array([area]), SIGMAS)[0] == pytest.approx(expected, rel=1e-9)


def test_oks_nms_keeps_best_of_duplicates():
    a = np.concatenate([_person(0, 0), np.ones((17, 1))], 1)
    near = a.copy()
    near[:, 0] += 0.5
    far = a.copy()
    far[:, 0] += 200
    kpts = np.stack([a, near, far])
    keep = oks_nms(kpts, np.array([0.8, 0.9, 0.5]), np.full(3, 5000.0), SIGMAS, 0.9)
    assert keep == [1, 2]
    assert oks_nms(kpts, np.array([0.8, 0.9, 0.5]), np.full(3, 5000.0), SIGMAS, 1.0) == [1, 0, 2]


def test_rescore_uses_keypoints_above_threshold():
    scores = np.array([0.1, 0.5, 0.9, 0.15])
    assert rescore(scores, 0.8) == pytest.approx(0.8 * 0.7)
    assert rescore(np.zeros(4), 0.8) == 0


def _write_gt(path, people):
    anns = []
    for i, (image_id, joints) in enumerate(people):
        kpts = np.concatenate([joints, np.full((17, 1), 2)], 1)
        x, y = joints.min(0)
        w, h = joints.max(0) - joints.min(0)
        anns.append(
            {
                "id": i + 1,
                "image_id": image_id,
                "category_id": 1,
                "iscrowd": 0,
                "area": 5000.0,
                "bbox": [x, y, w, h],
                "num_keypoints": 17,
                "keypoints": kpts.reshape(-1).tolist(),
            }
        )
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in (1, 2)]
    path.write_text(
        json.dumps(
            {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
        )
    )


def _metric_on(ann_file, predictions, box_scores=None):
    metric = CocoKeypointAP(ann_file, COCO.sigmas)
    n = len(predictions)
    kpts = torch.tensor(np.stack([p[1] for p in predictions]))
    kpts = torch.cat([kpts, torch.ones(n, 17, 1, dtype=kpts.dtype)], 2)
    scores = torch.ones(n) if box_scores is None else torch.tensor(box_scores)
    metric.update(
        kpts, torch.ones(n, 2), scores, torch.tensor([p[0] for p in predictions]), torch.arange(n)
    )
    return {k: float(v) for k, v in metric.compute().items()}


def test_coco_metric_perfect_predictions(tmp_path):
    people = [(1, _person(50, 20)), (1, _person(300, 40)), (2, _person(100, 100))]
    _write_gt(tmp_path / "gt.json", people)
    stats = _metric_on(tmp_path / "gt.json", people)
    assert stats["AP"] == pytest.approx(1.0) and stats["AR"] == pytest.approx(1.0)


def test_coco_metric_known_oks(tmp_path):
    """One person; a prediction with OKS 0.72 passes 5 of the 10 thresholds .50:.95."""
    people = [(1, _person(50, 20))]
    _write_gt(tmp_path / "gt.json", people)
    # Shift every joint so that exp(-d^2 / (2 s^2 k^2)) = 0.72 for each: OKS = 0.72.
    k2 = (2 * SIGMAS) ** 2
    d = np.sqrt(-np.log(0.72) * 2 * 5000.0 * k2)
    pred = people[0][1] + np.stack([d, np.zeros(17)], 1)
    stats = _metric_on(tmp_path / "gt.json", [(1, pred)])
    assert stats["AP"] == pytest.approx(0.5, abs=1e-6)
    assert stats["AP50"] == pytest.approx(1.0) and stats["AP75"] == pytest.approx(0.0)


def test_coco_metric_equals_pycocotools(tmp_path):
    people = [(1, _person(50, 20)), (1, _person(300, 40)), (2, _person(100, 100))]
    _write_gt(tmp_path / "gt.json", people)
    rng = np.random.default_rng(0)
    preds = [(i, p + rng.normal(0, s, p.shape)) for (i, p), s in zip(people, (2, 5, 9))]
    scores = [0.9, 0.6, 0.8]  # distinct: COCOeval's ranking of ties depends on list order
    ours = _metric_on(tmp_path / "gt.json", preds, scores)
    from lite_hrnet.formats.coco import load_coco

    # Keypoint scores of 1 make the official rescoring return the box score unchanged.
    results = [
        {
            "image_id": i,
            "category_id": 1,
            "score": s,
            "keypoints": np.concatenate([p, np.ones((17, 1))], 1).reshape(-1).tolist(),
        }
        for (i, p), s in zip(preds, scores)
    ]
    direct = coco_keypoint_eval(load_coco(tmp_path / "gt.json"), results)
    assert ours == pytest.approx(direct)
    assert 0 < ours["AP"] < 1


def test_coco_metric_counts_padded_duplicates_once(tmp_path):
    people = [(1, _person(50, 20)), (2, _person(100, 100))]
    _write_gt(tmp_path / "gt.json", people)
    metric = CocoKeypointAP(tmp_path / "gt.json", COCO.sigmas, results_file=tmp_path / "r.json")
    for idx in ([0, 1], [1]):  # index 1 arrives twice, as a DistributedSampler pads
        kpts = torch.tensor(
            np.stack([np.concatenate([people[i][1], np.ones((17, 1))], 1) for i in idx])
        )
        metric.update(
            kpts,
            torch.ones(len(idx), 2),
            torch.ones(len(idx)),
            torch.tensor([people[i][0] for i in idx]),
            torch.tensor(idx),
        )
    assert float(metric.compute()["AP"]) == pytest.approx(1.0)
    assert len(json.loads((tmp_path / "r.json").read_text())) == 2


def _pckh_gt(n: int = 2) -> dict[str, np.ndarray]:
    pos = np.zeros((16, 2, n)) + 100.0
    heads = np.zeros((2, 2, n))
    side = 10 / 0.6 / math.sqrt(2)  # head size 0.6 x diagonal = 10 pixels
    heads[1] = side
    missing = np.zeros((16, n))
    missing[0, 1] = 1  # record 1 has no right ankle
    return {"pos_gt_src": pos, "jnt_missing": missing, "headboxes_src": heads}


def test_pckh_hand_computed():
    gt = _pckh_gt()
    pred = np.full((2, 16, 2), 99.0)  # 1-based gt at 100 -> 0-based 99: exact
    pred[0, 9, 0] += 4.0  # head: 0.4 head sizes, a hit at 0.5
    pred[1, 9, 0] += 6.0  # head: 0.6, a miss
    pred[0, 12, 0] += 6.0  # right shoulder: a miss
    pred[:, 6] += 50.0  # pelvis misses do not count
    stats = pckh(pred, gt)
    assert stats["Head"] == pytest.approx(0.5)
    assert stats["Shoulder"] == pytest.approx((0.5 + 1.0) / 2)
    assert stats["Ankle"] == pytest.approx(1.0)
    # 14 joints counted (pelvis, thorax out); 27 labelled, 25 within 0.5 head sizes
    assert stats["PCKh"] == pytest.approx(25 / 27)
    # at 0.1 (1 pixel) the head hit and the shoulder error miss as well
    assert stats["PCKh@0.1"] == pytest.approx(24 / 27)


def test_pckh_missing_predictions_are_misses():
    gt = _pckh_gt()
    pred = np.full((2, 16, 2), 99.0)
    pred[1] = np.nan
    assert pckh(pred, gt)["PCKh"] == pytest.approx(14 / 27)


def test_coco_metric_scores_nan_predictions_as_misses(tmp_path):
    """pycocotools matches a NaN prediction to any person (NaN < threshold is false)."""
    people = [(1, _person(50, 20)), (1, _person(300, 40)), (2, _person(100, 100))]
    _write_gt(tmp_path / "gt.json", people)
    nan = [(i, np.full_like(p, np.nan)) for i, p in people]
    with pytest.warns(UserWarning, match="3 of 3 keypoint predictions hold NaN"):
        stats = _metric_on(tmp_path / "gt.json", nan)
    assert stats["AP"] == 0.0
    with pytest.warns(UserWarning, match="1 of 3 keypoint predictions hold NaN"):
        stats = _metric_on(tmp_path / "gt.json", people, [1.0, float("nan"), 1.0])
    assert 0 < stats["AR"] < 1


def test_coco_metric_with_nobody_to_score_is_an_error(tmp_path):
    """COCOeval ignores num_keypoints=0 people: every number would be -1, without a word."""
    people = [(1, _person(50, 20)), (2, _person(100, 100))]
    _write_gt(tmp_path / "gt.json", people)
    data = json.loads((tmp_path / "gt.json").read_text())
    for ann in data["annotations"]:
        ann["num_keypoints"] = 0
    (tmp_path / "gt.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"gt\.json: nothing to score: no non-crowd person"):
        _metric_on(tmp_path / "gt.json", people)


def test_coco_metric_counts_num_keypoints_when_the_file_lacks_it(tmp_path):
    people = [(1, _person(50, 20))]
    _write_gt(tmp_path / "gt.json", people)
    data = json.loads((tmp_path / "gt.json").read_text())
    del data["annotations"][0]["num_keypoints"]  # COCOeval would raise KeyError
    (tmp_path / "gt.json").write_text(json.dumps(data))
    assert _metric_on(tmp_path / "gt.json", people)["AP"] == pytest.approx(1.0)


def test_pose_metrics_feed_each_metric_from_one_batch(tmp_path):
    from lite_hrnet.meta.keypoints import KeypointSet
    from lite_hrnet.metrics.pose_metrics import build_pose_metrics

    kset = KeypointSet("pair", ("eye_l", "eye_r"), sigmas=(0.05, 0.05))
    metrics = build_pose_metrics(["EPE", "NME", "PCK"], kset, tmp_path / "unused.json",
                                 nme_joints=["eye_l", "eye_r"])  # fmt: skip
    gt = torch.tensor([[[0.0, 0.0], [40.0, 0.0]]])
    batch = {
        "joints": gt,
        "joints_visible": torch.ones(1, 2),
        "bbox": torch.tensor([[0.0, 0.0, 50.0, 20.0]]),
        "index": torch.tensor([0]),
    }
    keypoints = torch.cat([gt + torch.tensor([[3.0, 4.0], [0.0, 0.0]]), torch.ones(1, 2, 1)], 2)
    metrics.update(keypoints, batch)
    out = {k: float(v) for k, v in metrics.compute().items()}
    # Errors 5 and 0 px; the eyes are 40 px apart; PCK@0.2 of the 50 px side: both within 10.
    assert list(out) == ["EPE", "NME", "PCK"]
    assert out == pytest.approx({"EPE": 2.5, "NME": 2.5 / 40, "PCK": 1.0})
    metrics.reset()
    with pytest.raises(ValueError, match="no joint named 'nose'"):
        build_pose_metrics(["NME"], kset, tmp_path, nme_joints=["nose", "eye_r"])
