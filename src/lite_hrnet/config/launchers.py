"""This project's defaults for the Hydra launcher plugins (``[train]`` extra), as the
plugins' own typed configs: ``hydra/launcher=joblib``, ``submitit_local`` and
``submitit_slurm`` select them, ``basic`` (Hydra's, one job after another) stays the default.

``submitit_slurm`` ties the SLURM request to the trainer: ``trainer.num_nodes`` nodes with
``trainer.devices`` tasks and GPUs each (Lightning's SLURM environment then takes the ranks
from SLURM, one task per GPU), a day's time limit. Cluster specifics go on the command
line: ``hydra.launcher.partition=gpu hydra.launcher.account=...``; a CPU-only job asks
for ``hydra.launcher.gpus_per_node=0``.
"""

from __future__ import annotations

from typing import Any


def launcher_configs() -> dict[str, Any]:
    """Name -> config instance, for ``group="hydra/launcher"``; empty without the plugins."""
    configs: dict[str, Any] = {}
    try:
        from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
    except ImportError:
        pass
    else:
        # Parallel local processes. Every job runs its own torch threads and data workers:
        # keep n_jobs x threads within the machine's cores.
        configs["joblib"] = JobLibLauncherConf(n_jobs=2)
    try:
        from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf
    except ImportError:
        return configs
    # Each job in its own local process, the SLURM launcher's code path without SLURM;
    # logs and pickled results under <sweep dir>/.submitit/.
    configs["submitit_local"] = LocalQueueConf(timeout_min=60, tasks_per_node=1)
    configs["submitit_slurm"] = SlurmQueueConf(
        timeout_min=24 * 60,
        nodes="${trainer.num_nodes}",  # type: ignore[arg-type]  # resolved by Hydra
        tasks_per_node="${trainer.devices}",  # type: ignore[arg-type]
        gpus_per_node="${trainer.devices}",  # type: ignore[arg-type]
        cpus_per_task=8,
        signal_delay_s=120,
    )
    return configs
