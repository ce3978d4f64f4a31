"""Opening an AOTInductor package with torch's C++ loader, without ``torch._inductor``.

The public loader, ``torch._inductor.aoti_load_package``, imports ``torch._inductor`` and
``torch.export``'s archive code, then asks Inductor which vector ISA this CPU has: it builds
(once per machine) and ``dlopen``s a probe library per ISA, each in a child Python process.
All of that only feeds a warning when the CPU differs from the one that built the package,
and it is most of a new process's wait for its first output. ``open_runner`` builds the
same runner from ``torch._C._aoti.AOTIModelPackageLoader``, the C++ class that
``aoti_load_package`` wraps, and calls it as the wrapper does (``boxed_run`` on the
flattened inputs) for the one signature our packages have: one tensor in, one tensor out.
``unsupported_cpu_features`` reads the ISA the package was compiled for from its metadata and
asks the CPU through ``torch.cpu``, so that a package built for a CPU with more features
than this one is refused with an error rather than a crash on an illegal instruction.

Scope: this private class and its constructor arguments are those of the torch versions in
``SUPPORTED_TORCH``. On any other version, or for a package whose calling convention is not
one tensor to one tensor, ``open_runner`` takes the public loader. ``direct_loader_applies``
says which; ``tests/deploy/test_aoti_loader.py`` fails when the pinned torch is not listed
here or when the two loaders stop giving the same output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

SUPPORTED_TORCH = ("2.13",)
# AOTInductor's default model name in a package; its pytree spec of a single tensor.
MODEL_NAME = "model"
_TENSOR_SPEC = {"type": None, "context": None, "children_spec": []}
# Inductor's x86 ISA names (its metadata's AOTI_CPU_ISA) and the CPU's answer for each.
_CPU_FEATURES: dict[str, Callable[[], bool]] = {
    "AVX2": torch.cpu._is_avx2_supported,
    "AVX512": torch.cpu._is_avx512_supported,
    "AVX512_VNNI": torch.cpu._is_vnni_supported,
    "AMX_TILE": torch.cpu._is_amx_tile_supported,
}


def torch_minor_version() -> str:
    """``"2.13"`` for torch 2.13.0+cpu."""
    return ".".join(torch.__version__.split("+")[0].split(".")[:2])


def direct_loader_applies() -> bool:
    """Whether this torch is one ``open_runner``'s direct path was written for."""
    return torch_minor_version() in SUPPORTED_TORCH and hasattr(torch._C, "_aoti")


def unsupported_cpu_features(path: str | Path) -> list[str]:
    """The instruction sets the CPU package ``path`` was compiled for that this CPU lacks
    (names as Inductor writes them, e.g. ``["AMX_TILE"]``); empty where this is not known."""
    if not direct_loader_applies():
        return []
    metadata = torch._C._aoti.AOTIModelPackageLoader.load_metadata_from_package(
        str(path), MODEL_NAME
    )
    if metadata.get("AOTI_DEVICE_KEY") != "cpu":
        return []
    isa = metadata.get("AOTI_CPU_ISA", "").split()
    return [name for name in isa if name in _CPU_FEATURES and not _CPU_FEATURES[name]()]


def _is_one_tensor(spec: str, arguments: bool) -> bool:
    """Whether a pytree spec (``treespec_dumps``) is one tensor, or for ``arguments`` the
    ``((tensor,), {})`` of a call with one positional tensor."""
    _, tree = json.loads(spec)
    if not arguments:
        return tree == _TENSOR_SPEC
    args, kwargs = tree["children_spec"] if tree["type"] == "builtins.tuple" else (None, None)
    return (
        args is not None
        and args["type"] == "builtins.tuple"
        and args["children_spec"] == [_TENSOR_SPEC]
        and kwargs["type"] == "builtins.dict"
        and kwargs["children_spec"] == []
    )


def open_runner(
    path: str | Path, model_name: str = MODEL_NAME
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable running the graph ``model_name`` of the package ``path``: images
    (B, C, H, W) -> the model's tensor."""
    if direct_loader_applies():
        loader = torch._C._aoti.AOTIModelPackageLoader(str(path), model_name, False, 1, -1)
        in_spec, out_spec = loader.get_call_spec()
        if _is_one_tensor(in_spec, arguments=True) and _is_one_tensor(out_spec, arguments=False):
            return lambda images: loader.boxed_run([images])[0]
    from torch._inductor.package import load_package

    return load_package(str(path), model_name)
