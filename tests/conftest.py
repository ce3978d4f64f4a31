"""Session-wide settings and the tiny generated data sets every test directory shares."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from lite_hrnet.synthetic.pose_scenes import ensure_synthetic_coco, ensure_synthetic_mpii
from lite_hrnet.synthetic.street_scenes import (
    FOLDER_CLASSES,
    ensure_synthetic_cityscapes,
    ensure_synthetic_street_folder,
)
from lite_hrnet.tasks.base import ModelConfig
from tests.support import (
    TINY_BACKBONE,
    TINY_POSE,
    TINY_STREET,
    fit_and_save,
    tiny_datamodule,
    tiny_module,
    write_figure_set,
)

torch.set_num_threads(2)


def _absl_handler_on_the_real_stderr() -> None:
    """absl.logging (which openvino imports) makes its handler on the ``sys.stderr`` of the
    moment: in a test, pytest's capture stream. A later ``logging.config.dictConfig`` (the
    Hydra form of a command) closes every handler, and absl's closes a stream that is not
    the current ``sys.stderr``: pytest's own, which ends the whole run. Outside tests the
    stream is the real stderr, which absl leaves open."""
    try:
        import absl.logging
    except ImportError:
        return
    absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__


_absl_handler_on_the_real_stderr()


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _restore_threads():
    """The benchmarks' entry points set torch's thread count for the whole process."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_synthetic_coco(tmp_path_factory.mktemp("coco"), TINY_POSE)


@pytest.fixture(scope="session")
def figure_root(coco_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-joint non-person set in the COCO format on ``coco_root``'s images."""
    return write_figure_set(coco_root, tmp_path_factory.mktemp("figure"))


@pytest.fixture(scope="session")
def mpii_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_synthetic_mpii(tmp_path_factory.mktemp("mpii"), TINY_POSE)


@pytest.fixture(scope="session")
def cityscapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cityscapes")
    return ensure_synthetic_cityscapes(root, TINY_STREET, progress=False)


@pytest.fixture(scope="session")
def street_folder_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The street scenes in the generic images + masks layout, with their own classes."""
    root = tmp_path_factory.mktemp("street_folder")
    return ensure_synthetic_street_folder(root, TINY_STREET, progress=False)


@pytest.fixture(scope="session")
def tiny_checkpoint(cityscapes_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A segmentation Lightning checkpoint after two training steps (written by the Trainer)."""
    out = tmp_path_factory.mktemp("checkpoint")
    return fit_and_save(tiny_module(), tiny_datamodule(cityscapes_root), out / "tiny.ckpt", 2)


# The generic layout's class table as a user writes it (names and a palette).
FOLDER_TABLE = {
    "classes": [name for name, _ in FOLDER_CLASSES],
    "palette": [[10 * k, 255 - 20 * k, 7 * k] for k in range(len(FOLDER_CLASSES))],
}


@pytest.fixture(scope="session")
def tiny_folder_checkpoint(
    street_folder_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A checkpoint of two training steps on the generic layout, with its own classes."""
    from lite_hrnet.data.segmentation.datamodule import SegmentationDataModule
    from lite_hrnet.tasks.segmentation import SegmentationTaskConfig

    out = tmp_path_factory.mktemp("folder_checkpoint")
    data = SegmentationDataModule(
        street_folder_root, batch_size=2, num_workers=0, input_size=[64, 64], **FOLDER_TABLE
    )
    module, _ = SegmentationTaskConfig().build(
        data.cfg, ModelConfig(width=0.25, num_modules=[1, 1, 1])
    )
    return fit_and_save(module, data, out / "folder.ckpt", steps=2)


@pytest.fixture(scope="session")
def tiny_pose_model() -> torch.nn.Module:
    """A reduced-width lite_hrnet_18 pose model (17 joints) with random trained-scale weights."""
    from lite_hrnet.models import create_pose_model
    from lite_hrnet.testing.weights import randomize

    return randomize(create_pose_model("lite_hrnet_18", **TINY_BACKBONE)).eval()


@pytest.fixture(scope="session")
def tiny_package(
    tiny_pose_model: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """``tiny_pose_model`` as an AOTInductor package for 64x64 inputs (compiles for minutes)."""
    from lite_hrnet.deploy.package import export_package

    path = tmp_path_factory.mktemp("package") / "tiny.pt2"
    return export_package(
        tiny_pose_model, path, input_size=(64, 64), variant="lite_hrnet_18", task="pose",
        outputs=17,
    )  # fmt: skip
