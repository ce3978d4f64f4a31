"""``lite-hrnet export NAME``: write a model to ONNX (float32 or int8), to an OpenVINO IR
(float32, bf16 or int8), to an ahead-of-time package (.pt2) or to a Hugging Face folder
(hf)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..deploy.onnx import DEFAULT_OPSET, DYNAMO_MIN_OPSET, export_onnx
from ..deploy.optimize import optimize_for_inference
from ..deploy.package import export_package
from ..deploy.quantize import (
    CALIBRATION_METHODS,
    DEFAULT_CALIBRATION_METHOD,
    DEFAULT_KEEP_FLOAT,
    DEFAULT_OP_TYPES,
)
from ..models import create_backbone, create_pose_model, create_segmentation_model
from ..models.hub import check_fits, pretrained_weights
from ..models.registry import variant_info
from .args import add_model_arguments, add_pretrained_argument, head_joints
from .calibration import (
    CALIBRATION_SPLIT,
    calibration_batches,
    calibration_config,
    calibration_crops,
)
from .output_folder import output_file
from .segmentation import segmentation_classes

if TYPE_CHECKING:
    from ..data.pose.datamodule import PoseDataConfig
    from ..inference.checkpoints import TaskCheckpoint


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("export", help=__doc__.split(":", 1)[1].strip())
    add_model_arguments(
        parser,
        input_from="with --calibration, its data.input_size; else the size a pose "
        "--checkpoint of ours was trained at",
    )
    parser.add_argument(
        "--checkpoint", type=Path, help="weights (any format load_checkpoint reads)"
    )
    add_pretrained_argument(parser)
    parser.add_argument(
        "--output",
        type=Path,
        required=True,
        help="the file to write (.onnx, .pt2, or NAME.xml with NAME.bin for openvino), the "
        "folder for --format hf",
    )
    parser.add_argument(
        "--format",
        choices=("onnx", "openvino", "pt2", "hf"),
        default="onnx",
        help="onnx; openvino: an IR converted from the ONNX graph (lite_hrnet.deploy."
        "OpenVinoModel); pt2: an AOTInductor package of the optimised model for this torch "
        "(lite_hrnet.deploy.load_package, predict --package; compiles for minutes); or hf: "
        "a folder of config.json, model.safetensors and a model card "
        "(lite_hrnet.from_pretrained; huggingface-cli upload pushes it)",
    )
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="openvino: store bf16 as the precision to run the IR in (OpenVinoModel sets "
        "INFERENCE_PRECISION_HINT to it; f32 otherwise); with --int8, for the float ops",
    )
    parser.add_argument(
        "--no-autotune",
        dest="autotune",
        action="store_false",
        help="pt2 on the CPU: do not time Inductor's GEMM kernels against ATen's for each "
        "matrix product (a shorter build, a slower package)",
    )
    parser.add_argument(
        "--task",
        choices=("pose", "segmentation"),
        default="pose",
        help="pose: heatmap head with --joints; segmentation: head with --classes",
    )
    parser.add_argument(
        "--classes",
        type=int,
        help="segmentation classes (--task segmentation); default: the --checkpoint's, else "
        "the Cityscapes table's",
    )
    parser.add_argument(
        "--opset",
        type=int,
        help=f"ONNX opset (default {DEFAULT_OPSET}; {DYNAMO_MIN_OPSET} with --dynamo)",
    )
    parser.add_argument(
        "--dynamo",
        action="store_true",
        help="use the torch.export-based exporter (same graph speed, slower to export)",
    )
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="export optimize_for_inference(model): BatchNorm folded, lean blocks",
    )
    int8 = parser.add_argument_group(
        "int8 (CPU: ONNX Runtime static quantisation, or NNCF with --format openvino)"
    )
    int8.add_argument(
        "--int8",
        action="store_true",
        help="quantise to int8 (per-channel weights), calibrated on the person crops of "
        "--calibration or --calibration-root (one of them): the --optimize graph to ONNX "
        "QDQ, or with --format openvino the graph as exported to FakeQuantize by NNCF",
    )
    source = int8.add_mutually_exclusive_group()
    source.add_argument(
        "--calibration",
        nargs="+",
        metavar="OVERRIDE",
        help="a training run's config, composed as `lite-hrnet train OVERRIDE...` composes "
        "it (e.g. experiment=synthetic_coco data.root=DIR): crops of its pose data set's "
        "train split through the evaluation transform, the set generated first if it is a "
        "synthetic one not written yet; its data.input_size is the input size (--input, if "
        "given, must equal it)",
    )
    source.add_argument(
        "--calibration-root",
        type=Path,
        help="a COCO-layout pose data set (annotations/person_keypoints_<split>.json, "
        "<split>/): calibration crops through the evaluation transform",
    )
    int8.add_argument(
        "--calibration-split",
        help=f"--calibration-root's folder to calibrate on (default {CALIBRATION_SPLIT}; keep "
        "the scored split out); with --calibration, override data.train_split instead",
    )
    int8.add_argument(
        "--calibration-images",
        type=int,
        default=64,
        help="person crops to calibrate on, spread over the split (default 64)",
    )
    int8.add_argument(
        "--calibration-method",
        choices=CALIBRATION_METHODS,
        default=DEFAULT_CALIBRATION_METHOD,
        help="activation ranges from the calibration crops (default "
        f"{DEFAULT_CALIBRATION_METHOD}; ONNX only, NNCF takes its own)",
    )
    int8.add_argument(
        "--quantize-ops",
        nargs="+",
        default=list(DEFAULT_OP_TYPES or ["all"]),
        metavar="OP",
        help="ONNX op types to quantise, e.g. Conv (default all: every op ONNX Runtime has "
        "an int8 form of; ONNX only)",
    )
    int8.add_argument(
        "--keep-float",
        nargs="*",
        default=list(DEFAULT_KEEP_FLOAT),
        metavar="SCOPE",
        help="nodes whose name contains one of these stay float32 (default the last stage "
        f"and the pose head: {' '.join(DEFAULT_KEEP_FLOAT)}); give none to quantise every node",
    )


def run(args: argparse.Namespace) -> int:
    args.joints = head_joints(args)
    if args.format != "hf":
        output_file(args.output)
    trained = _our_checkpoint(args)
    trained_input = trained.codec().input_hw if trained and trained.task == "pose" else None
    data = _calibration_source(args, trained_input)
    weights = {
        "checkpoint_path": args.checkpoint,
        "pretrained": args.pretrained,
        **_trained_architecture(trained),
    }
    if args.pretrained:
        check_fits(args.name, pretrained_weights(args.name, args.pretrained), input_size=args.input)
    if args.task == "segmentation":
        args.classes = args.classes or segmentation_classes(args.checkpoint)
        model = create_segmentation_model(args.name, num_classes=args.classes, **weights)
    elif args.joints == 0:
        model = create_backbone(args.name, **weights)
    else:
        # Without --joints or --keypoints: the head of the weights, else the variant's.
        model = create_pose_model(args.name, num_joints=args.joints, **weights)
        args.joints = model.num_joints
    if args.bf16 and args.format != "openvino":
        raise ValueError("--bf16 stores an OpenVINO IR's precision: use it with --format openvino")
    if args.format == "hf":
        from .hf_export import export_hf

        if args.int8 or args.optimize:
            raise ValueError("--int8 and --optimize rewrite an ONNX graph: not with --format hf")
        return export_hf(args, model)
    if args.format == "pt2":
        if args.int8:
            raise ValueError("--int8 quantises an ONNX graph: use it with --format onnx")
        return _export_package(args, model, trained)
    if args.format == "openvino":
        return _export_openvino(args, model, data)
    if args.int8:
        return _export_int8(args, model, data)
    if args.optimize:
        # The eager rewrite, NCHW: ONNX Runtime chooses its own layout.
        model = optimize_for_inference(model, compile=False, channels_last=False)
    opset = args.opset or (DYNAMO_MIN_OPSET if args.dynamo else DEFAULT_OPSET)
    path = export_onnx(model, args.output, args.input, opset=opset, dynamo=args.dynamo)
    h, w = args.input
    kind = ", optimized" if args.optimize else ""
    print(f"wrote {path} ({args.name}{kind}, input (batch, 3, {h}, {w}), dynamic batch)")
    return 0


def _our_checkpoint(args: argparse.Namespace) -> TaskCheckpoint | None:
    """``--checkpoint`` read as one of our task checkpoints; None for other files."""
    if args.checkpoint is None:
        return None
    from ..inference.checkpoints import POSE, SEGMENTATION, read_task_checkpoint

    task = SEGMENTATION if args.task == "segmentation" else POSE
    read = read_task_checkpoint(args.checkpoint, task, args.name)
    return read if read.hparams is not None else None


def _trained_architecture(trained: TaskCheckpoint | None) -> dict[str, Any]:
    """What one of our checkpoints says the network was built with beyond its variant: the
    ``LiteHRNetSpec`` fields the run replaced (width, num_modules, ...) and a segmentation
    head's width."""
    if trained is None:
        return {}
    architecture = trained.backbone_overrides
    if trained.task == "segmentation":
        architecture["head_channels"] = trained.head_channels()
    return architecture


