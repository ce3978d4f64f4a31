"""``lite-hrnet train [HYDRA OVERRIDES...]``: the Hydra entry point for training runs.

Examples::

    lite-hrnet train experiment=synthetic_coco
    lite-hrnet train data=coco data.root=/data/coco model=lite_hrnet_30 trainer=gpu
    lite-hrnet train -m experiment=synthetic_coco model.width=0.5,1.0
    lite-hrnet train -m experiment=synthetic_coco hparams_search=synthetic_coco_optuna

Each job returns its best monitored value (for sweepers) and leaves ``summary.json`` in
its folder. A job that fails leaves ``failed.json`` instead; a single run then exits
non-zero, while a sweep goes on with its other jobs and exits 1 at the end.
``python -m lite_hrnet.cli.train OVERRIDES`` is the same command; it is how Lightning's DDP
launcher starts the ranks > 0 of a job.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import multiprocessing
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, read_write

from ..config.store import register_configs
from .errors import is_clear
from .hydra_targets import guard_hydra_callbacks
from .sweep_summary import SweepReport, report_sweep

register_configs()
guard_hydra_callbacks()  # before Hydra builds hydra.callbacks from the composed config


def _process_rank() -> int:
    """This process's global rank as the launchers set it (before any Trainer exists)."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def _relaunch_this_job(job_dir: str) -> None:
    """Make Lightning's DDP launcher start ranks > 0 as this job alone.

    It runs ``python -m <__main__'s module> sys.argv[1:] hydra.run.dir=<hydra run dir>``.
    Whatever started this process (the ``lite-hrnet`` script, a sweep, joblib, submitit),
    that becomes ``python -m lite_hrnet.cli.train <this job's overrides>`` writing into
    this job's folder, as a single run.
    """
    import __main__

    __main__.__spec__ = importlib.util.find_spec("lite_hrnet.cli.train")
    hydra_cfg = HydraConfig.get()
    # hydra.mode=RUN: an override such as hparams_search=... may ask for a sweep.
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task, "hydra.mode=RUN"]
    with read_write(hydra_cfg):
        hydra_cfg.run.dir = job_dir


