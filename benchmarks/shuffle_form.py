"""The lean blocks' two channel-shuffle forms in one run: the stacked one (ONNX exports)
and the textbook Concat -> Reshape -> Transpose -> Reshape (``transpose_shuffles``, the
OpenVINO export), each in OpenVINO fp32, ONNX Runtime fp32 and ONNX Runtime int8. A third
graph, ``none``, drops the shuffles and keeps the concatenations: it computes a different
function, and its time bounds what any removal of the shuffles could gain.

    python -m benchmarks.shuffle_form                  # lite_hrnet_18, 256x192, batch 1
    python -m benchmarks.shuffle_form --no-int8 --threads 1

The two forms compute the same function (checked here against the plain model); only the
graph differs. Paths take turns in rounds (``bench.interleaved``); each ratio is paired
by round (``bench.paired_speedup``). Random weights of a trained network's scale.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

import lite_hrnet
from benchmarks.bench import bench_model, calibration_images, interleaved, paired_speedup
from lite_hrnet.cli.args import input_size
from lite_hrnet.deploy import lean_blocks
from lite_hrnet.deploy.onnx import export_onnx, onnxruntime_session
from lite_hrnet.deploy.openvino import compile_openvino
from lite_hrnet.deploy.quantize import quantize_onnx


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="lite_hrnet_18")
    parser.add_argument("--input", type=input_size, default=(256, 192))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of timed rounds")
    parser.add_argument("--no-int8", dest="int8", action="store_false")
    args = parser.parse_args(argv)
    import openvino as ov

    torch.set_num_threads(args.threads)
    model = bench_model(args.model, torch.device("cpu"))
    lean = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
    x = torch.randn(args.batch, 3, *args.input)
    with torch.no_grad():
        expected = model(x)
    feed = {"images": x.numpy()}
    calls: dict[str, Callable[[], Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for form in FORMS:
            path = Path(tmp) / f"{form}.onnx"
            with _shuffle_form(form):
                export_onnx(lean, path, args.input)
            ir = Path(tmp) / f"{form}.xml"
            ov.save_model(ov.convert_model(str(path)), str(ir), compress_to_fp16=False)
            request = compile_openvino(ir, "f32", args.threads).create_infer_request()
            got = torch.from_numpy(request.infer(feed)[0].copy())
            if form != "none":
                atol = 1e-4 * expected.abs().max()
                torch.testing.assert_close(got, expected, rtol=1e-4, atol=atol)
            calls[f"openvino fp32, {form}"] = lambda r=request: r.infer(feed, share_inputs=True)
            session = onnxruntime_session(path, threads=args.threads)
            calls[f"onnxruntime fp32, {form}"] = lambda s=session: s.run(None, feed)
            if args.int8:
                int8 = quantize_onnx(path, Path(tmp) / f"{form}_int8.onnx",
                                     calibration_images(args.input))  # fmt: skip
                session8 = onnxruntime_session(int8, threads=args.threads)
                calls[f"onnxruntime int8, {form}"] = lambda s=session8: s.run(None, feed)
        with torch.inference_mode():
            result = interleaved(calls, 2, 1000, torch.device("cpu"), 5, args.budget)
    rounds = len(next(iter(result.values()))["round_medians_s"])
    print(f"{args.model} {args.input[0]}x{args.input[1]}, batch {args.batch}, "
          f"{args.threads} threads, {rounds} rounds")  # fmt: skip
    print("| runtime | stack ms | transpose ms | none ms | transpose over stack (paired) "
          "| none over stack (paired) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    ratios: dict[str, dict[str, float]] = {}
    for runtime in dict.fromkeys(name.rsplit(", ", 1)[0] for name in result):
        runs = {form: result[f"{runtime}, {form}"] for form in FORMS}
        ratios[runtime] = {f: paired_speedup(runs["stack"], runs[f]) for f in FORMS[1:]}
        ms = " | ".join(f"{1e3 * runs[f]['median_s']:.1f}" for f in FORMS)
        print(f"| {runtime} | {ms} | x{ratios[runtime]['transpose']:.2f} "
              f"| x{ratios[runtime]['none']:.2f} |")  # fmt: skip
    return {"result": result, "ratios": ratios}


FORMS = ("stack", "transpose", "none")


def _concatenate(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat((a, b), dim=1)


@contextmanager
def _shuffle_form(form: str) -> Iterator[None]:
    """The lean blocks trace their shuffles in ``form`` within the block."""
    if form == "stack":
        yield
    elif form == "transpose":
        with lean_blocks.transpose_shuffles():
            yield
    else:  # timing only: the blocks' outputs stay unshuffled
        original, lean_blocks._shuffle_cat = lean_blocks._shuffle_cat, _concatenate
        try:
            yield
        finally:
            lean_blocks._shuffle_cat = original


if __name__ == "__main__":
    main()
