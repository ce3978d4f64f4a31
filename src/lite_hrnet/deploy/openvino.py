"""OpenVINO on the CPU: an IR (``.xml`` + ``.bin``) converted from the ONNX export,
optionally quantised to int8 by NNCF, and a compiled IR as an ``nn.Module`` (so the
evaluation code scores it with the same metric as a checkpoint).

Precision is chosen when the IR is compiled, not stored in its weights: the IR keeps
float32 weights (``compress_to_fp16=False``) and the CPU plugin runs float ops in
``INFERENCE_PRECISION_HINT``. Its default on CPUs with bf16 units (AMX, AVX512-BF16) is
bf16, so ``OpenVinoModel`` always sets the hint: the IR's stored precision (``export
--bf16`` stores bf16), else f32.

int8 (``quantize_openvino``) is NNCF's post-training quantisation: FakeQuantize nodes with
per-channel weight scales and activation ranges from the same calibration crops as the
ONNX int8 path (``cli/calibration.py``), the same scopes kept in float as there (the
last stage and the pose head, ``quantize.DEFAULT_KEEP_FLOAT``) through an ``IgnoredScope``
of name patterns, and NNCF's default preset ("performance": symmetric weights and
activations) with no model type (NNCF's only one, transformer, adds SmoothQuant and
attention-specific ignored patterns that have nothing to act on in a convolutional net).
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .lean_blocks import transpose_shuffles
from .onnx import DEFAULT_OPSET, export_onnx
from .quantize import DEFAULT_KEEP_FLOAT, check_input_shape

__all__ = [
    "DEFAULT_OPENVINO_PRECISION",
    "OPENVINO_PRECISIONS",
    "OpenVinoModel",
    "compile_openvino",
    "export_openvino",
    "openvino_precision",
    "quantize_openvino",
]

# INFERENCE_PRECISION_HINT values for the float ops (int8 IRs run their FakeQuantize
# regions in int8 under either).
OPENVINO_PRECISIONS = ("f32", "bf16")
DEFAULT_OPENVINO_PRECISION = "f32"
# Where an IR stores the precision to run it in (the CPU plugin does not read it: its
# default stays bf16 on bf16 CPUs, so whoever compiles the IR sets the hint).
_PRECISION_KEY = ["lite_hrnet", "inference_precision"]


def _openvino() -> Any:
    try:
        import openvino
    except ImportError as e:
        raise ImportError("OpenVINO is needed: pip install 'lite-hrnet[openvino]'") from e
    return openvino


def _check_precision(precision: str) -> str:
    if precision not in OPENVINO_PRECISIONS:
        raise ValueError(f"precision: one of {', '.join(OPENVINO_PRECISIONS)}, got {precision!r}")
    return precision


def export_openvino(
    model: nn.Module,
    output: str | PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    *,
    precision: str = DEFAULT_OPENVINO_PRECISION,
    calibration: Iterable[np.ndarray | torch.Tensor] | None = None,
    keep_float: Sequence[str] = DEFAULT_KEEP_FLOAT,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write ``model`` (images (B, 3, H, W) -> one tensor) as an OpenVINO IR at ``output``
    (``NAME.xml``; its weights go to ``NAME.bin`` beside it).

    The graph is ``export_onnx``'s (dynamic batch, H and W fixed at ``input_size``; input
    ``images``, output ``output``) converted by ``openvino.convert_model``, weights kept in
    float32. ``precision`` (``f32`` or ``bf16``) is stored as the precision to run it in.
    With ``calibration`` (batches (N, 3, H, W) of normalised crops), the IR is quantised
    to int8 by ``quantize_openvino`` with ``keep_float`` scopes left in float.
    """
    ov = _openvino()
    output = Path(output)
    if output.suffix != ".xml":
        raise ValueError(f"{output}: an OpenVINO IR is written as NAME.xml (and NAME.bin)")
    _check_precision(precision)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # The lean blocks' shuffles in the form OpenVINO fuses into ShuffleChannels nodes.
        with transpose_shuffles():
            onnx_path = export_onnx(model, Path(tmp) / "model.onnx", input_size, opset=opset)
        ir = ov.convert_model(str(onnx_path))
        _name_ops_as_onnx(ir, onnx_path)
    if calibration is not None:
        ir = quantize_openvino(ir, calibration, keep_float=keep_float)
    ir.set_rt_info(precision, _PRECISION_KEY)
    ov.save_model(ir, str(output), compress_to_fp16=False)
    return output


