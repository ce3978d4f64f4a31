"""The reference Lite-HRNet (Yu et al., CVPR 2021), reading like the paper: the typed spec,
layers, blocks, the backbone, the registered variants, task heads, factories, checkpoint
loading and the paper's complexity count. Imports torch and numpy only."""

from .backbone import FeatureInfo, LiteHRNet, LiteHRNetFeatures
from .checkpoint import CheckpointError, load_checkpoint, read_state_dict
from .complexity import complexity
from .factory import create_backbone, create_pose_model, create_segmentation_model
from .heads import HeatmapHead, PoseModel, SegmentationHead, SegmentationModel
from .registry import list_models, register_model
from .spec import LiteHRNetSpec
from .variants import VARIANT_SPECS, VARIANTS, PaperResult, VariantInfo, variant_info

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
    "SegmentationHead",
    "SegmentationModel",
    "VariantInfo",
    "complexity",
    "create_backbone",
    "create_pose_model",
    "create_segmentation_model",
    "list_models",
    "load_checkpoint",
    "read_state_dict",
    "register_model",
    "variant_info",
]