def _pose_meta(trained: TaskCheckpoint | None) -> dict[str, Any] | None:
    """The keypoint set and the codec a pose checkpoint of ours stores (``to_dict`` forms),
    for a package to predict with; None for other files."""
    if trained is None or trained.task != "pose":
        return None
    return {"keypoint_set": trained.keypoint_set().to_dict(), "codec": trained.codec().to_dict()}


def _export_package(args: argparse.Namespace, model: Any, trained: TaskCheckpoint | None) -> int:
    h, w = args.input
    task = args.task if args.task == "segmentation" or args.joints else "backbone"
    outputs = args.classes if task == "segmentation" else args.joints
    path = export_package(
        model.eval(), args.output, input_size=args.input, variant=args.name, task=task,
        outputs=outputs, autotune=args.autotune, progress=_say,
        task_meta=_pose_meta(trained) if task == "pose" else None,
    )  # fmt: skip
    print(f"wrote {path} ({args.name}, {task}, AOTInductor, input (batch, 3, {h}, {w}))")
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _calibration_source(
    args: argparse.Namespace, trained_input: tuple[int, int] | None
) -> PoseDataConfig | None:
    """Check the calibration flags and settle ``args.input`` (else the calibration config's,
    the checkpoint's ``trained_input``, or the variant's default): the composed config of
    ``--calibration`` (whose ``data.input_size`` an explicit ``--input`` must equal), or
    None for ``--calibration-root`` or no calibration."""
    given = args.calibration is not None or args.calibration_root is not None
    if args.int8 and not given:
        raise ValueError(
            "--int8 needs calibration images: --calibration OVERRIDE... (a training config, "
            "e.g. experiment=synthetic_coco) or --calibration-root DIR"
        )
    if given and not args.int8:
        raise ValueError("--calibration and --calibration-root calibrate --int8: add --int8")
    if args.calibration_split is not None and args.calibration_root is None:
        raise ValueError(
            "--calibration-split names a folder of --calibration-root; with --calibration, "
            "override data.train_split"
        )
    args.calibration_split = args.calibration_split or CALIBRATION_SPLIT
    data = calibration_config(args.calibration) if args.calibration is not None else None
    size = tuple(data.input_size) if data is not None else None
    if args.input is None:
        args.input = size or trained_input or variant_info(args.name).input_size
    elif size is not None and tuple(args.input) != size:
        raise ValueError(
            f"--input {args.input[0]}x{args.input[1]} differs from the input size of "
            f"--calibration {' '.join(args.calibration)}: data.input_size {size[0]}x{size[1]}; "
            "leave --input out to take the config's, or override data.input_size"
        )
    return data


