from pathlib import Path

import pytest

from lite_hrnet.synthetic.pose_scenes import (
    PoseSceneConfig,
    ensure_synthetic_coco,
    ensure_synthetic_mpii,
)

TINY = PoseSceneConfig(seed=3, num_train_images=12, num_val_images=4)


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_synthetic_coco(tmp_path_factory.mktemp("coco"), TINY)


@pytest.fixture(scope="session")
def mpii_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_synthetic_mpii(tmp_path_factory.mktemp("mpii"), TINY)
