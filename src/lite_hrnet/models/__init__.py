"""The reference Lite-HRNet (Yu et al., CVPR 2021), reading like the paper: the typed spec,
layers, blocks, the backbone, the registered variants, task heads, factories, checkpoint
loading, published weights by name and the paper's complexity count. Imports torch and numpy
only."""

from .backbone import FeatureInfo, LiteHRNet, LiteHRNetFeatures
from .checkpoint import CheckpointError, load_checkpoint, read_state_dict
from .complexity import complexity
from .factory import create_backbone, create_pose_model, create_segmentation_model
from .heads import HeatmapHead, PoseModel, SegmentationHead, SegmentationModel
from .hub import WeightsDownloadError, download_pretrained, list_pretrained
from .registry import list_models, register_model
from .spec import LiteHRNetSpec
from .variants import (
    VARIANT_SPECS,
    VARIANTS,
    PaperResult,
    PretrainedWeights,
    VariantInfo,
    build_variant,
    register_variant,
    variant_info,
)

__all__ = [
    "VARIANTS",
    "VARIANT_SPECS",
    "CheckpointError",
    "FeatureInfo",
    "HeatmapHead",
    "LiteHRNet",
    "LiteHRNetFeatures",
    "LiteHRNetSpec",
    "PaperResult",
    "PoseModel",
    "PretrainedWeights",
    "SegmentationHead",
    "SegmentationModel",
    "VariantInfo",
    "WeightsDownloadError",
    "build_variant",
    "complexity",
    "create_backbone",
    "create_pose_model",
    "create_segmentation_model",
    "download_pretrained",
    "list_models",
    "list_pretrained",
    "load_checkpoint",
    "read_state_dict",
    "register_model",
    "register_variant",
    "variant_info",
]
