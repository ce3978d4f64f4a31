"""The keypoint metrics under DDP (2 CPU processes, gloo) equal the single-process value."""

import json

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lite_hrnet.meta.keypoints import COCO
from lite_hrnet.metrics.coco_keypoints import CocoKeypointAP
from tests.metrics.test_pose_metrics import _person, _write_gt

pytestmark = pytest.mark.ddp  # 2 gloo processes

N = 5  # odd: a DistributedSampler over 2 ranks pads one index


def _predictions():
    rng = np.random.default_rng(0)
    people = [(1 + i % 2, _person(30 + 90 * i, 20 + 5 * i)) for i in range(N)]
    kpts = [np.concatenate([p + rng.normal(0, 3, p.shape), np.ones((17, 1))], 1) for _, p in people]
    return people, torch.tensor(np.stack(kpts)), torch.tensor([i for i, _ in people])


def _update(metric, kpts, image_ids, indices):
    idx = torch.tensor(indices)
    metric.update(
        kpts[idx], torch.ones(len(idx), 2), torch.linspace(0.5, 1, N)[idx], image_ids[idx], idx
    )


def _worker(rank, init_file, ann_file, out):
    # A rendezvous file, not a TCP port: no port can be taken by another process meanwhile.
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    _, kpts, image_ids = _predictions()
    # DistributedSampler(shuffle=False) over 5 items on 2 ranks: [0, 2, 4] and [1, 3, 0]
    shard = list(range(rank, N + 1, 2))
    shard = [i % N for i in shard]
    metric = CocoKeypointAP(ann_file, COCO.sigmas)
    _update(metric, kpts, image_ids, shard)
    stats = {k: float(v) for k, v in metric.compute().items()}
    if rank == 0:
        with open(out, "w") as f:
            json.dump(stats, f)
    dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
def test_coco_metric_ddp_equals_single_process(tmp_path):
    people, kpts, image_ids = _predictions()
    _write_gt(tmp_path / "gt.json", people)
    single = CocoKeypointAP(tmp_path / "gt.json", COCO.sigmas)
    _update(single, kpts, image_ids, list(range(N)))
    expected = {k: float(v) for k, v in single.compute().items()}
    out = tmp_path / "ddp.json"
    init = str(tmp_path / "init")
    mp.spawn(_worker, args=(init, str(tmp_path / "gt.json"), str(out)), nprocs=2)
    assert json.loads(out.read_text()) == pytest.approx(expected)
    assert 0 < expected["AP"] < 1
