"""What Hydra may build from a config: the project's callbacks and Hydra's plugins only.

Hydra instantiates every ``hydra.callbacks.*._target_`` (and what is nested in them) before
the run starts, so an experiment file or an override such as
``+hydra.callbacks.x._target_=os.makedirs`` would call any importable function. The
project's own keys already refuse ``_target_``; this guard covers Hydra's node. Before
Hydra builds its callbacks, every ``_target_`` under ``hydra`` is checked:

- under ``hydra.callbacks``: a ``hydra.experimental.callback.Callback`` subclass of this
  project or of Hydra;
- elsewhere (launcher, sweeper, sampler): a Hydra plugin or an Optuna sampler or pruner
  (Hydra itself only builds launchers and sweepers from ``hydra_plugins``).

Anything else stops the run with a ``RefusedTargetError`` (a ``ValueError``, which Hydra
prints as one line) naming the key and the target, unless ``LITE_HRNET_ALLOW_TARGETS=1``
opts in (for a config you wrote or trust).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, ListConfig

ALLOW_TARGETS_ENV = "LITE_HRNET_ALLOW_TARGETS"
# Modules whose Hydra callbacks may be built: the project's and Hydra's own.
CALLBACK_MODULES = ("lite_hrnet.", "hydra.experimental.callbacks.")
# Other targets under ``hydra``: Hydra's plugins and the Optuna sweeper's samplers.
PLUGIN_MODULES = (
    "hydra._internal.core_plugins.",
    "hydra_plugins.",
    "optuna.samplers.",
    "optuna.pruners.",
)


class RefusedTargetError(CompactHydraException, ValueError):
    """A config asks Hydra to build something that is no project callback or Hydra plugin."""


def _targets(node: Any, key: str) -> Iterator[tuple[str, Any]]:
    """(key, target) of every ``_target_`` under ``node``, unresolved."""
    if isinstance(node, DictConfig):
        for name in node:
            child = node._get_node(name)
            if name == "_target_":
                yield f"{key}._target_", child._value()
            else:
                yield from _targets(child, f"{key}.{name}")
    elif isinstance(node, ListConfig):
        for i in range(len(node)):
            yield from _targets(node._get_node(i), f"{key}[{i}]")


def _is_callback_class(target: Any) -> bool:
    if not (isinstance(target, str) and target.startswith(CALLBACK_MODULES)):
        return False
    from hydra.experimental.callback import Callback
    from hydra.utils import get_class

    try:
        cls = get_class(target)
    except Exception:  # an unknown name: refused like any other
        return False
    return issubclass(cls, Callback)


def refused_targets(cfg: DictConfig) -> list[tuple[str, Any]]:
    """(key, target) of each ``_target_`` under ``cfg.hydra`` that is neither a project or
    Hydra callback (under ``hydra.callbacks``) nor a Hydra plugin or Optuna sampler."""
    hydra_node = cfg._get_node("hydra") if "hydra" in cfg else None
    if hydra_node is None:
        return []
    refused = []
    for key, target in _targets(hydra_node, "hydra"):
        if key.startswith("hydra.callbacks."):
            allowed = _is_callback_class(target)
        else:
            allowed = isinstance(target, str) and target.startswith(PLUGIN_MODULES)
        if not allowed:
            refused.append((key, target))
    return refused


def targets_allowed_by_user() -> bool:
    """Whether ``LITE_HRNET_ALLOW_TARGETS`` opts in to any target."""
    return os.environ.get(ALLOW_TARGETS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def check_hydra_targets(cfg: DictConfig) -> None:
    """A ``RefusedTargetError`` naming each target Hydra would build that is not allowed."""
    if targets_allowed_by_user():
        return
    refused = refused_targets(cfg)
    if refused:
        listed = ", ".join(f"{key}={target}" for key, target in refused)
        raise RefusedTargetError(
            f"{listed}: the config asks Hydra to call code that is not one of this "
            "project's callbacks or a Hydra plugin; refused (an experiment file or "
            f"override can run any function this way). If you trust it, set "
            f"{ALLOW_TARGETS_ENV}=1"
        )


def guard_hydra_callbacks() -> None:
    """Check the composed config before Hydra instantiates its callbacks, in every run and
    multirun that Hydra starts from this process.

    Hydra has no public hook before it builds ``hydra.callbacks``, so this replaces the
    ``Callbacks`` class that Hydra 1.3's run and multirun set-up instantiates (``hydra-core``
    is pinned below 1.4); ``tests/cli/test_hydra_targets.py`` fails when it stops matching.
    """
    import hydra._internal.hydra as hydra_run
    from hydra._internal.callbacks import Callbacks

    if getattr(hydra_run.Callbacks, "checks_targets", False):
        return

    class CheckedCallbacks(Callbacks):
        checks_targets = True

        def __init__(self, config: DictConfig | None = None) -> None:
            if config is not None:
                check_hydra_targets(config)
            super().__init__(config)

    hydra_run.Callbacks = CheckedCallbacks
