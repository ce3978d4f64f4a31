"""The pose data configs and LightningDataModules: any COCO-format keypoint set (COCO 2017
is a preset of it: its folder names and its keypoint set) and MPII, in their real layouts.
No Hydra here: ``lite_hrnet.config`` registers the configs as schemas."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...checks import check
from ...codecs.heatmap_codec import RECIPE_INPUT_HW, HeatmapCodec
from ...formats.coco import check_scorable, keypoint_categories, load_coco
from ...meta.keypoint_files import from_yaml_file, print_once
from ...meta.keypoints import KEYPOINT_SETS, KeypointSet
from ...synthetic.object_scenes import ObjectSceneConfig, ensure_synthetic_objects
from ...synthetic.pose_scenes import PoseSceneConfig, ensure_synthetic_coco, ensure_synthetic_mpii
from ..loaders import SplitDataModule, check_loader_options
from .dataset import TopDownDataset
from .image_sizes import drop_resized_images
from .records import (
    PoseInstance,
    check_mpii_ground_truth,
    coco_detection_instances,
    coco_ground_truth_instances,
    mpii_instances,
)
from .transforms import TopDownConfig, TopDownTransform

POSE_FORMATS = ("coco", "mpii")
# Train images whose header size is compared with the annotation at set-up.
TRAIN_IMAGES_CHECKED = 64

# The metrics a pose config can pick (``data.metrics``), whether higher is better ("max")
# or lower ("min"), and the formats whose ground truth they need.
POSE_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "AP": ("max", ("coco",)),  # COCO keypoint AP (pycocotools), the set's OKS sigmas
    "PCKh": ("max", ("mpii",)),  # MPII's official PCKh@0.5 (mpii_gt_val.mat)
    "PCK": ("max", POSE_FORMATS),  # PCK@pck_threshold of the box's longer side
    "AUC": ("max", POSE_FORMATS),  # area under PCK of errors / auc_norm_factor pixels
    "EPE": ("min", POSE_FORMATS),  # mean end-point error in pixels
    "NME": ("min", POSE_FORMATS),  # mean error / distance of nme_joints (else sqrt box area)
}


@dataclass
class PoseDataConfig(TopDownConfig):
    """A top-down pose data set in its real layout (``format``: coco or mpii), with the
    official pipeline (``TopDownConfig``) and the loaders. COCO 2017 by default; the MPII
    defaults are ``MpiiDataConfig``'s, a user's COCO-format files' ``CocoFormatDataConfig``'s.

    ``keypoints``: a preset's name (coco, mpii), a keypoint YAML file (names, flip pairs,
    skeleton, sigmas, ...: ``meta.keypoint_files``), or None to read the set from the train
    annotation file (a YAML file completes it). ``categories``: the COCO categories (ids or
    names) to train on; default: every keypoint category (they must share one layout).
    ``metrics``: the metrics to compute (``POSE_METRICS``); the first is the run's default
    monitor and picks the best checkpoint.
    """

    format: str = "coco"
    root: str = "data/coco"
    batch_size: int = 64
    val_batch_size: int | None = None  # default: batch_size
    num_workers: int = 4
    pin_memory: bool = True
    detection_file: str | None = None  # COCO test boxes; validation uses ground truth
    train_split: str = "train2017"  # COCO folder names
    val_split: str = "val2017"
    # COCO-format files and image folders (relative to root); None: COCO 2017's names.
    train_annotations: str | None = None
    val_annotations: str | None = None
    train_images: str | None = None
    val_images: str | None = None
    keypoints: str | None = "coco"
    categories: list[Any] | None = None
    metrics: list[str] = field(default_factory=lambda: ["AP"])
    pck_threshold: float = 0.2
    auc_norm_factor: float = 30.0  # pixels (mmpose's default, for hands)
    nme_joints: list[Any] | None = None  # two joints (names or indices), e.g. the eye corners
    synthetic: PoseSceneConfig | None = None  # generate this data set under root first

    def __post_init__(self) -> None:
        if isinstance(self.synthetic, dict):
            self.synthetic = PoseSceneConfig(**self.synthetic)

    # Files ---------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """``name`` under ``root`` (an absolute ``name`` stays as it is)."""
        return Path(self.root).expanduser() / Path(name).expanduser()

    def annotation_file(self, split: str) -> Path:
        """The COCO-format annotation file of ``split`` (train; val and test share one)."""
        given = self.train_annotations if split == "train" else self.val_annotations
        if given is not None:
            return self.path(given)
        name = self.train_split if split == "train" else self.val_split
        return self.path(f"annotations/person_keypoints_{name}.json")

    def image_folder(self, split: str) -> Path:
        given = self.train_images if split == "train" else self.val_images
        if given is not None:
            return self.path(given)
        return self.path(self.train_split if split == "train" else self.val_split)

    # The keypoint set ----------------------------------------------------------------
    @property
    def keypoint_set(self) -> KeypointSet:
        """The data set's joints: the preset named by ``keypoints``, else read from the train
        annotation file and ``keypoints`` (a YAML file), once per process."""
        if self.keypoints in KEYPOINT_SETS:
            return KEYPOINT_SETS[self.keypoints]
        yaml_file = None if self.keypoints is None else self.path(self.keypoints)
        if self.format != "coco":
            check(yaml_file is not None, "data.keypoints",
                  f"a preset ({', '.join(KEYPOINT_SETS)}) or a keypoint YAML file")  # fmt: skip
            return _read_keypoint_set(None, None, str(yaml_file), _mtime(yaml_file))
        ann = self.annotation_file("train")
        picked = None if self.categories is None else tuple(self.categories)
        return _read_keypoint_set(
            str(ann),
            picked,
            None if yaml_file is None else str(yaml_file),
            _mtime(ann) + _mtime(yaml_file),
        )

    def category_ids(self, ann_file: Path, coco=None) -> list[int]:
        """The ids of the keypoint categories of ``ann_file`` that this config trains on."""
        data = (coco or load_coco(ann_file)).dataset
        return [c["id"] for c in keypoint_categories(data, ann_file, self.categories)]

    def monitor(self) -> tuple[str, str]:
        """The first metric's logged name and mode, e.g. ("val/AP", "max")."""
        return f"val/{self.metrics[0]}", POSE_METRICS[self.metrics[0]][0]

    def validate(self) -> None:
        check(self.format in POSE_FORMATS, "data.format",
              f"one of {POSE_FORMATS}, got {self.format!r}")  # fmt: skip
        super().validate()
        check_loader_options(self)
        check(self.format == "coco" or self.detection_file is None, "data.detection_file",
              "detection files are COCO-only")  # fmt: skip
        check(len(self.metrics) > 0, "data.metrics", f"one or more of {list(POSE_METRICS)}")
        for name in self.metrics:
            check(name in POSE_METRICS, "data.metrics",
                  f"unknown metric {name!r}; one of {list(POSE_METRICS)}")  # fmt: skip
            check(self.format in POSE_METRICS[name][1], "data.metrics",
                  f"{name} needs the ground truth of {' or '.join(POSE_METRICS[name][1])} "
                  f"files, not {self.format}")  # fmt: skip
        check(self.pck_threshold > 0, "data.pck_threshold", "must be positive")
        check(self.auc_norm_factor > 0, "data.auc_norm_factor", "must be positive (pixels)")
        check(self.nme_joints is None or len(self.nme_joints) == 2, "data.nme_joints",
              "two joints (names or indices), e.g. the outer eye corners")  # fmt: skip
        check(self.format == "coco" or self.categories is None, "data.categories",
              "COCO-format files only")  # fmt: skip
        if self.synthetic is not None:
            self.synthetic.validate()


