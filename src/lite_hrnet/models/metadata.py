"""What the registry knows of a variant besides its entry point: its architecture, its
default input and head, its published weights and its paper results.

The joint names below are the output channels, in order, of the published heads (COCO's
17 keypoints and MPII's 16): a fact of those weights, which fine-tuning matches by name.
``lite_hrnet.meta.keypoints`` declares the same sets for the data; a test keeps the two
equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .spec import LiteHRNetSpec

COCO_HEAD = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
MPII_HEAD = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
    "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip
# The paper's segmentation head: Cityscapes' 19 classes, a variant's default unless it says
# otherwise (``lite_hrnet.meta.cityscapes`` declares the classes for the data; a test keeps
# the two equal).
CITYSCAPES_HEAD_CLASSES = 19
# The paper's main COCO setting, (H, W): a variant's default input unless it says otherwise.
PAPER_INPUT_SIZE = (256, 192)

# The normalisation every published Lite-HRNet checkpoint was trained with (RGB, [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# mmpose's file names: ``<name>-<first 8 hex digits of the SHA-256>_<date>.pth``.
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})(?:_\d+)?\.pth$")


@dataclass(frozen=True)
class PaperResult:
    """One row of the paper's tables for a variant, as printed.

    ``flops`` is the paper's complexity convention in 2**20 units (``complexity()``'s
    ``paper_flops``) with the pose head of the data set (COCO's or MPII's joints);
    ``metric`` is COCO val2017 AP (detector boxes, flip test), MPII val PCKh@0.5 or
    Cityscapes val mIoU, in percent.
    """

    dataset: str
    input_size: tuple[int, int]  # (H, W)
    flops: float | None
    metric: str
    value: float


@dataclass(frozen=True)
class PretrainedWeights:
    """A published checkpoint of a variant, named ``<variant>.<tag>``.

    ``input_size`` is (H, W); ``joint_names`` name its head's output channels in order;
    ``metric`` and ``published`` are what its publisher measured (mmpose: COCO val2017 AP
    with detector boxes and flip test, or MPII val PCKh@0.5), as a fraction;
    ``mean``/``std`` normalise its RGB [0, 1] input.
    """

    tag: str
    url: str
    dataset: str
    input_size: tuple[int, int]
    joint_names: tuple[str, ...]
    metric: str
    published: float
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def sha256_prefix(self) -> str | None:
        """The start of the file's SHA-256 that its name carries, or None."""
        found = _HASH_IN_NAME.search(self.file_name)
        return found.group(1) if found else None


@dataclass(frozen=True)
class VariantInfo:
    """A registered variant: its architecture (``spec``), its default input (H, W) and
    pose head (the joint names of ``create_pose_model(name)`` without ``num_joints``) and
    segmentation head (``create_segmentation_model(name)``'s classes), its
    published checkpoints (the first is the default of ``pretrained=True``), and, for the
    paper's variants, the paper's parameter count (millions, as printed) and results."""

    spec: LiteHRNetSpec
    input_size: tuple[int, int] = PAPER_INPUT_SIZE
    joint_names: tuple[str, ...] = COCO_HEAD
    num_classes: int = CITYSCAPES_HEAD_CLASSES
    pretrained: tuple[PretrainedWeights, ...] = ()
    paper_params: float | None = None
    paper_results: tuple[PaperResult, ...] = ()

    @property
    def num_joints(self) -> int:
        """The joints of the default pose head."""
        return len(self.joint_names)
