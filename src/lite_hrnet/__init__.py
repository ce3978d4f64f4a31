"""lite_hrnet: Lite-HRNet backbones for pose estimation and segmentation.

>>> import lite_hrnet
>>> model = lite_hrnet.create_pose_model("lite_hrnet_18", num_joints=17)
"""

from .deploy import optimize_for_inference
from .meta.keypoints import KeypointSet
from .models import (
    CheckpointError,
    LiteHRNet,
    LiteHRNetSpec,
    PoseModel,
    SegmentationModel,
    complexity,
    create_backbone,
    create_pose_model,
    create_segmentation_model,
    list_models,
    list_pretrained,
    load_checkpoint,
    register_model,
    register_variant,
)

# Registers the ".safetensors" reader and the "hf-hub:" weights source of the factories;
# safetensors and huggingface_hub are imported when used.
from .sharing import from_pretrained, load_pretrained_folder, save_pretrained

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "KeypointSet",
    "LiteHRNet",
    "LiteHRNetSpec",
    "PoseModel",
    "SegmentationModel",
    "__version__",
    "complexity",
    "create_backbone",
    "create_pose_model",
    "create_segmentation_model",
    "from_pretrained",
    "list_models",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained_folder",
    "optimize_for_inference",
    "register_model",
    "register_variant",
    "save_pretrained",
]