def _export_int8(args: argparse.Namespace, model: Any, data: PoseDataConfig | None) -> int:
    import tempfile

    from ..deploy.quantize import quantize_onnx

    if "all" in args.quantize_ops and len(args.quantize_ops) > 1:
        raise ValueError(f"--quantize-ops: 'all' or op types, not both: {args.quantize_ops}")
    batches, source = _calibration_crops(args, data)
    # The eager rewrite, NCHW, as --optimize: ONNX Runtime chooses its own layout.
    lean = optimize_for_inference(model, compile=False, channels_last=False)
    opset = args.opset or (DYNAMO_MIN_OPSET if args.dynamo else DEFAULT_OPSET)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(lean, Path(tmp) / "fp32.onnx", args.input, opset=opset,
                           dynamo=args.dynamo)  # fmt: skip
        op_types = None if args.quantize_ops == ["all"] else args.quantize_ops
        path = quantize_onnx(fp32, args.output, batches, method=args.calibration_method,
                             op_types=op_types, keep_float=args.keep_float)  # fmt: skip
    h, w = args.input
    crops = sum(len(b) for b in batches)
    print(
        f"wrote {path} ({args.name}, optimized, int8 QDQ calibrated on {crops} crops of "
        f"{source}, input (batch, 3, {h}, {w}), "
        f"dynamic batch; {args.calibration_method} ranges, quantised ops: "
        f"{' '.join(args.quantize_ops)}, kept float32: {' '.join(args.keep_float) or 'nothing'})"
    )
    return 0


