"""The house's rules, read off the source: which part of the package may import which
(arrows point down only, no cycle, lazy imports included), what the reference model and
the core install import, and where Hydra appears."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import lite_hrnet

PACKAGE = Path(lite_hrnet.__file__).parent
REPO = PACKAGE.parents[1]

# Each part of the package and the parts it may import. Parts are the subpackages and the
# loose modules at the package root.
ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "meta": {"formats"},
    "formats": set(),
    "checks": set(),
    "codecs": {"meta"},
    "deploy": {"models"},
    "testing": {"models"},
    "synthetic": {"meta", "checks"},
    "metrics": {"codecs", "meta", "formats"},
    "inference": {"models", "deploy", "sharing", "codecs", "meta", "formats", "checks"},
    "data": {"codecs", "meta", "formats", "checks", "synthetic"},
    "tasks": {"models", "deploy", "inference", "metrics", "data", "codecs", "meta", "checks"},
    "config": {"tasks", "data", "synthetic", "checks", "sharing"},
    "sharing": {"models", "meta", "codecs"},
    "timm": {"models"},
    "training": {"config", "tasks", "data", "metrics", "models", "sharing", "formats"},
    "reporting": {"training"},
    "cli": {
        "models",
        "deploy",
        "codecs",
        "meta",
        "formats",
        "data",
        "inference",
        "metrics",
        "tasks",
        "training",
        "config",
        "reporting",
        "sharing",
    },
    "conf": set(),  # the Hydra YAML, a package so that config_module= finds it
    "__init__": {"models", "deploy", "meta", "sharing", "inference"},
}
STDLIB = set(sys.stdlib_module_names)


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _module(path: Path) -> list[str]:
    parts = ["lite_hrnet", *path.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports included),
    with relative imports resolved."""
    inside = PACKAGE in path.parents
    package = (
        (_module(path) if path.name == "__init__.py" else _module(path)[:-1]) if inside else []
    )
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level and not inside:  # a script folder's own modules
                found.append("." * node.level + (node.module or ""))
            elif node.level:
                base = package[: len(package) - node.level + 1]
                found.append(".".join(base + ([node.module] if node.module else [])))
            else:
                found.append(node.module or "")
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in SOURCES:
        part = _part(path)
        for name in _imports(path):
            bits = name.split(".")
            if bits[0] == "lite_hrnet" and len(bits) > 1 and bits[1] != part:
                edges.setdefault(part, set()).add(bits[1])
    return edges


def test_every_part_is_known() -> None:
    parts = {_part(p) for p in SOURCES}
    assert parts <= set(ALLOWED), parts - set(ALLOWED)


def test_arrows_point_down_only() -> None:
    wrong = {
        part: sorted(targets - ALLOWED[part])
        for part, targets in _graph().items()
        if targets - ALLOWED[part]
    }
    assert not wrong, f"imports outside the allowed layers: {wrong}"


def test_no_import_cycle_between_parts() -> None:
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                raise AssertionError(f"import cycle: {' -> '.join([*trail, node, target])}")
            if target not in state:
                visit(target, [*trail, node])
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node, [])


def test_models_import_torch_and_numpy_only() -> None:
    for path in PACKAGE.joinpath("models").rglob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert top in STDLIB | {"torch", "numpy", "lite_hrnet", "__future__"}, (path, name)
            if top == "lite_hrnet":
                assert name.startswith("lite_hrnet.models"), (path, name)


def test_hydra_stays_in_the_entry_points_and_the_config_store() -> None:
    allowed = {PACKAGE / "config" / "store.py", PACKAGE / "config" / "launchers.py"}
    for path in SOURCES:
        tops = {name.split(".")[0] for name in _imports(path)}
        if tops & {"hydra", "hydra_plugins", "omegaconf"}:
            assert path in allowed or path.parent.name == "cli", path


def test_at_most_three_loose_modules_at_the_root() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(loose) <= 3, loose


@pytest.mark.parametrize("folder", ["src", "benchmarks", "experiments"])
def test_nothing_outside_tests_imports_tests(folder: str) -> None:
    for path in (REPO / folder).rglob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] != "tests", (path, name)


def test_the_core_import_needs_no_training_extra() -> None:
    code = (
        "import sys, lite_hrnet; "
        "heavy = {'lightning', 'hydra', 'omegaconf', 'cv2', 'pycocotools', 'albumentations', "
        "'torchmetrics', 'scipy', 'matplotlib', 'onnx', 'onnxruntime', 'safetensors', "
        "'huggingface_hub', 'timm'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
