"""Ahead-of-time packages: the optimised model compiled once by AOTInductor into a ``.pt2``
archive, loaded in any later process without compiling again.

``export_package`` runs ``torch.export`` on ``optimize_for_inference(model, compile=False)``
with the CPU rewrite of the compiled path (BatchNorm folded, lean blocks, small 1x1
convolutions as matrix products) twice, with a dynamic batch axis and for batch 1 alone,
compiles both with AOTInductor (frozen weights, as the in-process compiled path) into one
archive, and adds ``extra/lite_hrnet.json`` to it: what the package was built for
(``PackageInfo``). The batch-1 graph is there for latency: one image ran much slower
through the dynamic graph than through the in-process model (benchmarks/README.md).

On the CPU, AOTInductor cannot keep the MKL-packed weights that the in-process path's
matrix products use (their layout depends on their address), and its oneDNN fallback has a
larger cost per call. ``autotune`` (the default) lets Inductor time its own C++ GEMM
kernels, with the weights packed as constants, against ATen for every matrix product, and
keep the faster.

Inductor's CPU kernels are written for the thread count of the process that compiles them:
its GEMM kernels split their work, and some reductions keep one partial sum, per thread.
Fewer threads give the same outputs, more would write past those partial sums. A package
records that count (``PackageInfo.threads``), runs on at most that many threads, and
``load_package`` warns when this process has another count.

``load_package`` reads ``PackageInfo`` first and refuses a package built for
another torch version or for a CPU with instruction sets this one lacks, with an error
that says how to rebuild it, and opens it with ``aoti_loader.open_runner``; the loaded
package refuses images of another size than it was built for.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .aoti_loader import open_runner, unsupported_cpu_features
from .onnx import quiet_exporter
from .optimize import optimize_for_inference
from .pointwise import swap_pointwise_convs

__all__ = ["AotPackage", "PackageError", "PackageInfo", "export_package", "load_package"]

PACKAGE_FORMAT = 1
INFO_FILE = "extra/lite_hrnet.json"
# The dynamic graph's batch axis is symbolic between these bounds.
MAX_BATCH = 1024
# AOTInductor's names of the two graphs; "model" is the one its own loader opens by default.
DYNAMIC_GRAPH = "model"
BATCH1_GRAPH = "batch1"
# Freezing makes the weights constants: pre-packed oneDNN convolutions with fused
# epilogues (see ``optimize``). Inductor's 2-D tiling is slower for this net's pointwise
# kernels on the CPU.
_INDUCTOR_CONFIGS = {"freezing": True, "cpp.enable_tiling_heuristics": False}
# ``autotune``: every matrix product timed as Inductor's C++ GEMM kernel and as ATen's.
# Its table of timings per matrix product is not printed (hundreds of lines).
_CPU_AUTOTUNE_CONFIGS = {
    "max_autotune": True,
    "max_autotune_gemm_backends": "CPP,ATEN",
    "autotune_num_choices_displayed": 0,
}


class PackageError(ValueError):
    """A package that cannot run here or on this input: the message says why and what to do."""


@dataclass(frozen=True)
class PackageInfo:
    """What a package was built for, stored in its archive.

    ``outputs`` is the number of joints (pose), classes (segmentation) or 0 (a backbone);
    ``input_size`` is (H, W); ``device`` the device type it runs on; ``batch1_graph``
    whether it holds a graph compiled for batch 1 besides the dynamic one; ``threads`` the
    CPU thread count it was compiled for, the most it runs on (None: unknown, or a GPU);
    ``task_meta`` what the task needs besides the network, as plain JSON (pose: the
    ``keypoint_set`` and the ``codec`` in their ``to_dict`` forms; None: exported without a
    checkpoint that stores them).
    """

    variant: str
    task: str
    input_size: tuple[int, int]
    outputs: int
    torch: str
    device: str = "cpu"
    in_channels: int = 3
    max_batch: int = MAX_BATCH
    format: int = PACKAGE_FORMAT
    batch1_graph: bool = False
    threads: int | None = None
    task_meta: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> PackageInfo:
        fields = json.loads(text)
        fields["input_size"] = tuple(fields["input_size"])
        return cls(**fields)


def _archive_prefix(archive: zipfile.ZipFile, path: Path) -> str:
    """The archive's root folder (AOTInductor names it after the file)."""
    for name in archive.namelist():
        if name.endswith("/archive_format"):
            return name.rsplit("/", 1)[0] + "/"
    raise PackageError(f"{path}: not a .pt2 archive (no archive_format entry)")


