"""``hf-hub:org/name`` through huggingface_hub's offline cache, laid out by the test in
a temporary ``HF_HUB_CACHE`` (no network), and pushes with huggingface_hub's API replaced
by a recorder."""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pytest
import torch

import lite_hrnet
from lite_hrnet.meta.keypoints import COCO
from lite_hrnet.models.hub import WeightsDownloadError
from lite_hrnet.sharing import check_repo_id, push_folder
from lite_hrnet.testing.weights import randomize
from tests.sharing.test_folder import STAR, TABLE, X
from tests.support import TINY_BACKBONE, compose_config, pose_overrides

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, offline."""
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return cache


def _publish(folder: Path, cache: Path, repo_id: str) -> None:
    """``folder`` as the cached ``main`` of ``repo_id``: the cache's own layout
    (refs/main naming a commit whose snapshot holds the files)."""
    repo = cache / huggingface_hub.constants.REPO_ID_SEPARATOR.join(["models", *repo_id.split("/")])
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copytree(folder, repo / "snapshots" / COMMIT)


def test_a_pose_model_loads_by_hub_name(tmp_path: Path, hub_cache: Path) -> None:
    model = randomize(
        lite_hrnet.create_pose_model("lite_hrnet_18", keypoint_set=STAR, **TINY_BACKBONE)
    ).eval()
    lite_hrnet.save_pretrained(model, tmp_path / "saved", keypoint_set=STAR)
    _publish(tmp_path / "saved", hub_cache, "org/star-pose")
    loaded, config = lite_hrnet.load_pretrained_folder("hf-hub:org/star-pose")
    by_factory = lite_hrnet.create_pose_model(
        "lite_hrnet_18", pretrained="hf-hub:org/star-pose", **TINY_BACKBONE
    ).eval()
    with torch.no_grad():
        expected = model(X)
        assert torch.equal(loaded(X), expected)
        assert torch.equal(by_factory(X), expected)
    assert config["keypoint_set"]["joint_names"] == list(STAR.joint_names)


def test_a_segmentation_model_loads_by_hub_name_in_the_factory(
    tmp_path: Path, hub_cache: Path
) -> None:
    model = lite_hrnet.create_segmentation_model("lite_hrnet_18", 3, **TINY_BACKBONE)
    model = randomize(model).eval()
    lite_hrnet.save_pretrained(model, tmp_path / "saved", class_table=TABLE)
    _publish(tmp_path / "saved", hub_cache, "org/streets")
    loaded = lite_hrnet.create_segmentation_model(
        "lite_hrnet_18", pretrained="hf-hub:org/streets", **TINY_BACKBONE
    ).eval()
    assert loaded.num_classes == 3
    with torch.no_grad():
        assert torch.equal(loaded(X), model(X))


def test_a_training_run_starts_from_a_hub_name(
    coco_root: Path, tmp_path: Path, hub_cache: Path
) -> None:
    """``model.pretrained=hf-hub:org/name`` in a run's config: it validates without a
    fetch, and the run's network starts from the saved model."""
    overrides = pose_overrides(coco_root)  # COCO's keypoints, width 0.5, one module a stage
    model = lite_hrnet.create_pose_model(
        "lite_hrnet_18", keypoint_set=COCO, width=0.5, num_modules=[1, 1, 1]
    )
    model = randomize(model).eval()
    lite_hrnet.save_pretrained(model, tmp_path / "saved", keypoint_set=COCO)
    _publish(tmp_path / "saved", hub_cache, "org/coco-narrow")
    cfg = compose_config([*overrides, "model.pretrained=hf-hub:org/coco-narrow"])
    cfg.validate()
    module, _ = cfg.task.build(cfg.data, cfg.model)
    with torch.no_grad():
        assert torch.equal(module.model.eval()(X), model(X))
    cfg = compose_config([*overrides, "model.pretrained=hf-hub:org/absent"])
    cfg.validate()
    with pytest.raises(WeightsDownloadError, match="hf-hub:org/absent"):
        cfg.task.build(cfg.data, cfg.model)


def test_a_name_missing_from_the_offline_cache_is_named(hub_cache: Path) -> None:
    with pytest.raises(WeightsDownloadError, match=r"hf-hub:org/absent.*HF_HUB_OFFLINE"):
        lite_hrnet.from_pretrained("hf-hub:org/absent")


@pytest.mark.parametrize("bad", ["no-namespace", "org/na me", "a/b/c", "org/-x"])
def test_a_bad_repository_id_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="repository id"):
        check_repo_id(bad)
    with pytest.raises(ValueError, match="repository id"):
        lite_hrnet.from_pretrained(f"hf-hub:{bad}")


def test_push_creates_the_repository_and_uploads_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    class Recorder:
        def __init__(self, token=None) -> None:
            calls.append(("HfApi", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))
            return "https://hub.example/org/m/commit/1"

    monkeypatch.setattr(huggingface_hub, "HfApi", Recorder)
    model = lite_hrnet.create_backbone("lite_hrnet_18", **TINY_BACKBONE)
    folder = lite_hrnet.save_pretrained(model, tmp_path)
    url = push_folder(folder, "org/m", private=True, token="t")
    assert url.endswith("/commit/1")
    assert calls[0] == ("HfApi", "t")
    assert calls[1] == ("create_repo", "org/m", {"repo_type": "model", "private": True,
                                                 "exist_ok": True})  # fmt: skip
    assert calls[2][1]["folder_path"] == str(folder)
    assert calls[2][1]["repo_id"] == "org/m"
