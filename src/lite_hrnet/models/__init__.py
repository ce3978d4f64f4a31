"""Lite-HRNet models: backbone, heads, registry, checkpoints, complexity."""

from .backbone import LiteHRNet, LiteHRNetFeatures
from .checkpoint import CheckpointError, load_checkpoint, read_state_dict
from .complexity import complexity
from .factory import create_backbone, create_pose_model, create_segmentation_model
from .heads import HeatmapHead, PoseModel, SegmentationHead, SegmentationModel
from .registry import list_models, register_model
from .spec import LiteHRNetSpec
from .variants import VARIANT_SPECS

__all__ = [
    "VARIANT_SPECS",
    "CheckpointError",
    "HeatmapHead",
    "LiteHRNet",
    "LiteHRNetFeatures",
    "LiteHRNetSpec",
    "PoseModel",
    "SegmentationHead",
    "SegmentationModel",
    "complexity",
    "create_backbone",
    "create_pose_model",
    "create_segmentation_model",
    "list_models",
    "load_checkpoint",
    "read_state_dict",
    "register_model",
]