def _mtime(path: Path | None) -> float:
    return path.stat().st_mtime if path is not None and path.is_file() else 0.0


@lru_cache(maxsize=8)
def _read_keypoint_set(
    ann_file: str | None, categories: tuple | None, yaml_file: str | None, mtime: float
) -> KeypointSet:
    """The keypoint set of an annotation file completed by a YAML file, read once per
    process (``mtime`` reads it again after a change). Says once when it has no flips."""
    base = None if ann_file is None else KeypointSet.from_coco(ann_file, categories)
    kset = base if yaml_file is None else from_yaml_file(yaml_file, base=base)
    if not kset.has_flip_pairs:
        print_once(
            f"keypoint set {kset.name!r} has no flip pairs: training without horizontal flips, "
            "evaluating without the flip test"
        )
    return kset


@dataclass
class CocoFormatDataConfig(PoseDataConfig):
    """Any COCO-format keypoint data set: ``train_annotations``/``val_annotations`` (JSON)
    and ``train_images``/``val_images`` (folders), relative to ``root``. The keypoint set
    is read from the train file (``keypoints``: a YAML file to complete it); PCK and EPE
    are computed beside COCO AP."""

    root: str = "."
    keypoints: str | None = None
    metrics: list[str] = field(default_factory=lambda: ["AP", "PCK", "EPE"])
    # Generate the synthetic gripper-arm set (``synthetic.object_scenes``) under root first.
    synthetic_objects: ObjectSceneConfig | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.synthetic_objects, dict):
            self.synthetic_objects = ObjectSceneConfig(**self.synthetic_objects)

    def generate(self) -> None:
        """Write the generated set this config reads, if it names one (once; then a no-op)."""
        if self.synthetic_objects is not None:
            ensure_synthetic_objects(Path(self.root).expanduser(), self.synthetic_objects)

    @property
    def keypoint_set(self) -> KeypointSet:
        self.generate()  # the set is read from the train file, which must exist first
        return super().keypoint_set

    def validate(self) -> None:
        for key in ("train_annotations", "val_annotations", "train_images", "val_images"):
            check(getattr(self, key) is not None, f"data.{key}",
                  "required with data=coco_format (a path, relative to data.root)")  # fmt: skip
        super().validate()
        if self.synthetic_objects is not None:
            self.synthetic_objects.validate()


