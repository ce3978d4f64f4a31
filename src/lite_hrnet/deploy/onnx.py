"""ONNX export with a dynamic batch axis, and an ONNX Runtime session helper."""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

DEFAULT_OPSET = 17
# The torch.export-based exporter writes opset 18 at the lowest.
DYNAMO_MIN_OPSET = 18


@contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence the exporters' warnings and the dynamo exporter's progress lines."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # Shape checks turn into constants in the trace; that is intended (H, W are fixed).
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_onnx(
    model: nn.Module,
    path: str | PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    opset: int = DEFAULT_OPSET,
    dynamo: bool = False,
) -> Path:
    """Export ``model`` (images (B, 3, H, W) -> one tensor) to one ONNX file at ``path``.

    The batch axis is dynamic; H and W are fixed at ``input_size`` = (H, W). Input
    ``images``, output ``output``. The model is put in eval mode and restored afterwards.

    ``dynamo=False`` uses the TorchScript-based exporter, ``dynamo=True`` the
    torch.export-based one (opset >= 18). Their graphs of ``optimize_for_inference``
    models run equally fast in ONNX Runtime, but the TorchScript exporter is several times
    quicker to export, hence the default. The torch.export exporter's intermediate shape
    annotations (``value_info``) are dropped: with them ONNX Runtime proves more shapes
    equal and fuses additions into its blocked-layout (NCHWc) convolutions, which made the
    same graph slower; without them it infers the shapes itself.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if dynamo and opset < DYNAMO_MIN_OPSET:
        raise ValueError(f"opset: the dynamo exporter needs >= {DYNAMO_MIN_OPSET}, got {opset}")
    if dynamo and importlib.util.find_spec("onnxscript") is None:
        raise ImportError("the dynamo exporter needs onnxscript: pip install onnxscript")
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    # torch.export would specialise an example batch of 1 to a constant.
    dummy = torch.zeros(2 if dynamo else 1, first_conv.in_channels, *input_size)
    was_training = model.training
    model.eval()
    try:
        with quiet_exporter():
            if dynamo:
                program = torch.onnx.export(
                    model,
                    (dummy,),
                    input_names=["images"],
                    output_names=["output"],
                    opset_version=opset,
                    dynamic_shapes=({0: torch.export.Dim("batch")},),
                    dynamo=True,
                    verbose=False,
                )
            else:
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
    if dynamo:
        import onnx  # a dependency of the dynamo exporter

        proto = program.model_proto
        del proto.graph.value_info[:]
        onnx.save(proto, str(path))
    return path


def onnxruntime_session(
    path: str | PathLike[str], threads: int | None = None, profile_prefix: str | None = None
) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU, tuned for latency; needs the
    ``onnxruntime`` package.

    All graph optimisations (constant folding, conv fusions, the NCHWc layout transform),
    sequential execution and ``threads`` intra-op threads (ORT's default otherwise: one per
    physical core). The session takes ``images`` (B, 3, H, W) float32 and returns [output].
    With ``profile_prefix``, ORT's profiler records every node's time; ``end_profiling()``
    writes them to a JSON file starting with that prefix and returns its path.
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
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