def _calibration_crops(
    args: argparse.Namespace, data: PoseDataConfig | None
) -> tuple[list[Any], str]:
    """The ``--int8`` calibration batches (N, 3, H, W) of ``--calibration`` or
    ``--calibration-root``, and what they came from in words."""
    from ..data.pose.datamodule import pose_datamodule

    if args.task != "pose" or args.joints == 0:
        raise ValueError("--int8: pose models only (calibration crops come from a pose data set)")
    if data is not None:
        datamodule = pose_datamodule(data)
        given = f"--calibration {' '.join(args.calibration)}"
        batches = calibration_crops(datamodule, args.calibration_images, given)
        return batches, f"the train split of {datamodule.root}"
    root, split = args.calibration_root, args.calibration_split
    batches = calibration_batches(root, split, args.input, args.calibration_images)
    return batches, f"{root}/{split}"


def _export_openvino(args: argparse.Namespace, model: Any, data: PoseDataConfig | None) -> int:
    from ..deploy.openvino import export_openvino

    if args.output.suffix != ".xml":
        raise ValueError(f"--output {args.output}: an OpenVINO IR is written as NAME.xml")
    if args.dynamo:
        raise ValueError("--dynamo: the IR is converted from the TorchScript exporter's graph")
    onnx_only = {
        "--calibration-method": args.calibration_method != DEFAULT_CALIBRATION_METHOD,
        "--quantize-ops": args.quantize_ops != list(DEFAULT_OP_TYPES or ["all"]),
    }
    given = [flag for flag, changed in onnx_only.items() if changed]
    if given:
        raise ValueError(
            f"{', '.join(given)}: ONNX Runtime's quantiser only; --format openvino quantises "
            "with NNCF's ranges (--keep-float applies to both)"
        )
    if args.optimize:
        model = optimize_for_inference(model, compile=False, channels_last=False)
    batches, source = _calibration_crops(args, data) if args.int8 else (None, "")
    precision = "bf16" if args.bf16 else "f32"
    path = export_openvino(
        model, args.output, args.input, precision=precision, calibration=batches,
        keep_float=args.keep_float, opset=args.opset or DEFAULT_OPSET,
    )  # fmt: skip
    h, w = args.input
    kind = ", optimized" if args.optimize else ""
    if batches is not None:
        crops = sum(len(b) for b in batches)
        kind += (
            f", int8 (NNCF) calibrated on {crops} crops of {source}, kept float: "
            f"{' '.join(args.keep_float) or 'nothing'}"
        )
    print(
        f"wrote {path} and {path.with_suffix('.bin').name} ({args.name}{kind}, OpenVINO IR, "
        f"runs in {precision}, input (batch, 3, {h}, {w}), dynamic batch)"
    )
    return 0
