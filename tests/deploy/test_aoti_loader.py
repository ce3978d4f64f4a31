"""The direct AOTInductor loader: the pinned torch is one it was written for, it gives the
public loader's outputs, it leaves ``torch._inductor`` unimported, and a package compiled
for instruction sets this CPU lacks is refused (the conftest's tiny package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lite_hrnet.deploy import aoti_loader
from lite_hrnet.deploy.package import PackageError, load_package

pytestmark = pytest.mark.slow  # an AOTInductor compile


def test_the_pinned_torch_takes_the_direct_path() -> None:
    assert aoti_loader.direct_loader_applies(), (
        f"torch {torch.__version__} is not in aoti_loader.SUPPORTED_TORCH: check that "
        "torch._C._aoti.AOTIModelPackageLoader(path, name, single_threaded, runners, device) "
        "and boxed_run still match, then list this version"
    )


def test_direct_runner_equals_the_public_loader(tiny_package: Path) -> None:
    from torch._inductor import aoti_load_package

    runner = aoti_loader.open_runner(tiny_package)
    public = aoti_load_package(str(tiny_package))
    assert type(runner) is not type(public)  # the direct path, not the public wrapper
    for batch in (1, 3):
        x = torch.randn(batch, 3, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(runner(x.clone()), public(x.clone()), rtol=0, atol=0)


def test_loading_a_package_leaves_inductor_and_sympy_unimported(tiny_package: Path) -> None:
    child = (
        "import sys, torch\n"
        "from lite_hrnet.deploy import load_package\n"
        f"load_package({str(tiny_package)!r})(torch.zeros(1, 3, 64, 64))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('torch._inductor', "
        "'torch._dynamo', 'torch.export.pt2_archive', 'sympy'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "[]"


def test_a_package_for_missing_instruction_sets_is_refused(
    tiny_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert aoti_loader.unsupported_cpu_features(tiny_package) == []  # built here, runs here
    for name in aoti_loader._CPU_FEATURES:
        monkeypatch.setitem(aoti_loader._CPU_FEATURES, name, lambda: False)
    missing = aoti_loader.unsupported_cpu_features(tiny_package)
    if not missing:
        pytest.skip("the package was compiled without x86 vector extensions")
    with pytest.raises(PackageError, match=f"compiled for a CPU with {missing[0]}.*export it"):
        load_package(tiny_package)