@dataclass
class MpiiDataConfig(PoseDataConfig):
    """MPII: the official recipe's 256x256 input and 32 images per GPU, and no half-body
    augmentation."""

    format: str = "mpii"
    root: str = "data/mpii"
    keypoints: str | None = "mpii"
    metrics: list[str] = field(default_factory=lambda: ["PCKh"])
    input_size: list[int] = field(default_factory=lambda: list(RECIPE_INPUT_HW["mpii"]))
    half_body_prob: float = 0.0
    batch_size: int = 32


class TopDownPoseDataModule(SplitDataModule):
    """Top-down person crops of a pose data set; subclasses read their format.

    ``codec`` (a ``HeatmapCodec``, the task's in a run) sets the crop size, the box aspect
    ratio and the targets; the config's ``input_size``, ``heatmap_size`` and ``sigma`` are
    then set to its values, so that the saved hyperparameters say what ran. Without one,
    the codec of the config's settings.
    """

    @property
    def keypoint_set(self) -> KeypointSet:
        return self.cfg.keypoint_set

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        config: Any = None,
        codec: HeatmapCodec | None = None,
        **options: Any,
    ) -> None:
        if codec is not None:
            options.update(
                input_size=list(codec.input_hw), heatmap_size=list(codec.heatmap_hw),
                sigma=codec.sigma,
            )  # fmt: skip
        super().__init__(root, config=config, **options)
        self.codec = codec if codec is not None else self.cfg.heatmap_codec()

    def build_dataset(self, split: str) -> TopDownDataset:
        return self.split_dataset(split, augment=split == "train")

    def split_dataset(self, split: str, augment: bool) -> TopDownDataset:
        """The crops of ``split`` through the training transform (``augment``) or the
        test-time one (ground-truth box, no augmentation), whichever the split: int8
        calibration reads the train split the test-time way."""
        transform = TopDownTransform(self.cfg, self.keypoint_set, augment, self.codec)
        return TopDownDataset(self.instances(split), transform)

    def instances(self, split: str) -> list[PoseInstance]:
        """The person instances of ``split``."""
        raise NotImplementedError

    def evaluation_file(self, stage: str) -> Path:
        """The ground truth the metric of ``stage`` ("val" or "test") scores against."""
        raise NotImplementedError


