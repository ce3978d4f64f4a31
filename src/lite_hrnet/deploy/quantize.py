"""int8 on the CPU: ONNX Runtime static quantisation of an exported graph, and an ONNX
Runtime session as an ``nn.Module`` (so the evaluation code scores an ONNX file with the
same metric as a checkpoint).

The defaults are the variant that kept a trained pose model's AP within a point of float32
(benchmarks/README.md has the table): activation ranges at the 99.999th percentile, and two
scopes left in float32: the last backbone stage (the lowest-resolution branches, whose
few pixels gain little from int8 kernels) and the pose head (upsampling head layer and
final heatmap convolution, whose output peaks are decoded to a quarter pixel). Quantised
alone, each of the two cost more AP than any other part of the network.

``quantize_onnx`` quantises the ``lite-hrnet export --optimize`` graph (BatchNorm folded,
lean blocks) in the QDQ format: int8 weights per output channel, uint8 activations with
ranges calibrated on images the caller supplies (the u8/s8 pair that ONNX Runtime's x86
kernels with VNNI run natively; ``reduce_range`` is only needed without VNNI). ONNX Runtime
then fuses each ``DequantizeLinear -> op -> QuantizeLinear`` it has an integer kernel for
(Conv, MatMul, Add, Mul, pooling, ...) and runs the rest in float32 between them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .onnx import onnxruntime_session

__all__ = [
    "CALIBRATION_METHODS",
    "DEFAULT_CALIBRATION_METHOD",
    "DEFAULT_KEEP_FLOAT",
    "DEFAULT_OP_TYPES",
    "OnnxRuntimeModel",
    "onnx_input_shape",
    "quantize_onnx",
]

CALIBRATION_METHODS = ("minmax", "percentile", "entropy")
DEFAULT_CALIBRATION_METHOD = "percentile"
# None: every op ONNX Runtime has an int8 form of (Conv only was slower: more
# Quantize/Dequantize pairs between the convolutions).
DEFAULT_OP_TYPES: tuple[str, ...] | None = None
# Node-name scopes of the exported pose model (``export_onnx``'s TorchScript exporter names
# nodes by module path) kept in float32: the last stage, the head layer, the final conv.
DEFAULT_KEEP_FLOAT = ("/backbone/stage2/", "/backbone/head_layer/", "/keypoint_head/")


def onnx_input_shape(path: str | PathLike[str]) -> tuple[int | str, ...]:
    """The shape of the ONNX model's first input, ``(batch, C, H, W)``; symbolic axes are
    their names (``"batch"``)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims)


class _Batches:
    """ORT's ``CalibrationDataReader`` protocol over checked (N, C, H, W) float32 batches."""

    def __init__(self, batches: Iterator[np.ndarray], input_name: str) -> None:
        self.batches = batches
        self.input_name = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {self.input_name: batch}

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return iter(self.get_next, None)


def _checked(batches: Iterable[Any], expected: Sequence[int], source: str) -> list[np.ndarray]:
    """The calibration batches as float32 arrays, each (N, *expected)."""
    out = []
    for k, batch in enumerate(batches):
        array = np.ascontiguousarray(np.asarray(batch, dtype=np.float32))
        if array.ndim != 4 or tuple(array.shape[1:]) != tuple(expected):
            c, h, w = expected
            raise ValueError(
                f"calibration batch {k} has shape {tuple(array.shape)}; {source} takes "
                f"(N, {c}, {h}, {w}) images: calibrate at the size it was exported for"
            )
        if len(array):
            out.append(array)
    if not out:
        raise ValueError(f"no calibration images for {source}: pass at least one batch")
    return out


def _one_batch_size(batches: list[np.ndarray]) -> list[np.ndarray]:
    """The same crops in batches of one size: ORT's percentile and entropy collectors stack
    each activation over the batches, which a short last batch breaks. The size is the
    largest that divides the number of crops and is no larger than the first batch; the
    ranges are taken over the same values either way."""
    if len({len(b) for b in batches}) == 1:
        return batches
    crops = np.concatenate(batches)
    size = max(d for d in range(1, len(batches[0]) + 1) if len(crops) % d == 0)
    return [crops[i : i + size] for i in range(0, len(crops), size)]