def _hydra_defaults(run_cfg) -> None:
    """Defaults that depend on the sweep: wandb groups a sweep's jobs under its folder's
    name and names each ``<sweep>/<job number>`` (its folder)."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        sweep = Path(hydra_cfg.sweep.dir).name
        if run_cfg.logger.group is None:
            run_cfg.logger.group = sweep
        if run_cfg.logger.name is None:
            run_cfg.logger.name = f"{sweep}/{hydra_cfg.job.num}"


def _safe_start_method(sweeping: bool) -> None:
    """Start DataLoader workers with forkserver (spawn where there is none) in a sweep.

    The basic and joblib launchers run job after job in one process, and forking a process
    that still holds the previous job's threads can deadlock (seen: the basic launcher's
    second job, both workers stuck in a futex). Inside a joblib (loky) worker the default
    context is loky's, which cannot start DataLoader workers at all.
    """
    if sweeping or multiprocessing.get_start_method(allow_none=True) == "loky":
        methods = multiprocessing.get_all_start_methods()
        method = "forkserver" if "forkserver" in methods else "spawn"
        multiprocessing.set_start_method(method, force=True)


def unknown_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Keys of ``node`` that are no field of its config dataclass, recursively: what an
    override with ``+`` adds (Hydra opens the typed node for it, and the key is then dropped
    silently when the dataclasses are built)."""
    found = []
    schema = OmegaConf.get_type(node)
    fields = (
        {f.name for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else None
    )
    for key in node:
        name = f"{prefix}{key}"
        if name == "hydra":  # Hydra's own node
            continue
        if fields is not None and key not in fields:
            found.append(name)
            continue
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            found += unknown_keys(child, f"{name}.")
    return found


def _check_resume_target(run_cfg, hydra_cfg, output_dir: str) -> None:
    """``resume=true`` in a run folder named by the clock (``hydra.run.dir`` not set) is a
    new, empty folder: say so, and how to point at the run, rather than start afresh."""
    from ..training.checkpointing import latest_checkpoint

    if not run_cfg.resume or run_cfg.ckpt_path:
        return
    node = hydra_cfg.sweep if hydra_cfg.mode == RunMode.MULTIRUN else hydra_cfg.run
    configured = str(OmegaConf.to_container(node, resolve=False)["dir"])
    if "${now:" not in configured or latest_checkpoint(Path(output_dir)) is not None:
        return
    key = "hydra.sweep.dir" if hydra_cfg.mode == RunMode.MULTIRUN else "hydra.run.dir"
    raise FileNotFoundError(
        f"resume=true: no checkpoint in {output_dir}, a new folder named by the clock "
        f"because {key} is not set. Point at the run to resume: {key}=<its folder>, or "
        "ckpt_path=<its folder>/checkpoints/last.ckpt"
    )


def _interrupt_record(signal_error, output_dir: str) -> dict:
    """``failed.json``'s fields for a run ended by a signal: the signal, the exit status
    and the checkpoint to resume from."""
    from ..training.checkpointing import latest_checkpoint

    last = latest_checkpoint(Path(output_dir))
    hint = (
        f"last checkpoint {last}; resume=true hydra.run.dir={output_dir} continues"
        if last is not None
        else "no checkpoint saved yet"
    )
    return {
        "error": f"{signal_error} ({hint})",
        "signal": signal_error.signal_name,
        "exit_code": signal_error.exit_code,
        "last_checkpoint": None if last is None else str(last),
    }


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def hydra_main(cfg: DictConfig) -> float | None:
    from ..training.interrupts import RunInterrupted, raise_on_signals, received_signal
    from ..training.jobs import clear_rank_failures, write_failure
    from ..training.run import run_training

    hydra_cfg = HydraConfig.get()
    output_dir = hydra_cfg.runtime.output_dir
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    _safe_start_method(sweeping)
    rank = _process_rank()
    if rank == 0:
        clear_rank_failures(output_dir)
    with raise_on_signals():
        try:
            unknown = unknown_keys(cfg)
            if unknown:
                raise ValueError(
                    f"{', '.join(unknown)}: no such key in the config (added with '+'?); "
                    "`lite-hrnet train --cfg job` prints every key"
                )
            run_cfg = OmegaConf.to_object(cfg)
            _hydra_defaults(run_cfg)
            _check_resume_target(run_cfg, hydra_cfg, output_dir)
            if str(run_cfg.trainer.strategy).startswith("ddp"):
                _relaunch_this_job(output_dir)
            return run_training(run_cfg, output_dir)
        except BaseException as error:
            signum = received_signal()
            if signum is None and not isinstance(error, Exception):
                raise  # SystemExit and the like, not a failure of the job
            # A signal can surface as another error (a collective cut short by the ranks
            # it stopped): the signal is what ended the run.
            stop = error if isinstance(error, RunInterrupted) else None
            if signum is not None and stop is None:
                stop = RunInterrupted(signum)
                stop.__cause__ = error
            if rank == 0:
                interrupt = None if stop is None else _interrupt_record(stop, output_dir)
                write_failure(output_dir, error, hydra_cfg.overrides.task, interrupt)
            if stop is not None:
                # Ends a sweep too: its later jobs would be stopped alike.
                stop.sweep_dir = hydra_cfg.sweep.dir if sweeping else None
                raise stop from None
            if not sweeping:
                if is_clear(error):
                    # A clear error (bad setting, missing file, unreadable checkpoint, full
                    # disk, divergence): the line above says it; the traceback is in
                    # failed.json.
                    raise SystemExit(2) from None
                raise
            # The sweep goes on; sweepers take None as a failed job (Optuna marks the trial
            # failed) and the sweep report lists it.
            return None


def main(argv: Sequence[str]) -> int:
    """Hand the overrides to Hydra, which parses ``sys.argv`` itself; 1 if a sweep had
    failed jobs, 128 + N if signal N ended the run or the sweep."""
    from ..training.interrupts import RunInterrupted

    sys.argv = ["lite-hrnet train", *argv]
    SweepReport.failed = 0
    try:
        hydra_main()
    except RunInterrupted as stop:
        if stop.sweep_dir is not None:
            report_sweep(stop.sweep_dir)
            print(
                f"lite-hrnet train: the sweep stopped: {stop}; later jobs were not started",
                file=sys.stderr,
            )
        return stop.exit_code
    return 1 if SweepReport.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