def read_package_info(path: str | PathLike[str]) -> PackageInfo:
    """The ``PackageInfo`` stored in the package at ``path``, without loading its code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"package not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            name = _archive_prefix(archive, path) + INFO_FILE
            if name not in archive.namelist():
                raise PackageError(
                    f"{path}: no {INFO_FILE}; not written by `lite-hrnet export --format pt2`"
                )
            data = archive.read(name)
    except zipfile.BadZipFile as e:
        raise PackageError(f"{path}: not a .pt2 archive ({e})") from None
    try:
        return PackageInfo.from_json(data.decode())
    except (ValueError, TypeError, KeyError) as e:  # not JSON, or not our fields
        raise PackageError(f"{path}: unreadable {INFO_FILE} ({e})") from None


def export_package(
    model: nn.Module,
    path: str | PathLike[str],
    *,
    input_size: tuple[int, int],
    variant: str,
    task: str,
    outputs: int,
    max_batch: int = MAX_BATCH,
    autotune: bool = True,
    progress: Callable[[str], None] | None = None,
    task_meta: dict[str, Any] | None = None,
) -> Path:
    """Compile ``model`` (images (B, 3, H, W) -> one tensor) ahead of time into the package
    ``path`` (a ``.pt2`` file) for images of ``input_size`` (H, W) and batches of 1 to
    ``max_batch``, on the device of its parameters; ``variant``, ``task`` and ``outputs``
    are recorded in the package (``PackageInfo``). Compiling takes minutes on a CPU.
    The package is compiled for this process's CPU thread count (``torch.get_num_threads()``).
    ``autotune`` (CPU): time Inductor's GEMM kernels against ATen's for every matrix product,
    which makes the build slower and the package faster. ``progress`` is called with a line
    before each graph is compiled. ``task_meta`` is stored as ``PackageInfo.task_meta``.
    """
    from torch._inductor import aot_compile
    from torch._inductor.package import package_aoti

    path = Path(path)
    if path.suffix != ".pt2":
        raise ValueError(f"package path must end in .pt2, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    parameter = next(model.parameters())
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    on_cpu = parameter.device.type == "cpu"
    info = PackageInfo(
        variant=variant,
        task=task,
        input_size=(int(input_size[0]), int(input_size[1])),
        outputs=outputs,
        torch=torch.__version__,
        device=parameter.device.type,
        in_channels=first_conv.in_channels,
        max_batch=max_batch,
        batch1_graph=True,
        threads=torch.get_num_threads() if on_cpu else None,
        task_meta=task_meta,
    )
    lean = optimize_for_inference(model, compile=False)
    if on_cpu:  # as the in-process compiled path (``optimize``)
        swap_pointwise_convs(lean.module)
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    # The dynamic graph's example has 2 images: 1 would be specialised to a constant.
    graphs = {
        DYNAMIC_GRAPH: (2, {0: batch}, f"batches 1-{max_batch}"),
        BATCH1_GRAPH: (1, None, "batch 1"),
    }
    autotune = autotune and on_cpu
    options = {**_INDUCTOR_CONFIGS, "aot_inductor.package": True}
    if autotune:
        options.update(_CPU_AUTOTUNE_CONFIGS)
    files = {}
    with torch.no_grad(), quiet_exporter():
        for step, (name, (images, dynamic, batches)) in enumerate(graphs.items(), 1):
            if progress is not None:
                tuned = ", GEMMs autotuned" if autotune else ""
                progress(f"compiling graph {step}/{len(graphs)} ({batches}{tuned})")
            example = (
                torch.zeros(images, info.in_channels, *info.input_size, device=parameter.device),
            )
            program = torch.export.export(lean, example, dynamic_shapes=(dynamic,))
            files[name] = aot_compile(program.module(), example, options=options)
    package_aoti(str(path), files)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(_archive_prefix(archive, path) + INFO_FILE, info.to_json())
    return path


@contextmanager
def _at_most_threads(threads: int | None) -> Iterator[None]:
    """Run the block on at most ``threads`` CPU threads (None: as many as now)."""
    now = torch.get_num_threads()
    if threads is None or now <= threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(now)


class AotPackage:
    """A loaded package: call it with images (B, C, H, W) of the size it was built for;
    returns what the source model returned, e.g. heatmaps (B, K, H/4, W/4). Runs without
    autograd, on at most the threads it was compiled for. ``info`` says what it was built
    for."""

    def __init__(
        self, path: Path, info: PackageInfo, runner: object, batch1_runner: object | None = None
    ) -> None:
        self.path = path
        self.info = info
        self._runner = runner
        self._batch1_runner = batch1_runner or runner

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        expected = (self.info.in_channels, *self.info.input_size)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            h, w = images.shape[-2:] if images.dim() >= 2 else ("?", "?")
            raise PackageError(
                f"{self.path} takes images (B, {', '.join(map(str, expected))}), got "
                f"{tuple(images.shape)}: export a package for {h}x{w} "
                f"(`lite-hrnet export {self.info.variant} --format pt2 --input {h}x{w}`)"
            )
        if not 1 <= len(images) <= self.info.max_batch:
            raise PackageError(
                f"{self.path} takes batches of 1 to {self.info.max_batch}, got {len(images)}"
            )
        if images.device.type != self.info.device:
            raise PackageError(
                f"{self.path} runs on {self.info.device}, got images on {images.device}"
            )
        runner = self._batch1_runner if len(images) == 1 else self._runner
        with torch.no_grad(), _at_most_threads(self.info.threads):
            return runner(images.float().contiguous())

    def __repr__(self) -> str:
        h, w = self.info.input_size
        return f"AotPackage({self.path}, {self.info.variant}, {self.info.task}, {h}x{w})"


def load_package(
    path: str | PathLike[str], input_size: tuple[int, int] | None = None
) -> AotPackage:
    """Load the package ``path`` written by ``export_package`` (or ``lite-hrnet export
    --format pt2``). Raises ``PackageError`` when it was built by another torch version, for
    a CPU with more instruction sets, or for another ``input_size`` (H, W) than the one
    given. Warns when it was compiled for another thread count than this process's
    (``torch.get_num_threads()``)."""
    path = Path(path)
    info = read_package_info(path)
    rebuild = f"export it again here (`lite-hrnet export {info.variant} --format pt2 ...`)"
    if info.format != PACKAGE_FORMAT:
        raise PackageError(
            f"{path}: package format {info.format}, this version reads {PACKAGE_FORMAT}; " + rebuild
        )
    if info.torch != torch.__version__:
        raise PackageError(
            f"{path} was built with torch {info.torch}, this is torch {torch.__version__}; "
            "AOTInductor packages run only under the torch that built them: " + rebuild
        )
    if input_size is not None and tuple(input_size) != info.input_size:
        h, w = info.input_size
        raise PackageError(
            f"{path} was built for {h}x{w} inputs, not {input_size[0]}x{input_size[1]}: "
            + rebuild.replace("...", f"--input {input_size[0]}x{input_size[1]}")
        )
    missing = unsupported_cpu_features(path)
    if missing:
        raise PackageError(
            f"{path} was compiled for a CPU with {', '.join(missing)}, which this CPU lacks: "
            + rebuild
        )
    threads = torch.get_num_threads()
    if info.threads is not None and info.threads != threads:
        runs = f"it runs on {info.threads}" if threads > info.threads else "the same outputs"
        warnings.warn(
            f"{path} was compiled for {info.threads} threads, this process has {threads}: "
            f"{runs}, not at its best speed; export it again with OMP_NUM_THREADS={threads}",
            stacklevel=2,
        )
    batch1 = open_runner(path, BATCH1_GRAPH) if info.batch1_graph else None
    return AotPackage(path, info, open_runner(path, DYNAMIC_GRAPH), batch1)
