"""Inference speed: the same math as ``models/``, faster (BatchNorm folding, lean blocks,
Inductor), and the ONNX export. It uses the public structure of ``models/`` (the official
attribute names); ``models/`` never imports it."""

from .folding import fold_batchnorm
from .onnx import export_onnx, onnxruntime_session
from .optimize import InferenceModel, optimize_for_inference
from .pointwise import PointwiseConv

__all__ = [
    "InferenceModel",
    "PointwiseConv",
    "export_onnx",
    "fold_batchnorm",
    "onnxruntime_session",
    "optimize_for_inference",
]