def _float_nodes(model: Path, keep_float: Sequence[str], source: Path) -> list[str]:
    """The names of ``model``'s nodes (``source`` pre-processed) that contain one of the
    ``keep_float`` strings."""
    import onnx

    names = [node.name for node in onnx.load(str(model), load_external_data=False).graph.node]
    missing = [scope for scope in keep_float if not any(scope in name for name in names)]
    if missing:
        raise ValueError(
            f"{source}: no node name contains keep_float {missing}; pass keep_float=() "
            "to quantise every node (the default names the pose head of export_onnx's graph)"
        )
    return [name for name in names if any(scope in name for scope in keep_float)]


def quantize_onnx(
    model: str | PathLike[str],
    output: str | PathLike[str],
    calibration: Iterable[np.ndarray | torch.Tensor],
    *,
    per_channel: bool = True,
    method: str = DEFAULT_CALIBRATION_METHOD,
    op_types: Sequence[str] | None = DEFAULT_OP_TYPES,
    keep_float: Sequence[str] = DEFAULT_KEEP_FLOAT,
) -> Path:
    """Quantise the float32 ONNX ``model`` to int8 (QDQ) at ``output``.

    Args:
        model: an ONNX file whose input ``images`` is (batch, C, H, W) with fixed C, H, W,
            e.g. ``export_onnx(optimize_for_inference(m, compile=False,
            channels_last=False), ...)``.
        output: where to write the quantised model.
        calibration: batches of normalised images (N, C, H, W) of the model's input size
            (numpy or torch); every activation's range is taken over all of them.
        per_channel: one weight scale per output channel (a depthwise convolution's
            channels differ by orders of magnitude after BatchNorm folding).
        method: how ranges are taken from the calibration activations: ``minmax``,
            ``percentile`` (99.999th; clips the rare outliers that would widen a
            uint8 step for every other value) or ``entropy``.
        op_types: the op types to quantise, e.g. ``["Conv"]``; ``None`` (default) for
            ONNX Runtime's full list.
        keep_float: nodes whose name contains any of these strings stay in float32
            (default the last stage and the pose head); ``()`` quantises every node.

    Raises:
        ValueError: no calibration batch, a batch of another shape, an unknown method, a
            ``keep_float`` string that names no node of the model.
    """
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    model, output = Path(model), Path(output)
    if not model.is_file():
        raise FileNotFoundError(f"ONNX model not found: {model}")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"method: one of {', '.join(CALIBRATION_METHODS)}, got {method!r}")
    shape = onnx_input_shape(model)
    if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape[1:]):
        raise ValueError(f"{model}: input shape {shape}, expected (batch, C, H, W), C H W fixed")
    batches = _checked(
        (b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else b for b in calibration),
        shape[1:],
        str(model),
    )
    batches = _one_batch_size(batches)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # ORT's recommended pre-processing: its basic graph optimisations and shape
        # inference, so that the quantiser sees every tensor's type.
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model), str(prepared), skip_symbolic_shape=True)
        excluded = _float_nodes(prepared, keep_float, model)
        quantize_static(
            str(prepared),
            str(output),
            _Batches(iter(batches), "images"),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(op_types) if op_types is not None else None,
            per_channel=per_channel,
            nodes_to_exclude=excluded,
            reduce_range=False,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method={
                "minmax": CalibrationMethod.MinMax,
                "percentile": CalibrationMethod.Percentile,
                "entropy": CalibrationMethod.Entropy,
            }[method],
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )
    return output


def check_input_shape(path: object, input_shape: tuple, images: torch.Tensor) -> None:
    """Refuse ``images`` whose shape differs from an exported file's fixed axes
    (``input_shape``: ints, or names for dynamic axes), naming the file."""
    fixed = [(axis, d) for axis, d in enumerate(input_shape) if isinstance(d, int)]
    if images.dim() != len(input_shape) or any(images.shape[a] != d for a, d in fixed):
        raise ValueError(
            f"{path} takes images {input_shape}, got {tuple(images.shape)}: "
            "export it for this input size (lite-hrnet export --input HxW)"
        )


class OnnxRuntimeModel(nn.Module):
    """An ONNX Runtime CPU session (``onnxruntime_session``) as a module: images
    (B, C, H, W) -> the model's first output as a float32 tensor on the images' device,
    e.g. heatmaps (B, K, H/4, W/4). It has no parameters; set it as a task module's
    ``model`` to score an ONNX file with the task's metric."""

    def __init__(self, path: str | PathLike[str], threads: int | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.path}")
        self.session = onnxruntime_session(self.path, threads=threads)
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = onnx_input_shape(self.path)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_input_shape(self.path, self.input_shape, images)
        array = images.detach().float().cpu().contiguous().numpy()
        (out, *_) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(out).to(images.device)

    def extra_repr(self) -> str:
        return str(self.path)
