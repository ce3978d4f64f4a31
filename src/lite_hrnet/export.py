"""ONNX export with a dynamic batch axis, and an ONNX Runtime session helper."""

from __future__ import annotations

import warnings
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

DEFAULT_OPSET = 17


def export_onnx(
    model: nn.Module,
    path: str | PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export ``model`` (images (B, 3, H, W) -> one tensor) to ONNX at ``path``.

    Uses the TorchScript-based exporter with a dynamic batch axis; H and W are fixed at
    ``input_size`` = (H, W). Input ``images``, output ``output``. The model is put in eval
    mode and restored afterwards.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    dummy = torch.zeros(1, first_conv.in_channels, *input_size)
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            # Shape checks turn into constants in the trace; that is intended (H, W are fixed).
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            torch.onnx.export(
                model,
                (dummy,),
                str(path),
                input_names=["images"],
                output_names=["output"],
                dynamic_axes={"images": {0: "batch"}, "output": {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    finally:
        model.train(was_training)
    return path


def onnxruntime_session(path: str | PathLike[str], threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU, tuned for latency; needs the
    ``onnxruntime`` package.

    All graph optimisations (constant folding, conv fusions, the NCHWc layout transform),
    sequential execution and ``threads`` intra-op threads (ORT's default otherwise: one per
    physical core). The session takes ``images`` (B, 3, H, W) float32 and returns [output].
    """
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError("onnxruntime is needed: pip install 'lite-hrnet[dev]'") from e
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
