"""lite_hrnet: Lite-HRNet backbones for pose estimation and segmentation.

>>> import lite_hrnet
>>> model = lite_hrnet.create_pose_model("lite_hrnet_18", num_joints=17)

``lite_hrnet.PoseEstimator`` and ``lite_hrnet.Segmenter`` predict on images (docs/inference.md);
they are imported on first use, as they need OpenCV (the ``infer`` extra).
"""

from typing import Any

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

# Names imported on first use (and left out of ``__all__``): they need the infer extra
# (OpenCV), the core install does not.
_LAZY = {
    "PoseEstimator": "lite_hrnet.inference.estimator",
    "Person": "lite_hrnet.inference.estimator",
    "Segmenter": "lite_hrnet.inference.segmenter",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lite_hrnet' has no attribute {name!r}")
    import importlib

    try:
        import cv2  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"lite_hrnet.{name} needs OpenCV, which the infer (and the train) extra "
            "installs: pip install 'lite-hrnet[infer]'"
        ) from e
    return getattr(importlib.import_module(_LAZY[name]), name)


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
