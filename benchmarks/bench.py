"""The benchmark suite behind ``make bench``: inference and training speed per path.

    python -m benchmarks.bench                        # CPU, 2 threads, the full table
    python -m benchmarks.bench --quick                # lite_hrnet_18 at 256x192, fewer repeats
    python -m benchmarks.bench --models lite_hrnet_30 --sizes 384x288 --threads 4
    python -m benchmarks.bench --device cuda          # fp32, bf16-mixed, CUDA graphs, memory
    python -m benchmarks.bench --no-inference --no-data --train-settings "channels_last + compile"

Run from the repository root. Writes ``benchmarks/results/{device}.md`` and ``.json``.

Every figure is the median of ``--repeats`` timed calls per path. The paths of one table
row group take turns in rounds: per round, each runs ``--warmup`` untimed calls, then
``--block`` timed ones, so load drift hits them equally and no path is timed while the
previous one's idle threads still spin. Each figure comes with its ratio against the
plain eager model: the median over rounds of the ratio within a round (``paired_speedup``),
which cancels the drift between rounds. Compiled paths report their cold-start seconds
(the first call).

The models get random weights of a trained network's scale (``bench_model``), not the
official initialisation: its N(0, 0.001) convolutions shrink the activations towards
1e-19 and beyond, where some kernels (ONNX Runtime's sigmoid) run on denormal numbers and
slow down up to twofold, which a trained model never does. The ONNX Runtime rows include
the reference: the official control flow exported by the torch.export-based
exporter at a static shape.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import lite_hrnet
from lite_hrnet.cli.args import input_size
from lite_hrnet.deploy.onnx import export_onnx, onnxruntime_session, quiet_exporter
from lite_hrnet.deploy.openvino import compile_openvino, export_openvino
from lite_hrnet.deploy.package import export_package, load_package
from lite_hrnet.deploy.quantize import DEFAULT_KEEP_FLOAT, quantize_onnx
from lite_hrnet.tasks.base import fused_optimizer_kwargs
from lite_hrnet.tasks.compile import compile_for_training
from lite_hrnet.testing.official import official_forward
from lite_hrnet.testing.weights import randomize

RESULTS = Path(__file__).parent / "results"
# The LightningModules' speed flags (channels_last, compile, Lightning precision, the fused
# optimiser). The baseline is the plain step of the official recipe: eager, fp32, Adam's
# unfused for-each-tensor loop; every other setting has the fused optimiser, the modules'
# default, and "fused optimizer" shows what that alone gives.
_BASE = {"channels_last": False, "compile": False, "precision": "32-true"}


def _fused(**flags: Any) -> dict[str, Any]:
    return {**_BASE, **flags, "fused_optimizer": True}


TRAIN_SETTINGS: dict[str, dict[str, Any]] = {
    "eager fp32": {**_BASE, "fused_optimizer": False},
    "fused optimizer": _fused(),
    "channels_last": _fused(channels_last=True),
    "bf16-mixed": _fused(precision="bf16-mixed"),
    "channels_last + bf16-mixed": _fused(channels_last=True, precision="bf16-mixed"),
    "compile": _fused(compile=True),
    "channels_last + compile": _fused(channels_last=True, compile=True),
    "channels_last + compile + bf16-mixed": _fused(
        channels_last=True, compile=True, precision="bf16-mixed"
    ),
}
# Every compiled setting costs minutes of compilation (forward and backward graphs).
DEFAULT_TRAIN_SETTINGS = [
    "fused optimizer",
    "channels_last",
    "bf16-mixed",
    "channels_last + bf16-mixed",
    "channels_last + compile",
    "channels_last + compile + bf16-mixed",
]


# --------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(
    paths: dict[str, Callable[[], Any]],
    warmup: int,
    repeats: int,
    device: torch.device,
    block: int = 5,
    budget_s: float = float("inf"),
) -> dict[str, dict[str, float]]:
    """Time every path ``repeats`` times, in rounds of one block per path.

    The first call of each path is its cold start (compilation), reported in seconds; on
    CUDA it also gives the path's peak memory. Then, round after round, each path runs
    ``warmup`` untimed calls and ``block`` timed ones. The untimed calls absorb what the
    previous path left behind (its idle threads still spinning, OpenMP's or ONNX
    Runtime's; cold caches), and the rounds spread load drift over all paths equally.
    Timing stops early once the rounds took ``budget_s`` seconds, after at least one
    round; every path gets the same rounds. Returns {path: {"median_s", "round_medians_s",
    "cold_start_s", "repeats"}} plus "peak_memory_mib" on CUDA; ``round_medians_s`` has
    one median per round, for ``paired_speedup``.
    """
    first: dict[str, dict[str, float]] = {}
    for name, fn in paths.items():
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        first[name] = {"cold_start_s": time.perf_counter() - start}
        if device.type == "cuda":
            first[name]["peak_memory_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    rounds: dict[str, list[list[float]]] = {name: [] for name in paths}
    started = time.perf_counter()
    done = 0
    while done < repeats and not (done and time.perf_counter() - started > budget_s):
        count = min(block, repeats - done)
        for name, fn in paths.items():
            for _ in range(warmup):
                fn()
            _sync(device)
            times = []
            for _ in range(count):
                start = time.perf_counter()
                fn()
                _sync(device)
                times.append(time.perf_counter() - start)
            rounds[name].append(times)
        done += count
    return {
        name: {
            "median_s": statistics.median(t for times in r for t in times),
            "round_medians_s": [statistics.median(times) for times in r],
            "repeats": sum(map(len, r)),
            **first[name],
        }
        for name, r in rounds.items()
    }


def paired_speedup(baseline: dict[str, Any], path: dict[str, Any]) -> float:
    """How many times faster ``path`` ran than ``baseline`` (two ``interleaved`` results):
    the median over rounds of the ratio of their round medians. The machine's speed drifts
    by tens of percent over minutes (a shared VM); within one round both saw about the same
    machine, so pairing by round cancels most of the drift that a ratio of overall medians
    keeps.
    """
    base, own = baseline["round_medians_s"], path["round_medians_s"]
    if len(base) != len(own) or not base:
        raise ValueError(f"paired_speedup: {len(base)} baseline rounds against {len(own)}")
    return statistics.median(b / p for b, p in zip(base, own))


def samples_per_second(
    make_samples: Callable[[], Iterator[Any]], count: int, warmup: int = 5
) -> float:
    """Throughput of a sample source, e.g. a data pipeline: ``count`` samples drawn from a
    fresh ``make_samples()`` after ``warmup`` samples, in samples per second.
    """
    samples = make_samples()
    for _ in range(warmup):
        next(samples)
    start = time.perf_counter()
    for _ in range(count):
        next(samples)
    return count / (time.perf_counter() - start)


# --------------------------------------------------------------------------- paths


def bench_model(name: str, device: torch.device) -> nn.Module:
    """The pose model ``name`` in eval mode with random weights of a trained network's
    scale (activations 0.01-1 throughout; see the module docstring for why).
    """
    return randomize(lite_hrnet.create_pose_model(name)).to(device).eval()


class OfficialPoseModel(nn.Module):
    """The official forward control flow (lite_hrnet.testing.official) on ``model``'s
    backbone weights, then its heatmap head: (B, 3, H, W) -> (B, K, H/4, W/4).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.keypoint_head(official_forward(self.model.backbone, x))


def export_official_onnx(model: nn.Module, x: torch.Tensor, path: Path) -> Path:
    """The reference graph: the official control flow exported by the
    torch.export-based exporter (``dynamo=True``, default settings) at ``x``'s static shape.
    """
    with quiet_exporter():
        torch.onnx.export(
            OfficialPoseModel(model).eval(),
            (x,),
            str(path),
            input_names=["images"],
            output_names=["output"],
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return path


def calibration_images(size: tuple[int, int], count: int = 16, seed: int = 0) -> list[torch.Tensor]:
    """Smooth random images (B=4, 3, H, W) of a normalised image's scale, to calibrate the
    int8 row's activation ranges: speed does not depend on the ranges, and the bench
    models' weights are random anyway (the accuracy of int8 is measured on a trained
    checkpoint; see benchmarks/README.md)."""
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    coarse = torch.randn(count, 3, h // 8, w // 8, generator=gen)
    images = F.interpolate(coarse, size=(h, w), mode="bilinear")
    return list(images.split(4))


def inference_paths(
    model: nn.Module,
    x: torch.Tensor,
    onnx_dir: Path,
    compile: bool,
    threads: int,
    reference: bool = True,
    only: set[str] | None = None,
    peers: list[Path] | None = None,
) -> dict[str, Callable[[], Any]]:
    """Callables running one forward of ``model`` on ``x`` per path (eager first).

    ``compile``: include the Inductor paths; ``reference``: the ONNX Runtime reference
    (a torch.export-based export at x's static shape). ``onnx_dir`` may already hold this
    model's ``model.onnx`` (dynamic batch), which is reused. ``only``: build the paths that
    take minutes to build (the package, int8) only if named there. Built outside inference
    mode (the exporters trace the model); call them inside it. ``peers``: other models'
    ONNX files (e.g. RTMPose's), timed on the same ``x`` in ONNX Runtime and OpenVINO
    (``peer_paths``).
    """

    def wanted(name: str) -> bool:
        return only is None or name in only

    device = x.device
    paths: dict[str, Callable[[], Any]] = {"eager": lambda: model(x)}
    if device.type == "cpu":
        official = OfficialPoseModel(model)
        paths["official control flow"] = lambda: official(x)
        lean = lite_hrnet.optimize_for_inference(model, compile=False)
        paths["optimized, eager"] = lambda: lean(x)
    if compile:
        optimized = lite_hrnet.optimize_for_inference(model)
        paths["optimized"] = lambda: optimized(x)
        if device.type == "cpu":  # AMX / AVX-512 bf16 units
            bf16 = lite_hrnet.optimize_for_inference(model, dtype=torch.bfloat16)
            paths["optimized, bf16"] = lambda: bf16(x)
        # dynamic=False: batch 16 after batch 1 would otherwise recompile with a symbolic batch.
        compiled = torch.compile(model, dynamic=False)
        paths["torch.compile"] = lambda: compiled(x)
        if device.type == "cpu" and wanted("AOTInductor package"):
            # Compiled ahead of time here (minutes, not timed); one package serves every batch.
            pt2 = onnx_dir / "model.pt2"
            if not pt2.exists():
                size = (x.shape[-2], x.shape[-1])
                export_package(
                    model, pt2, input_size=size, variant="bench", task="pose",
                    outputs=model.num_joints,
                )  # fmt: skip
            package = load_package(pt2)
            paths["AOTInductor package"] = lambda: package(x)
    if device.type == "cuda":
        bf16 = copy.deepcopy(model).to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)

        def bf16_step() -> torch.Tensor:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return bf16(x_cl)

        paths["bf16 + channels_last"] = bf16_step
        if compile:
            graphs = torch.compile(bf16, mode="reduce-overhead")

            def graphs_step() -> torch.Tensor:
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return graphs(x_cl).clone()  # a CUDA-graph output is overwritten next call

            paths["bf16 + channels_last + compile, CUDA graphs"] = graphs_step
            # optimize_for_inference's rewrite under CUDA graphs (launch-bound batch 1).
            lean_cuda = lite_hrnet.optimize_for_inference(model, compile=False).module
            lean_graphs = torch.compile(lean_cuda, mode="reduce-overhead")
            paths["optimized + CUDA graphs"] = lambda: lean_graphs(x_cl).clone()
    else:
        feed = {"images": x.numpy()}
        if reference:
            official_session = onnxruntime_session(
                export_official_onnx(model, x, onnx_dir / f"official_{len(x)}.onnx"),
                threads=threads,
            )
            paths["onnxruntime, official graph (reference)"] = lambda: official_session.run(
                None, feed
            )
        path = onnx_dir / "model.onnx"
        if not path.exists():
            # Its own name: rebinding ``lean`` would redirect the "optimized, eager" lambda.
            nchw = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
            export_onnx(nchw, path, input_size=tuple(x.shape[-2:]))
        session = onnxruntime_session(path, threads=threads)
        paths["onnxruntime, export --optimize"] = lambda: session.run(None, feed)
        plain_path = onnx_dir / "model_plain.onnx"
        if not plain_path.exists():
            export_onnx(model, plain_path, input_size=tuple(x.shape[-2:]))
        plain_session = onnxruntime_session(plain_path, threads=threads)
        paths["onnxruntime, plain export"] = lambda: plain_session.run(None, feed)
        int8_path = onnx_dir / "model_int8.onnx"
        if wanted("onnxruntime, export --int8"):
            if not int8_path.exists():
                quantize_onnx(path, int8_path, calibration_images(tuple(x.shape[-2:])))
            int8_session = onnxruntime_session(int8_path, threads=threads)
            paths["onnxruntime, export --int8"] = lambda: int8_session.run(None, feed)
        paths.update(openvino_paths(model, x, onnx_dir, threads, wanted))
        for peer in peers or []:
            paths.update(peer_paths(peer, x, onnx_dir, threads))
    return paths


def _bf16_cpu() -> bool:
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _openvino_call(path: Path, x: torch.Tensor, precision: str, threads: int) -> Callable:
    compiled = compile_openvino(path, precision=precision, threads=threads)
    request = compiled.create_infer_request()
    array = x.numpy()
    return lambda: request.infer({0: array}, share_inputs=True)


def openvino_paths(
    model: nn.Module, x: torch.Tensor, onnx_dir: Path, threads: int, wanted: Callable
) -> dict[str, Callable[[], Any]]:
    """OpenVINO on ``export --format openvino``'s IRs of the plain and ``--optimize``
    graphs in f32 and bf16 (bf16 where the CPU has bf16 units), and the plain graph's NNCF int8
    with the default float scopes and with every op int8 (each if ``wanted``), each with
    ``INFERENCE_PRECISION_HINT`` set (f32 for int8's float ops)."""
    size = tuple(x.shape[-2:])
    plain, lean = onnx_dir / "openvino.xml", onnx_dir / "openvino_optimized.xml"
    if not plain.exists():
        export_openvino(model, plain, size)
        nchw = lite_hrnet.optimize_for_inference(model, compile=False, channels_last=False)
        export_openvino(nchw, lean, size)
    paths = {"openvino fp32, plain graph": _openvino_call(plain, x, "f32", threads)}
    paths["openvino fp32, export --optimize graph"] = _openvino_call(lean, x, "f32", threads)
    if _bf16_cpu():
        paths["openvino bf16, plain graph"] = _openvino_call(plain, x, "bf16", threads)
        paths["openvino bf16, export --optimize graph"] = _openvino_call(lean, x, "bf16", threads)
    # int8 with the default float scopes (last stage, pose head), and with every op int8.
    for name, keep_float in (
        ("openvino int8", DEFAULT_KEEP_FLOAT),
        ("openvino int8, every op", ()),
    ):
        if wanted(name):
            int8 = onnx_dir / f"openvino_int8_{len(keep_float)}.xml"
            if not int8.exists():
                export_openvino(model, int8, size, calibration=calibration_images(size),
                                keep_float=keep_float)  # fmt: skip
            paths[name] = _openvino_call(int8, x, "f32", threads)
    return paths


def peer_paths(
    peer: Path, x: torch.Tensor, onnx_dir: Path, threads: int
) -> dict[str, Callable[[], Any]]:
    """Another model's ONNX file (input (1, 3, H, W) at ``x``'s H, W; e.g. RTMPose
    exported by mmdeploy) in ONNX Runtime fp32 and OpenVINO fp32 and bf16, on ``x``. A
    file with a fixed batch of 1 is given a dynamic batch first (a copy in ``onnx_dir``);
    a peer whose graph cannot take ``x``'s batch is left out with a warning."""
    import onnx

    proto = onnx.load(str(peer))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    if [d.dim_value for d in dims[1:]] != list(x.shape[1:]):
        print(f"warning: {peer} takes {[d.dim_value for d in dims]}, not {list(x.shape)}")
        return {}
    copy_path = onnx_dir / f"peer_{peer.stem}.onnx"
    if not copy_path.exists():
        for value in (*proto.graph.input, *proto.graph.output):
            value.type.tensor_type.shape.dim[0].dim_param = "batch"
        onnx.save(proto, str(copy_path))
    name, feed = peer.stem, {proto.graph.input[0].name: x.numpy()}
    try:
        session = onnxruntime_session(copy_path, threads=threads)
        session.run(None, feed)
        paths = {f"{name} (peer), onnxruntime fp32": lambda: session.run(None, feed)}
        import openvino as ov

        ir = onnx_dir / f"peer_{peer.stem}.xml"
        if not ir.exists():
            ov.save_model(ov.convert_model(str(copy_path)), str(ir), compress_to_fp16=False)
        paths[f"{name} (peer), openvino fp32"] = _openvino_call(ir, x, "f32", threads)
        if _bf16_cpu():
            paths[f"{name} (peer), openvino bf16"] = _openvino_call(ir, x, "bf16", threads)
        for call in paths.values():
            call()
    except Exception as e:  # a graph with its batch fixed inside (a Reshape to 1 x ...)
        print(f"warning: {peer} at batch {len(x)}: {type(e).__name__}: {e}"[:300])
        return {}
    return paths


def train_step_fn(
    model: nn.Module,
    batch: int,
    size: tuple[int, int],
    device: torch.device,
    channels_last: bool,
    compile: bool,
    precision: str,
    fused_optimizer: bool,
) -> Callable[[], None]:
    """One optimisation step (forward, MSE loss on random heatmaps, backward, Adam) with the
    LightningModules' speed flags; ``precision`` is Lightning's "32-true" or "bf16-mixed".
    """
    model = copy.deepcopy(model).to(device).train()
    x = torch.randn(batch, 3, *size, device=device)
    target = torch.rand(batch, model.num_joints, size[0] // 4, size[1] // 4, device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    params = list(model.parameters())
    fused = fused_optimizer_kwargs(params) if fused_optimizer else {}
    optimizer = torch.optim.Adam(params, lr=1e-3, **fused)
    # Static shapes, as in a training run (one input size per process).
    forward = compile_for_training(model, channels_last, dynamic=False) if compile else model
    bf16 = precision == "bf16-mixed"

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.mse_loss(forward(x).float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


# --------------------------------------------------------------------------- suite


def machine(device: torch.device, threads: int) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        # Other work on the machine skews every figure; 2-thread runs suffer most.
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
    }
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    try:
        import openvino

        info["openvino"] = openvino.__version__.split("-")[0]
    except ImportError:
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def run_inference(args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    rows = []
    for name in args.models:
        model = bench_model(name, device)
        for size in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                for batch in args.batches:
                    x = torch.randn(batch, 3, *size, device=device)
                    compile = args.compile and size in args.compile_sizes
                    reference = args.reference and batch in args.reference_batches
                    only = {"eager", *args.paths} if args.paths else None
                    paths = inference_paths(
                        model, x, Path(tmp), compile, args.threads, reference, only, args.peer
                    )
                    if args.paths:
                        paths = {
                            k: f
                            for k, f in paths.items()
                            if k in {"eager", *args.paths} or "(peer)" in k
                        }
                    with torch.inference_mode():
                        result = interleaved(
                            paths, args.warmup, args.repeats, device, args.block, args.budget
                        )
                    rows += _inference_rows(name, size, batch, result)
    return rows


def _inference_rows(
    name: str, size: tuple[int, int], batch: int, result: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    rows = []
    for path, r in result.items():
        rows.append(
            {
                "model": name,
                "input": list(size),
                "batch": batch,
                "path": path,
                "latency_ms": 1e3 * r["median_s"],
                "images_per_s": batch / r["median_s"],
                "speedup": paired_speedup(result["eager"], r),
                # Against every other path of the group, e.g. int8 against the fastest fp32.
                "speedup_over": {other: paired_speedup(o, r) for other, o in result.items()},
                **{k: v for k, v in r.items() if k != "median_s"},
            }
        )
        _progress(rows[-1])
    return rows


def run_training(args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    rows = []
    settings = {
        k: TRAIN_SETTINGS[k]
        for k in ["eager fp32", *args.train_settings]
        if args.compile or not TRAIN_SETTINGS[k]["compile"]
    }
    for name in args.train_models:
        model = bench_model(name, torch.device("cpu"))
        for size in args.train_sizes:
            steps = {
                setting: train_step_fn(model, args.train_batch, size, device, **flags)
                for setting, flags in settings.items()
            }
            result = interleaved(
                steps, args.warmup_train, args.repeats_train, device, args.block_train
            )
            for setting, r in result.items():
                rows.append(
                    {
                        "model": name,
                        "input": list(size),
                        "batch": args.train_batch,
                        "setting": setting,
                        **settings[setting],
                        "images_per_s": args.train_batch / r["median_s"],
                        "speedup": paired_speedup(result["eager fp32"], r),
                        **{k: v for k, v in r.items() if k != "median_s"},
                    }
                )
                _progress(rows[-1])
    return rows


def _progress(row: dict[str, Any]) -> None:
    print("  " + json.dumps(row), file=sys.stderr, flush=True)


def to_markdown(report: dict[str, Any]) -> str:
    """The report as markdown: a header naming the machine, then one table per part."""
    m = report["machine"]
    big = max((row["batch"] for row in report["inference"]), default=16)
    lines = [
        f"# Benchmarks ({report['device']})",
        "",
        f"`{report['command']}`",
        "",
        f"{m['cpu']}, {m['threads']} threads, torch {m['torch']}"
        + (f", onnxruntime {m['onnxruntime']}" if "onnxruntime" in m else "")
        + (f", openvino {m['openvino']}" if "openvino" in m else "")
        + (f", {m['gpu']}" if "gpu" in m else "")
        + f", {m['date']}. Medians of up to {report['repeats']} timed runs per path, "
        f"in rounds of {report['block']} per path after {report['warmup']} untimed ones "
        f"({report['budget']:g} s per row group; training: {report['repeats_train']} steps "
        f"in rounds of {report['block_train']} after {report['warmup_train']}); each ratio "
        "against eager is the median over rounds of the two paths' ratio in that round. "
        "Load average "
        f"{m['load_average_at_start']} at the start, {m.get('load_average_at_end', '?')} at "
        f"the end; {report.get('wall_s', 0) / 60:.1f} minutes in all.",
    ]
    if report["inference"]:
        lines += [
            "",
            "## Inference",
            "",
            f"| model | input | path | batch-1 ms | x | batch-{big} img/s | x | cold start s |",
            "|---|---|---|---|---|---|---|---|",
        ]
    by_key: dict[tuple[str, str, str], dict[int, dict[str, Any]]] = {}
    for row in report["inference"]:
        key = (row["model"], "x".join(map(str, row["input"])), row["path"])
        by_key.setdefault(key, {})[row["batch"]] = row
    for (model, size, path), batches in by_key.items():
        one, many = batches.get(1), next((r for b, r in batches.items() if b != 1), None)
        cold = f"{max(r['cold_start_s'] for r in batches.values()):.1f}"
        if "peak_memory_mib" in batches.get(1, {}):  # CUDA only
            cold += f", batch-1 peak {batches[1]['peak_memory_mib']:.0f} MiB"
        lines.append(
            f"| {model} | {size} | {path} | "
            + (f"{one['latency_ms']:.1f} | x{one['speedup']:.2f} | " if one else "| | ")
            + (f"{many['images_per_s']:.1f} | x{many['speedup']:.2f} | " if many else "| | ")
            + f"{cold} |"
        )
    if report["training"]:
        lines += [
            "",
            f"## Training (batch {report['training'][0]['batch']}: forward, MSE loss, "
            "backward, Adam step)",
            "",
            "The baseline, eager fp32, steps with Adam's unfused loop over the tensors; every "
            "other setting with the fused kernel (the LightningModules' default).",
            "",
            "| model | input | setting | img/s | x | cold start s |",
            "|---|---|---|---|---|---|",
        ]
        for row in report["training"]:
            memory = f", {row['peak_memory_mib']:.0f} MiB" if "peak_memory_mib" in row else ""
            lines.append(
                f"| {row['model']} | {'x'.join(map(str, row['input']))} | {row['setting']} | "
                f"{row['images_per_s']:.1f}{memory} | x{row['speedup']:.2f} | "
                f"{row['cold_start_s']:.1f} |"
            )
    data = report.get("data_pipeline")
    if data:
        lines += [
            "",
            f"## Data pipeline ({data['input']} top-down samples with targets from 640x480 JPEGs)",
            "",
            "| one worker's work, in-process (1 OpenCV + 1 torch thread) "
            "| DataLoader, 1 worker process |",
            "|---|---|",
            f"| {data['samples_per_s_one_process']:.0f} samples/s "
            f"| {data['samples_per_s_dataloader_1_worker']:.0f} samples/s |",
        ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--models", nargs="+", default=["lite_hrnet_18", "lite_hrnet_30"])
    parser.add_argument("--sizes", nargs="+", type=input_size, default=[(256, 192), (384, 288)])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per block")
    parser.add_argument("--block", type=int, default=5, help="timed calls per path per round")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per path at most")
    parser.add_argument(
        "--budget",
        type=float,
        default=20.0,
        help="seconds of timed rounds per row group, after at least one round",
    )
    parser.add_argument(
        "--compile-sizes",
        nargs="+",
        type=input_size,
        help="sizes with the compiled paths (default: the first of --sizes; each graph "
        "takes minutes to compile)",
    )
    parser.add_argument(
        "--no-compile", dest="compile", action="store_false", help="skip the compiled paths"
    )
    parser.add_argument(
        "--reference-batches",
        nargs="+",
        type=int,
        default=[1],
        help="batches with the ONNX Runtime reference row (one static-shape export each)",
    )
    parser.add_argument("--no-reference", dest="reference", action="store_false")
    parser.add_argument(
        "--paths", nargs="+", help="time only these inference paths (and eager); default: all"
    )
    parser.add_argument(
        "--peer",
        nargs="+",
        type=Path,
        default=[],
        metavar="ONNX",
        help="other models' ONNX files (input (1, 3, H, W) at --sizes), timed beside ours in "
        "ONNX Runtime fp32 and OpenVINO fp32/bf16, e.g. RTMPose exported by mmdeploy",
    )
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--train-models", nargs="+", help="default: the first of --models")
    parser.add_argument(
        "--train-sizes", nargs="+", type=input_size, help="default: the first of --sizes"
    )
    parser.add_argument(
        "--train-settings",
        nargs="+",
        choices=list(TRAIN_SETTINGS)[1:],
        default=DEFAULT_TRAIN_SETTINGS,
        help="compared with eager fp32",
    )
    parser.add_argument("--warmup-train", type=int, default=1)
    parser.add_argument("--block-train", type=int, default=1)
    parser.add_argument("--repeats-train", type=int, default=8)
    parser.add_argument("--no-train", dest="train", action="store_false")
    parser.add_argument("--no-inference", dest="inference", action="store_false")
    parser.add_argument(
        "--no-data", dest="data", action="store_false", help="skip the data-pipeline part"
    )
    parser.add_argument(
        "--quick", action="store_true", help="lite_hrnet_18 at 256x192, fewer repeats"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for .md and .json")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.sizes = args.models[:1], args.sizes[:1]
        args.warmup, args.repeats, args.budget = 2, 10, 8.0
        args.block_train, args.repeats_train = 1, 3
    missing = [str(p) for p in args.peer if not p.is_file()]
    if missing:
        parser.error(f"--peer: no such file: {' '.join(missing)}")
    args.compile_sizes = args.compile_sizes or args.sizes[:1]
    args.train_models = args.train_models or args.models[:1]
    args.train_sizes = args.train_sizes or args.sizes[:1]
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    args = parse_args(argv)
    device = torch.device(args.device)
    data = None
    if args.data and device.type == "cpu":
        from benchmarks.data_pipeline import measure  # needs the [train] extra

        # First, while this process holds no worker threads yet: it forks a DataLoader
        # worker, and forking after the compiled paths have run can deadlock.
        data = measure(args.sizes[0])
        _progress(data)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)  # after ``measure``, which sets 1
    # Every compiled path traces ``PoseModel.forward``: one graph per model, shape and
    # setting, more than Dynamo's default limit of 8 per function, past which it would
    # silently run the rest eagerly.
    torch._dynamo.config.recompile_limit = 64
    report = {
        "device": args.device,
        "command": "python -m benchmarks.bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(device, args.threads),
        **{
            k: getattr(args, k)
            for k in (
                "warmup",
                "block",
                "repeats",
                "budget",
                "warmup_train",
                "block_train",
                "repeats_train",
            )
        },
        "inference": run_inference(args, device) if args.inference else [],
        "training": run_training(args, device) if args.train else [],
    }
    if data:
        report["data_pipeline"] = data
    report["machine"]["load_average_at_end"] = round(os.getloadavg()[0], 2)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.device}.json").write_text(json.dumps(report, indent=1) + "\n")
    markdown = to_markdown(report)
    (args.out / f"{args.device}.md").write_text(markdown)
    print(markdown)
    return report


if __name__ == "__main__":
    main()
