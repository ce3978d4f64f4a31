"""``trainer=ddp_cpu``: a job on 2 gloo processes, its ranks > 0 started by Lightning as
``python -m lite_hrnet.cli.train``, evaluates its best checkpoint exactly as one process
does, although the DistributedSampler pads the odd validation sets with a repeated sample."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections import Counter
from pathlib import Path

import lightning as L
import pytest
import torch.distributed as dist

from tests.support import (
    compose_config,
    pose_overrides,
    run_ranks,
    run_script,
    street_overrides,
)

pytestmark = pytest.mark.ddp  # 2 gloo processes per job

REPO = Path(__file__).parents[2]

FIT = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.num_sanity_val_steps=0",
       "trainer.check_val_every_n_epoch=1", "logger=csv"]  # fmt: skip


def _single_process_test(overrides: list[str], checkpoint: Path, results: Path | None):
    cfg = compose_config([*overrides, "trainer=cpu"])
    module, datamodule = cfg.task.build(cfg.data, cfg.model)
    module.results_file = None if results is None else str(results)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False)  # fmt: skip
    trainer.test(module, datamodule, ckpt_path=str(checkpoint), verbose=False)
    return module.last_metrics


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
@pytest.mark.parametrize("task", ["pose", "segmentation"])
def test_ddp_job_evaluates_as_one_process(task: str, request, tmp_path: Path) -> None:
    if task == "pose":
        overrides = pose_overrides(request.getfixturevalue("coco_root"))
    else:
        overrides = street_overrides(request.getfixturevalue("cityscapes_root"))
    out = tmp_path / "ddp"
    done = run_script(["train", *overrides, *FIT, "trainer=ddp_cpu", f"hydra.run.dir={out}"],
                      cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "train_ddp_process_1.log").is_file()  # rank 1 ran this job, in its folder
    summary = json.loads((out / "summary.json").read_text())
    assert "paper_flops" in (out / "csv" / "hparams.yaml").read_text()

    results = tmp_path / "single.json" if task == "pose" else None
    single = _single_process_test(overrides, out / "checkpoints" / "best.ckpt", results)
    assert summary["test"] == single  # every number, exactly
    if task == "pose":  # AP is 0 this early: the predictions themselves must agree too
        ddp = json.loads((out / "test_predictions.json").read_text())
        one = json.loads(results.read_text())
        assert len(ddp) == len(one) == 11
        for a, b in zip(ddp, one):
            assert a["image_id"] == b["image_id"] and a["score"] == pytest.approx(b["score"])
            assert a["keypoints"] == pytest.approx(b["keypoints"], abs=1e-3)
    else:
        assert 0 < single["mIoU"] < 1


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
def test_each_job_of_a_sweep_launches_its_own_ranks(coco_root, tmp_path: Path) -> None:
    """Two DDP jobs one after the other in one process: the second must not join the first
    one's (finished) ranks, and its rank 1 must run its own overrides in its own folder."""
    overrides = [o for o in pose_overrides(coco_root) if not o.startswith("model.width=")]
    sweep = tmp_path / "sweep"
    done = run_script(["train", "-m", *overrides, "trainer=ddp_cpu", "debug=fast_dev_run",
                       "logger=none", "model.width=0.5,0.25", f"hydra.sweep.dir={sweep}"],
                      cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 jobs, 2 ok" in done.stdout
    # Every rank prints its network: two widths, each built by both ranks of its job (DDP
    # also checks that the ranks' parameter shapes agree).
    built = Counter(re.findall(r"lite_hrnet_18: ([\d,]+) params", done.stdout))
    assert len(built) == 2 and set(built.values()) == {2}
    for job in ("0", "1"):
        assert (sweep / job / "train_ddp_process_1.log").is_file()
        assert (sweep / job / "summary.json").is_file()


UNREADABLE_RANK = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path

    import lightning as L

    from tests.support import compose_config, pose_overrides, street_overrides

    rank = int(os.environ["RANK"])
    task, good, bad, out = sys.argv[1:5]
    overrides = pose_overrides if task == "pose" else street_overrides
    # Rank 1 reads a copy of the data set whose training images are all unreadable.
    cfg = compose_config(overrides(Path(good if rank == 0 else bad)))
    module, datamodule = cfg.task.build(cfg.data, cfg.model)
    before = [float(p.sum()) for p in module.parameters()]
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=2,
                        limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule)
    after = [float(p.sum()) for p in module.parameters()]
    skipped = float(trainer.callback_metrics["train/skipped"])
    Path(out).joinpath(f"rank{rank}.json").write_text(
        json.dumps({"before": before, "after": after, "skipped": skipped})
    )
    """
)


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")
@pytest.mark.parametrize("task", ["pose", "segmentation"])
def test_a_rank_whose_batches_are_all_unreadable_trains_on(task, request, tmp_path):
    """Two gloo processes, started as a cluster launcher starts them (RANK, WORLD_SIZE):
    rank 1 reads only unreadable training images. Its batches are skipped and counted, the
    run does not stop, and both ranks end with the same weights, trained on rank 0's."""
    root = request.getfixturevalue("coco_root" if task == "pose" else "cityscapes_root")
    bad = tmp_path / "unreadable"
    shutil.copytree(root, bad)
    images = (bad / "train2017").iterdir() if task == "pose" else (
        bad / "leftImg8bit" / "train").rglob("*.png")  # fmt: skip
    for image in list(images):
        image.write_bytes(b"")
    done = run_ranks(UNREADABLE_RANK, [task, str(root), str(bad), str(tmp_path)], cwd=REPO)
    assert [code for code, _ in done] == [0, 0], done[1][1][-3000:] + done[0][1][-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    batch = compose_config(
        pose_overrides(root) if task == "pose" else street_overrides(root)
    ).data.batch_size
    # The last epoch's skipped samples, summed over the ranks: rank 1's whole batches.
    assert ranks[0]["skipped"] == ranks[1]["skipped"] > 0
    assert ranks[0]["skipped"] % batch == 0
    assert ranks[0]["after"] == ranks[1]["after"]  # the ranks agree
    assert ranks[0]["after"] != ranks[0]["before"]  # and it trained