def _name_ops_as_onnx(ir: Any, onnx_path: Path) -> None:
    """Give the ops that OpenVINO named after their output tensor (the graph's output,
    e.g. the pose head's last convolution is ``output``) the name of the ONNX node that
    made it (``/keypoint_head/final_layer/Conv``), so that ``keep_float`` scopes find
    them. Tensor names, and so the IR's input and output names, do not change."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    maker = {out: node.name for node in graph.node if node.name for out in node.output}
    for op in ir.get_ordered_ops():
        name = op.get_friendly_name()
        if name in maker and op.get_type_name() not in ("Parameter", "Result", "Constant"):
            op.set_friendly_name(maker[name])


def _float_patterns(ir: Any, keep_float: Sequence[str]) -> list[str]:
    """NNCF ``IgnoredScope`` patterns for the ops of ``ir`` whose name contains one of the
    ``keep_float`` strings; a string that names no op is an error."""
    names = [op.get_friendly_name() for op in ir.get_ordered_ops()]
    missing = [scope for scope in keep_float if not any(scope in name for name in names)]
    if missing:
        raise ValueError(
            f"no op name contains keep_float {missing}; pass keep_float=() to quantise "
            "every op (the default names the pose head of export_onnx's graph)"
        )
    return [f".*{re.escape(scope)}.*" for scope in keep_float]


def quantize_openvino(
    ir: Any,
    calibration: Iterable[np.ndarray | torch.Tensor],
    *,
    keep_float: Sequence[str] = DEFAULT_KEEP_FLOAT,
) -> Any:
    """``ir`` (an ``openvino.Model`` with input (batch, C, H, W)) quantised to int8 by
    ``nncf.quantize``, calibrated on every crop of ``calibration`` (batches (N, C, H, W),
    numpy or torch; fed one crop at a time, so any number of crops and batch sizes work).
    Ops whose name contains one of ``keep_float`` stay float; ``()`` quantises all."""
    try:
        import nncf
    except ImportError as e:
        raise ImportError("int8 OpenVINO needs NNCF: pip install 'lite-hrnet[openvino]'") from e
    expected = tuple(d.get_length() for d in list(ir.inputs[0].get_partial_shape())[1:])
    crops = []
    for k, batch in enumerate(calibration):
        array = batch.detach().cpu().numpy() if isinstance(batch, torch.Tensor) else batch
        array = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
        if array.ndim != 4 or tuple(array.shape[1:]) != expected:
            c, h, w = expected
            raise ValueError(
                f"calibration batch {k} has shape {tuple(array.shape)}; the model takes "
                f"(N, {c}, {h}, {w}) images: calibrate at the size it was exported for"
            )
        crops.extend(array[i : i + 1] for i in range(len(array)))
    if not crops:
        raise ValueError("no calibration images: pass at least one batch")
    scope = None
    if keep_float:
        scope = nncf.IgnoredScope(patterns=_float_patterns(ir, keep_float))
    # NNCF logs a line per op it leaves float; keep its warnings only.
    logger = logging.getLogger("nncf")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        return nncf.quantize(ir, nncf.Dataset(crops), subset_size=len(crops), ignored_scope=scope)
    finally:
        logger.setLevel(level)


def openvino_precision(path: str | PathLike[str]) -> str | None:
    """The precision the IR at ``path`` stores to run in (``export_openvino``'s
    ``precision``), or None for an IR that stores none."""
    ov = _openvino()
    ir = ov.Core().read_model(str(path))
    if not ir.has_rt_info(_PRECISION_KEY):
        return None
    return ir.get_rt_info(_PRECISION_KEY).astype(str)


def compile_openvino(
    path: str | PathLike[str],
    precision: str | None = None,
    threads: int | None = None,
    perf_counters: bool = False,
) -> Any:
    """The IR at ``path`` compiled for the CPU (an ``openvino.CompiledModel``), tuned for
    latency, with ``INFERENCE_PRECISION_HINT`` set to ``precision``: given, else the IR's
    stored one, else f32 (never the plugin's default). ``threads`` caps the CPU threads;
    ``perf_counters`` records each node's time (``request.profiling_info``)."""
    ov = _openvino()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"OpenVINO IR not found: {path}")
    core = ov.Core()
    ir = core.read_model(str(path))
    if precision is None and ir.has_rt_info(_PRECISION_KEY):
        precision = ir.get_rt_info(_PRECISION_KEY).astype(str)
    config: dict[str, Any] = {
        "INFERENCE_PRECISION_HINT": _check_precision(precision or DEFAULT_OPENVINO_PRECISION),
        "PERFORMANCE_HINT": "LATENCY",
        "PERF_COUNT": perf_counters,
    }
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    return core.compile_model(ir, "CPU", config)


class OpenVinoModel(nn.Module):
    """An OpenVINO IR compiled for the CPU (``compile_openvino``) as a module: images
    (B, C, H, W) -> the model's first output as a float32 tensor on the images' device,
    e.g. heatmaps (B, K, H/4, W/4). It has no parameters; set it as a task module's
    ``model`` to score an IR with the task's metric. ``precision`` is the one it runs in
    (the IR's stored one, else f32, unless given)."""

    def __init__(
        self,
        path: str | PathLike[str],
        precision: str | None = None,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.compiled = compile_openvino(self.path, precision, threads)
        # What the plugin runs in, read back: "f32" or "bf16".
        self.precision = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.request = self.compiled.create_infer_request()
        shape = self.compiled.inputs[0].get_partial_shape()
        self.input_shape: tuple[int | str, ...] = tuple(
            d.get_length() if d.is_static else "batch" for d in shape
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_input_shape(self.path, self.input_shape, images)
        array = images.detach().float().cpu().contiguous().numpy()
        out = self.request.infer({0: array}, share_inputs=True)[self.compiled.outputs[0]]
        return torch.from_numpy(np.array(out, copy=True)).to(images.device)

    def extra_repr(self) -> str:
        return f"{self.path}, precision={self.precision}"
