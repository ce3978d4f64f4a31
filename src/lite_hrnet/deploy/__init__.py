"""Inference speed: the same math as ``models/``, faster (BatchNorm folding, lean blocks,
Inductor), the ONNX export (float32, or int8 by ONNX Runtime), OpenVINO IRs (float32,
bf16, or int8 by NNCF) and ahead-of-time
(AOTInductor) packages. It uses the public structure of ``models/`` (the official attribute
names); ``models/`` never imports it."""

from .folding import fold_batchnorm
from .onnx import export_onnx, onnxruntime_session
from .openvino import OpenVinoModel, export_openvino
from .optimize import InferenceModel, optimize_for_inference
from .package import AotPackage, PackageError, PackageInfo, export_package, load_package
from .pointwise import PointwiseConv
from .quantize import OnnxRuntimeModel, quantize_onnx

__all__ = [
    "AotPackage",
    "InferenceModel",
    "OnnxRuntimeModel",
    "OpenVinoModel",
    "PackageError",
    "PackageInfo",
    "PointwiseConv",
    "export_onnx",
    "export_openvino",
    "export_package",
    "fold_batchnorm",
    "load_package",
    "onnxruntime_session",
    "optimize_for_inference",
    "quantize_onnx",
]
