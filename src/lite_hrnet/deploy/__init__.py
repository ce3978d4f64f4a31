"""Inference speed: the same math as ``models/``, faster (BatchNorm folding, lean blocks,
Inductor), and the ONNX export. Uses the public structure of ``models/``; ``models/`` never
imports it."""

from .onnx import export_onnx, onnxruntime_session
from .optimize import InferenceModel, PointwiseConv, fold_batchnorm, optimize_for_inference

__all__ = [
    "InferenceModel",
    "PointwiseConv",
    "export_onnx",
    "fold_batchnorm",
    "onnxruntime_session",
    "optimize_for_inference",
]