class CocoKeypointsDataModule(TopDownPoseDataModule):
    """A COCO-format keypoint data set: ``train_annotations`` and ``val_annotations`` with
    their image folders, by default COCO 2017's
    ``root/annotations/person_keypoints_{split}2017.json`` and ``root/{split}2017/*.jpg``;
    read with pycocotools.

    Validation crops the ground-truth boxes. ``test`` uses ``detection_file`` (a COCO
    results list of boxes, e.g. ``COCO_val2017_detections_AP_H_56_person.json``) when
    given, else the ground-truth boxes too.
    """

    config_class = PoseDataConfig

    def ann_file(self, split: str) -> Path:
        return self.cfg.annotation_file(split)

    def generate(self) -> None:
        ensure_synthetic_coco(self.root, self.cfg.synthetic)

    def prepare_data(self) -> None:
        if isinstance(self.cfg, CocoFormatDataConfig):
            self.cfg.generate()
        super().prepare_data()

    def instances(self, split: str) -> list[PoseInstance]:
        image_dir = self.cfg.image_folder(split)
        ratio, kset = self.codec.aspect_ratio, self.keypoint_set
        ann_file = self.ann_file(split)
        coco = load_coco(ann_file)
        if split == "test" and self.cfg.detection_file:
            check_scorable(coco, ann_file)
            found = coco_detection_instances(
                self.cfg.detection_file, coco, image_dir, kset.num_joints, ratio
            )
        else:
            ids = self.cfg.category_ids(ann_file, coco)
            scored = split != "train"
            found = coco_ground_truth_instances(
                ann_file, image_dir, kset, ratio, coco, ids, scored=scored
            )
        # The scored splits: every image's size; the train split: a sample at start-up,
        # the decoded size of each image then.
        checked = TRAIN_IMAGES_CHECKED if split == "train" else None
        return drop_resized_images(found, ann_file, checked)

    def evaluation_file(self, stage: str) -> Path:
        return self.ann_file(stage)


class MpiiDataModule(TopDownPoseDataModule):
    """MPII: ``root/images/*.jpg``, ``root/annotations/mpii_{train,val}.json`` (the common
    JSON conversion) and ``root/annotations/mpii_gt_val.mat`` for PCKh."""

    config_class = MpiiDataConfig

    def generate(self) -> None:
        ensure_synthetic_mpii(self.root, self.cfg.synthetic)

    def instances(self, split: str) -> list[PoseInstance]:
        name = "train" if split == "train" else "val"
        json_file = self.root / "annotations" / f"mpii_{name}.json"
        instances = mpii_instances(json_file, self.root / "images", self.keypoint_set.num_joints)
        if split != "train":  # the scored splits: check their ground truth before any batch
            check_mpii_ground_truth(json_file, self.evaluation_file(split), instances)
        return instances

    def evaluation_file(self, stage: str) -> Path:
        return self.root / "annotations" / "mpii_gt_val.mat"


def pose_datamodule(
    cfg: PoseDataConfig, codec: HeatmapCodec | None = None
) -> TopDownPoseDataModule:
    """The DataModule of ``cfg.format`` built from ``cfg``, encoding with ``codec`` (the
    task's; default: the codec of ``cfg``'s settings)."""
    kinds = {"coco": CocoKeypointsDataModule, "mpii": MpiiDataModule}
    check(cfg.format in kinds, "data.format", f"one of {POSE_FORMATS}, got {cfg.format!r}")
    return kinds[cfg.format](config=cfg, codec=codec)
